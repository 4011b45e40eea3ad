import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { parse } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConversationDocument, ConversationsDocument } from './graphql/generated.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { nodes, startTestApp, type TestApp } from './helpers/test-app.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

let meta: FakeMetaServer
let t: TestApp

beforeAll(async () => {
  meta = await FakeMetaServer.start()
  t = await startTestApp({ meta, env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' } })
})
afterAll(async () => {
  await t?.close()
  await meta?.close()
})

const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url')

describe('inputs PostgreSQL cannot hold are refused with field errors, never 500', () => {
  it('a NUL character anywhere', async () => {
    const conversations = await t.app.database.prisma.conversation.count()
    const send = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'a\u0000b' })
    expect(send.status).toBe(422)
    expect(send.body.error.fields).toEqual([{ path: 'content', message: expect.stringContaining('NUL') }])
    expect(await t.app.database.prisma.conversation.count()).toBe(conversations)
    const search = await t.rest('GET', '/api/whatsapp/conversations?search=%00ab')
    expect(search.status).toBe(422)
    expect(search.body.error.fields[0].path).toBe('search')
  })

  it.each([
    ['a time past the Date range', cursor([1e300, 1])],
    ['a negative time', cursor([-1e15, 1])],
    ['an id over int4', cursor([null, 3_000_000_000])],
  ])('a cursor with %s', async (_what, after) => {
    const res = await t.rest('GET', `/api/whatsapp/conversations?after=${after}`)
    expect(res.status).toBe(422)
    expect(res.body.error.fields[0].path).toBe('after')
  })

  it('a message cursor over int4, and a date out of range', async () => {
    const sent = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'hola' })
    const id = sent.body.data.conversation.conversation_id
    const messages = await t.gql(ConversationDocument, { id, after: cursor([3_000_000_000]) })
    expect(messages.body.errors![0].extensions).toMatchObject({ code: 'VALIDATION_FAILED' })
    const since = await t.rest('GET', '/api/whatsapp/conversations?updatedSince=-100000-01-01T00:00:00Z')
    expect(since.status).toBe(422)
  })

  it('a malformed URL gets the documented error shape', async () => {
    const res = await t.rest('GET', '/api/whatsapp/conversations/%E0%A4%A/messages')
    expect(res.status).toBe(400)
    expect(res.body).toEqual({ success: false, error: { code: 'MALFORMED_REQUEST', message: expect.any(String) } })
  })
})

describe('the WebSocket door has the HTTP door’s guards', () => {
  it('refuses a subscription nested deeper than the limit (14 levels; the limit is 12)', async () => {
    const deep = parse(
      'subscription { messageAdded { conversation { messages { edges { node { conversation { messages { edges { node {' +
        ' conversation { messages { edges { node { id } } } } } } } } } } } } } }',
    ) as TypedDocumentNode<unknown, Record<string, never>>
    const sub = t.subscribe(deep, {})
    await expect(sub.next()).rejects.toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }) }),
    ])
  })

  it('serves only subscriptions', async () => {
    const sub = t.subscribe(ConversationsDocument, {})
    await expect(sub.next()).rejects.toEqual([
      expect.objectContaining({ message: expect.stringMatching(/Only subscriptions/) }),
    ])
  })
})

describe('last message under concurrency', () => {
  it('is the newest stored message after concurrent sends and inbound messages', async () => {
    const first = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50266660000', content: 'start' })
    const conversationId = first.body.data.conversation.conversation_id
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) =>
        t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: `out${i}` }),
      ),
      ...Array.from({ length: 6 }, (_, i) =>
        postWebhook(t, inboundText({ from: '50266660000', wamid: `wamid.CONC${i}`, text: `in${i}` })),
      ),
    ])
    await t.app.webhooks.drained()
    const newest = await t.app.database.prisma.message.findFirst({ where: { conversationId }, orderBy: { id: 'desc' } })
    const { body } = await t.gql(ConversationsDocument, { filter: { phoneNumber: '50266660000' } })
    expect(nodes(body.data!.conversations)[0].lastMessage!.id).toBe(newest!.id)
    expect(nodes(body.data!.conversations)[0].messageCount).toBe(13)
  })
})
