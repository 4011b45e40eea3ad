/**
 * A query text Apollo has accepted once runs again without Apollo's pipeline
 * (src/graphql/accepted-queries.ts). Each test asks a text for the first time (Apollo answers) and
 * then again (the known text): both answers must be the same bytes, and what depends on the
 * caller (scope, numbers, token) must be decided again on every request.
 */
import { parse } from 'graphql'
import { beforeAll, describe, expect, it } from 'vitest'
import { numberLimitedToken } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({
  // The known-text path is off behind the response cache.
  env: { WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false', GRAPHQL_RESPONSE_CACHE_MB: '0' },
})

const SUPPORT = { phoneNumberId: '200000000000333', businessAccountId: '300000000000333', accessToken: 'EAAGsup333' }
let conversationId = 0

beforeAll(async () => {
  for (const [i, content] of ['Hola', 'La garantía cubre', 'Gracias'].entries()) {
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: `+5027100000${i}`, content })
    expect(sent.status).toBe(200)
    conversationId = sent.body.data.conversation.conversation_id
  }
  await ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: 'Otra' })
})

/** One POST /graphql as a dashboard sends it, answered as raw bytes. */
async function ask(
  query: string,
  variables?: unknown,
  opts: { token?: string; headers?: Record<string, string>; operationName?: string } = {},
) {
  const res = await fetch(`${ctx.t.url}/graphql`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${opts.token ?? 'test-token-0123456789abcdef'}`,
      'content-type': 'application/json',
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables, operationName: opts.operationName }),
  })
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    body: await res.text(),
  }
}

/** The first answer (Apollo's) and the next two (the known text's), which must all be the same. */
async function askedThrice(query: string, variables?: unknown, opts?: Parameters<typeof ask>[2]) {
  const first = await ask(query, variables, opts)
  expect(await ask(query, variables, opts)).toEqual(first)
  expect(await ask(query, variables, opts)).toEqual(first)
  return first
}

const LIST = `query List { conversations(first: 20) { edges { node { id phoneNumber lastMessage { id content status createdAt } } } } }`
const FILTERED = `query Filtered($search: String!) { conversations(first: 5, filter: { search: $search }) { totalCount edges { cursor node { id messages(first: 3) { edges { node { id content direction } } } } } pageInfo { hasNextPage endCursor } } }`
const THREAD = `query Thread($id: Int!, $after: String) { conversation(id: $id) { id waId messages(first: 1, after: $after) { edges { cursor node { id content status createdAt sentAt media { id } reactions { emoji } error { code } } } pageInfo { hasNextPage endCursor } } } }`

describe('a query text asked again', () => {
  it('answers the same bytes as the first time: lists, filters, threads, cursors, fragments, operation names', async () => {
    const list = await askedThrice(LIST)
    expect(list.status).toBe(200)
    expect(JSON.parse(list.body).data.conversations.edges).toHaveLength(3)
    const filtered = await askedThrice(FILTERED, { search: 'GARANTÍA' })
    expect(JSON.parse(filtered.body).data.conversations.totalCount).toBe(1)
    expect(JSON.parse((await askedThrice(FILTERED, { search: 'nada así' })).body).data.conversations.edges).toEqual([])

    const page = JSON.parse((await askedThrice(THREAD, { id: conversationId, after: null })).body).data
    expect(page.conversation.messages.edges[0].node.content).toBe('Otra')
    const next = await askedThrice(THREAD, { id: conversationId, after: page.conversation.messages.pageInfo.endCursor })
    expect(JSON.parse(next.body).data.conversation.messages.edges[0].node.content).toBe('Gracias')

    const two = `query A { conversations(first: 1) { ...Row } } query B { conversations(first: 2) { ...Row } } fragment Row on ConversationConnection { edges { node { id } } }`
    const a = await askedThrice(two, undefined, { operationName: 'A' })
    const b = await askedThrice(two, undefined, { operationName: 'B' })
    expect(JSON.parse(a.body).data.conversations.edges).toHaveLength(1)
    expect(JSON.parse(b.body).data.conversations.edges).toHaveLength(2)
  })

  it('answers errors as the first time: a missing conversation, variables that do not fit, a bad cursor', async () => {
    const missing = await askedThrice(THREAD, { id: 987654, after: null })
    expect(JSON.parse(missing.body).errors[0].extensions.code).toBe('NOT_FOUND')
    const wrongType = await askedThrice(THREAD, { id: 'uno', after: null })
    expect(wrongType.status).toBe(400)
    const badCursor = await askedThrice(THREAD, { id: conversationId, after: 'not-a-cursor' })
    expect(JSON.parse(badCursor.body).errors[0].extensions.code).toBe('VALIDATION_FAILED')
  })

  it("checks the caller's token and scope on every request", async () => {
    const ADMIN_ONLY = `query Keys { apiKeys { name } }`
    expect((await ask(ADMIN_ONLY)).status).toBe(200)
    const readKey = await createKey('READ')
    const refused = await askedThrice(ADMIN_ONLY, undefined, { token: readKey })
    expect(refused.status).toBe(403)
    expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('FORBIDDEN')
    expect((await ask(ADMIN_ONLY)).status).toBe(200)

    const unknown = await askedThrice(LIST, undefined, { token: 'not-a-token-0123456789' })
    expect(unknown.status).toBe(401)
  })

  it("reads only the caller's numbers on every request", async () => {
    ctx.meta.addNumber(SUPPORT)
    const added = await ctx.t.gql(
      parse(`mutation($i: AddBusinessNumberInput!) { addBusinessNumber(input: $i) { phoneNumberId } }`) as never,
      { i: SUPPORT },
    )
    expect(added.body.errors).toBeUndefined()
    const limited = await numberLimitedToken(ctx.t, [SUPPORT.phoneNumberId], 'READ')
    expect(JSON.parse((await ask(LIST)).body).data.conversations.edges).toHaveLength(3)
    expect(JSON.parse((await ask(LIST, undefined, { token: limited })).body).data.conversations.edges).toEqual([])
    const other = await ask(THREAD, { id: conversationId, after: null }, { token: limited })
    expect(JSON.parse(other.body).errors[0].extensions.code).toBe('NOT_FOUND')
    expect(JSON.parse((await ask(LIST)).body).data.conversations.edges).toHaveLength(3)
  })

  it('answers another Accept as Apollo does', async () => {
    const accept = { accept: 'application/graphql-response+json' }
    expect((await ask(LIST)).type).toBe('application/json; charset=utf-8')
    const other = await askedThrice(LIST, undefined, { headers: accept })
    expect(other.type).toBe('application/graphql-response+json; charset=utf-8')
  })
})

async function createKey(scope: 'READ' | 'SEND' | 'ADMIN'): Promise<string> {
  const created = await ctx.t.gql(
    parse(`mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }`) as never,
    { i: { name: `k-${scope}-${Date.now()}`, scope } },
  )
  return (created.body.data as { createApiKey: { key: string } }).createApiKey.key
}
