import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MessageAddedDocument, MessageStatusChangedDocument } from './graphql/generated.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'
import { inboundText, postWebhook, statusUpdate, webhookEnv } from './helpers/webhooks.js'

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

describe(`GraphQL subscriptions over graphql-ws (${TEST_DATABASE.kind})`, () => {
  it('messageAdded delivers an inbound webhook message to a dashboard', async () => {
    const sub = t.subscribe(MessageAddedDocument, {})
    await sub.ready()
    await postWebhook(t, inboundText({ from: '50290000001', wamid: 'wamid.LIVE1', text: 'en vivo' }))
    const { data, errors } = await sub.next()
    expect(errors).toBeUndefined()
    expect(data!.messageAdded).toMatchObject({ direction: 'INBOUND', content: 'en vivo', wamid: 'wamid.LIVE1' })
    await sub.close()
  })

  it('messageAdded for one conversation skips the others', async () => {
    const first = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000002', content: 'a' })
    const conversationId = first.body.data.conversation.conversation_id
    const sub = t.subscribe(MessageAddedDocument, { conversationId })
    await sub.ready()
    await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000003', content: 'otra' })
    await t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: 'esta' })
    let { data } = await sub.next()
    // The first send's own event may come after the subscription began (see the status test below).
    if (data!.messageAdded.content === 'a') ({ data } = await sub.next())
    expect(data!.messageAdded).toMatchObject({ conversationId, content: 'esta', direction: 'OUTBOUND' })
    await sub.close()
  })

  it('messageStatusChanged delivers a status webhook', async () => {
    const sent = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000004', content: 'estado' })
    const { wamid, conversation_id: conversationId } = sent.body.data.message
    const sub = t.subscribe(MessageStatusChangedDocument, { conversationId })
    await sub.ready()
    await postWebhook(t, statusUpdate({ wamid, status: 'delivered', to: '50290000004' }))
    let { data } = await sub.next()
    // The send's own change may come first: on PostgreSQL events travel by NOTIFY, which can
    // reach this instance after the REST answer, and so after the subscription began.
    if (data!.messageStatusChanged.status === 'SENT') ({ data } = await sub.next())
    expect(data!.messageStatusChanged).toMatchObject({ wamid, status: 'DELIVERED', deliveredAt: expect.any(String) })
    await sub.close()
  })

  it('refuses a connection without a valid token', async () => {
    const sub = t.subscribe(MessageAddedDocument, {}, { token: 'wrong-token-0123456789' })
    await expect(sub.next()).rejects.toMatchObject({ code: 4403 })
  })

  it.runIf(TEST_DATABASE.kind === 'postgres')(
    'reaches subscribers of another instance sharing the PostgreSQL database',
    async () => {
      const other = await startTestApp({ meta, env: webhookEnv, databaseUrl: t.databaseUrl })
      try {
        const sub = t.subscribe(MessageAddedDocument, {})
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
      const admin = new pg.Client({ connectionString: t.databaseUrl })
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
      const first = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50290000006', content: 'antes' })
      const conversationId = first.body.data.conversation.conversation_id
      const sub = t.subscribe(MessageAddedDocument, { conversationId })
      await sub.ready()
      await dropListener()
      // Published while the connection is down: kept, not dropped.
      const during = await t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, {
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
