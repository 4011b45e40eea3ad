import { describe, expect, it } from 'vitest'
import { keyDigest } from '../src/api-keys/api-key.service.js'
import {
  ApiKeysDocument,
  ConversationsDocument,
  CreateApiKeyDocument,
  RevokeApiKeyDocument,
} from './graphql/generated.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp()

const create = async (name: string, scope: 'READ' | 'SEND' | 'ADMIN', phoneNumberIds?: string[]) => {
  const res = await ctx.t.gql(CreateApiKeyDocument, { input: { name, scope, phoneNumberIds } })
  expect(res.body.errors).toBeUndefined()
  return res.body.data!.createApiKey
}

describe('API keys', () => {
  it('shows a new key once, keeps only its digest, and never lists it', async () => {
    const { key, apiKey } = await create('tablero central', 'READ', ['106540352242922'])
    expect(key).toMatch(/^wag_[\w-]{43}$/)
    expect(apiKey).toMatchObject({ name: 'tablero central', scope: 'READ', phoneNumberIds: ['106540352242922'] })
    expect(apiKey.lastUsedAt).toBeNull()

    const listed = await ctx.t.gql(ApiKeysDocument)
    expect(JSON.stringify(listed.body)).not.toContain(key)
    expect(listed.body.data!.apiKeys).toContainEqual(expect.objectContaining({ name: 'tablero central' }))

    const rows = await ctx.t.app.database.prisma.apiKey.findMany({ where: { name: 'tablero central' } })
    expect(rows).toHaveLength(1)
    expect(rows[0].keyHash).toBe(keyDigest(key))
    expect(JSON.stringify(rows)).not.toContain(key.slice(4))
  })

  it('lets a key in at every door, records its use, and refuses it at once when revoked', async () => {
    const { key } = await create('integracion', 'ADMIN')
    const read = await ctx.t.gql(ConversationsDocument, { first: 1 }, { token: key })
    expect(read.status).toBe(200)
    expect(read.body.errors).toBeUndefined()
    expect((await ctx.t.rest('GET', '/api/whatsapp/conversations', undefined, { token: key })).status).toBe(200)
    await expect
      .poll(async () => (await ctx.t.gql(ApiKeysDocument)).body.data!.apiKeys.find((k) => k.name === 'integracion'))
      .toMatchObject({ lastUsedAt: expect.any(String) })

    const revoked = await ctx.t.gql(RevokeApiKeyDocument, { name: 'integracion' })
    expect(revoked.body.data!.revokeApiKey).toBe(true)
    expect((await ctx.t.gql(RevokeApiKeyDocument, { name: 'integracion' })).body.data!.revokeApiKey).toBe(false)
    expect((await ctx.t.rest('GET', '/api/whatsapp/conversations', undefined, { token: key })).status).toBe(401)
    const refused = await ctx.t.gql(ConversationsDocument, { first: 1 }, { token: key })
    expect(refused.status).toBe(401)
    expect(refused.body.errors![0].extensions!.code).toBe('UNAUTHENTICATED')
  })

  it('refuses a name already taken, an unknown scope and an empty list of numbers', async () => {
    await create('unico', 'SEND')
    const taken = await ctx.t.gql(CreateApiKeyDocument, { input: { name: 'unico', scope: 'SEND' } })
    expect(taken.body.errors![0].extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      fields: [{ path: 'input.name', message: 'is already the name of a key' }],
    })
    const empty = await ctx.t.gql(CreateApiKeyDocument, { input: { name: 'vacio', scope: 'SEND', phoneNumberIds: [] } })
    expect(empty.body.errors![0].extensions!.code).toBe('VALIDATION_FAILED')
  })

  it('keeps API_TOKENS working as ADMIN keys for every number', async () => {
    const res = await ctx.t.gql(ApiKeysDocument)
    expect(res.body.errors).toBeUndefined()
  })
})
