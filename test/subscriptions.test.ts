import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { parse } from 'graphql'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { ConversationsDocument, MessageAddedDocument, MessageStatusChangedDocument } from './graphql/generated.js'
import { startTestApp, TEST_DATABASE } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { inboundText, postWebhook, statusUpdate, webhookEnv } from './helpers/webhooks.js'

const ctx = useTestApp({ env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' } })

describe(`GraphQL subscriptions over graphql-ws (${TEST_DATABASE.kind})`, () => {
  it('messageAdded delivers an inbound webhook message to a dashboard', async () => {
    const sub = ctx.t.subscribe(MessageAddedDocument, {})
    await sub.ready()
    await postWebhook(ctx.t, inboundText({ from: '50290000001', wamid: 'wamid.LIVE1', text: 'en vivo' }))
    const { data, errors } = await sub.next()
    expect(errors).toBeUndefined()
    expect(data!.messageAdded).toMatchObject({ direction: 'INBOUND', content: 'en vivo', wamid: 'wamid.LIVE1' })
    await sub.close()
  })

  it('messageAdded for one conversation skips the others', async () => {
    const first = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000002', content: 'a' })
    const conversationId = first.body.data.conversation.conversation_id
    const sub = ctx.t.subscribe(MessageAddedDocument, { conversationId })
    await sub.ready()
    await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000003', content: 'otra' })
    await ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: 'esta' })
    let { data } = await sub.next()
    // The first send's own event may come after the subscription began (see the status test below).
    if (data!.messageAdded.content === 'a') ({ data } = await sub.next())
    expect(data!.messageAdded).toMatchObject({ conversationId, content: 'esta', direction: 'OUTBOUND' })
    await sub.close()
  })

  it('messageStatusChanged delivers a status webhook', async () => {
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000004', content: 'estado' })
    const { wamid, conversation_id: conversationId } = sent.body.data.message
    const sub = ctx.t.subscribe(MessageStatusChangedDocument, { conversationId })
    await sub.ready()
    await postWebhook(ctx.t, statusUpdate({ wamid, status: 'delivered', to: '50290000004' }))
    let { data } = await sub.next()
    // The send's own change may come first: on PostgreSQL events travel by NOTIFY, which can
    // reach this instance after the REST answer, and so after the subscription began.
    if (data!.messageStatusChanged.status === 'SENT') ({ data } = await sub.next())
    expect(data!.messageStatusChanged).toMatchObject({ wamid, status: 'DELIVERED', deliveredAt: expect.any(String) })
    await sub.close()
  })

  it('refuses a connection without a valid token', async () => {
    const sub = ctx.t.subscribe(MessageAddedDocument, {}, { token: 'wrong-token-0123456789' })
    await expect(sub.next()).rejects.toMatchObject({ code: 4403 })
  })

  it.runIf(TEST_DATABASE.kind === 'postgres')(
    'reaches subscribers of another instance sharing the PostgreSQL database',
    async () => {
      const other = await startTestApp({ meta: ctx.meta, env: webhookEnv, databaseUrl: ctx.t.databaseUrl })
      try {
        const sub = ctx.t.subscribe(MessageAddedDocument, {})
        await sub.ready()
        await postWebhook(other, inboundText({ from: '50290000005', wamid: 'wamid.ACROSS', text: 'desde la otra' }))
        const { data } = await sub.next()
        expect(data!.messageAdded).toMatchObject({ content: 'desde la otra', wamid: 'wamid.ACROSS' })
        await sub.close()
      } finally {
        await other.close()
      }
    },
  )

  describe.runIf(TEST_DATABASE.kind === 'postgres')('when the LISTEN connection drops', () => {
    /** Ends this instance's LISTEN connection from the server side, as a failover or an idle timeout would. */
    const dropListener = async () => {
      const admin = new pg.Client({ connectionString: ctx.t.databaseUrl })
      await admin.connect()
      try {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity
           WHERE application_name = 'wa-gateway events' AND datname = current_database()`,
        )
        expect(rows.length).toBeGreaterThan(0)
      } finally {
        await admin.end()
      }
    }
    const next = <T>(sub: { next(): Promise<T> }) =>
      Promise.race([
        sub.next(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event')), 10_000)),
      ])

    it('tells subscribers to read again, and publishes what was sent meanwhile once it is back', async () => {
      const first = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000006', content: 'antes' })
      const conversationId = first.body.data.conversation.conversation_id
      const sub = ctx.t.subscribe(MessageAddedDocument, { conversationId })
      await sub.ready()
      await dropListener()
      // Published while the connection is down: kept, not dropped.
      const during = await ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, {
        content: 'durante',
      })
      expect(during.status).toBe(200)
      const seen: unknown[] = []
      for (let i = 0; i < 4 && !seen.some((r: any) => r.data?.messageAdded?.content === 'durante'); i++) {
        seen.push(await next(sub))
      }
      expect(seen).toContainEqual({
        data: null,
        errors: [expect.objectContaining({ extensions: { code: 'EVENTS_MISSED' } })],
      })
      expect(seen).toContainEqual({ data: { messageAdded: expect.objectContaining({ content: 'durante' }) } })
      await sub.close()
    })
  })
})

describe('the WebSocket door has the HTTP door’s guards', () => {
  it('refuses a subscription nested deeper than the limit (14 levels; the limit is 12)', async () => {
    const deep = parse(
      'subscription { messageAdded { conversation { messages { edges { node { conversation { messages { edges { node {' +
        ' conversation { messages { edges { node { id } } } } } } } } } } } } } }',
    ) as TypedDocumentNode<unknown, Record<string, never>>
    const sub = ctx.t.subscribe(deep, {})
    await expect(sub.next()).rejects.toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }) }),
    ])
  })

  it('serves only subscriptions', async () => {
    const sub = ctx.t.subscribe(ConversationsDocument, {})
    await expect(sub.next()).rejects.toEqual([
      expect.objectContaining({ message: expect.stringMatching(/Only subscriptions/) }),
    ])
  })
})
