import { describe, expect, it } from 'vitest'
import { keyDigest } from '../src/api-keys/api-key.service.js'
import { tokenPrincipal } from '../src/auth/auth.js'
import {
  ApiKeysDocument,
  ConversationsDocument,
  CreateApiKeyDocument,
  MessageSentByDocument,
  RevokeApiKeyDocument,
} from './graphql/generated.js'
import { until } from './helpers/child-app.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import { API_TOKEN } from './helpers/test-app.js'

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'aviso_tecnico', language: 'es' })] },
  env: { WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' },
})

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

  it('records on every outbound message which key sent it (sentBy, sent_by): sends, fan-outs, scheduled sends', async () => {
    const { key } = await create('despacho', 'SEND')
    const sentBy = async (id: number) => (await ctx.t.gql(MessageSentByDocument, { id })).body.data!.message.sentBy

    const text = await ctx.t.rest(
      'POST',
      '/api/whatsapp/send',
      { phoneNumber: '+50255501111', content: 'Hola' },
      { token: key },
    )
    expect(text.status).toBe(200)
    expect(text.body.data.message.sent_by).toBe('despacho')
    expect(await sentBy(text.body.data.message.message_id)).toBe('despacho')

    const inConversation = await ctx.t.rest(
      'POST',
      `/api/whatsapp/conversations/${text.body.data.conversation.conversation_id}/messages`,
      { content: 'Seguimos' },
    )
    // The configured token sends under its own (non-secret) name.
    expect(inConversation.body.data.sent_by).toBe(tokenPrincipal(API_TOKEN).name)

    await ctx.t.rest('GET', '/api/whatsapp/templates')
    const fanOut = await ctx.t.rest(
      'POST',
      '/api/whatsapp/send-template',
      {
        templateName: 'aviso_tecnico',
        languageCode: 'es',
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
        recipients: [{ phoneNumber: '+50255502222' }, { phoneNumber: '+50255503333' }],
      },
      { token: key },
    )
    expect(fanOut.status).toBe(200)
    const batchId = Number(fanOut.headers.get('x-template-batch-id'))
    const batchMessages = await ctx.t.app.database.prisma.message.findMany({ where: { batchId } })
    expect(batchMessages.map((m) => m.sentBy)).toEqual(['despacho', 'despacho'])

    const later = await ctx.t.rest(
      'POST',
      '/api/whatsapp/send',
      { phoneNumber: '+50255504444', content: 'Recordatorio', sendAt: new Date(Date.now() + 1_500).toISOString() },
      { token: key },
    )
    expect(later.status).toBe(202)
    const scheduledId = later.body.data.scheduled_id as number
    const prisma = ctx.t.app.database.prisma
    await until('the scheduled send to go out', async () => {
      const row = await prisma.scheduledSend.findUnique({ where: { id: scheduledId } })
      return row?.messageId != null
    })
    const row = await prisma.scheduledSend.findUniqueOrThrow({ where: { id: scheduledId } })
    expect(await sentBy(row.messageId!)).toBe('despacho')
  })
})
