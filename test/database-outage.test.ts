/**
 * The database going away under a running service: every REST path, GraphQL operation and webhook
 * answers 503 DATABASE_UNAVAILABLE with Retry-After (never a 500), /readyz says so, and the service
 * recovers by itself. On PostgreSQL the outage is a TCP proxy that drops every connection and
 * refuses new ones; the embedded database is closed under the service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConversationsDocument, SendTextDocument } from './graphql/generated.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { scratchDatabase, TEST_DATABASE } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

let proxy: TcpProxy | null = null
let conversationId: number

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'appointment_reminder' })] },
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' },
  // On PostgreSQL, the app reaches its database through a proxy the tests cut.
  database: async () => {
    if (TEST_DATABASE.kind !== 'postgres') return undefined
    const database = await scratchDatabase()
    const url = new URL(database.url)
    proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 5432) })
    url.hostname = '127.0.0.1'
    url.port = String(proxy.port)
    return {
      url: url.toString(),
      drop: async () => {
        await proxy?.close()
        await database.drop()
      },
    }
  },
  ignoreCloseError: true, // the embedded database was closed by the test
})
beforeAll(async () => {
  const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'Hola' })
  conversationId = sent.body.data.conversation.conversation_id
  // Asked once before the outage too: a known query text (accepted-queries.ts) must answer it alike.
  expect((await ctx.t.gql(ConversationsDocument, { first: 5 })).status).toBe(200)
})
// Registered after useTestApp, so it runs before the app closes.
afterAll(() => proxy?.restore())

const multipart = () => {
  const form = new FormData()
  form.append('file', new Blob([Buffer.from('%PDF-1.7\n')], { type: 'application/pdf' }), 'a.pdf')
  return form
}

/** Every REST path, as a client calls it. */
const REST_CALLS: [string, string, unknown?][] = [
  ['GET', '/api/whatsapp/conversations'],
  ['GET', '/api/whatsapp/conversations/1/messages'],
  ['POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'Hola' }],
  ['POST', '/api/whatsapp/conversations/1/messages', { content: 'Hola' }],
  ['POST', '/api/whatsapp/conversations/1/read', {}],
  [
    'POST',
    '/api/whatsapp/send-template',
    { templateName: 'appointment_reminder', languageCode: 'es', recipients: [{ phoneNumber: '+50212345678' }] },
  ],
  ['GET', '/api/whatsapp/templates'],
  ['GET', '/api/whatsapp/media/med_AAAAAAAAAAAAAAAAAAAAAA'],
]

async function outageAnswers() {
  const answers: { what: string; status: number; code: unknown; retryAfter: string | null }[] = []
  for (const [method, path, body] of REST_CALLS) {
    const res = await ctx.t.rest(method, path.replace('/1/', `/${conversationId}/`), body)
    answers.push({
      what: `${method} ${path}`,
      status: res.status,
      code: res.body?.error?.code,
      retryAfter: res.headers.get('retry-after'),
    })
  }
  const upload = await fetch(`${ctx.t.url}/api/whatsapp/media`, {
    method: 'POST',
    headers: { authorization: 'Bearer test-token-0123456789abcdef' },
    body: multipart(),
  })
  answers.push({
    what: 'POST /api/whatsapp/media',
    status: upload.status,
    code: ((await upload.json()) as { error?: { code?: string } }).error?.code,
    retryAfter: upload.headers.get('retry-after'),
  })
  for (const [what, call] of [
    ['query conversations', () => ctx.t.gql(ConversationsDocument, { first: 5 })],
    ['mutation sendText', () => ctx.t.gql(SendTextDocument, { input: { phoneNumber: '+50212345678', content: 'x' } })],
  ] as const) {
    const res = await call()
    answers.push({
      what,
      status: res.status,
      code: res.body.errors?.[0]?.extensions?.code,
      retryAfter: res.headers.get('retry-after'),
    })
  }
  const webhook = await postWebhook(ctx.t, inboundText({ from: '50255550001', wamid: 'wamid.OUTAGE', text: 'Hola' }))
  answers.push({
    what: 'POST /webhooks/whatsapp',
    status: webhook.status,
    code: ((await webhook.json()) as { error?: { code?: string } }).error?.code,
    retryAfter: webhook.headers.get('retry-after'),
  })
  return answers
}

const UNAVAILABLE = { status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '5' }

describe(`a database outage (${TEST_DATABASE.kind})`, () => {
  it('answers 503 DATABASE_UNAVAILABLE with Retry-After on every path, operation and webhook; /readyz says so', async () => {
    if (proxy) proxy.cut()
    else await ctx.t.app.database.close()
    const answers = await outageAnswers()
    expect(answers).toEqual(answers.map(({ what }) => ({ what, ...UNAVAILABLE })))
    const ready = await ctx.t.rest('GET', '/readyz', undefined, { token: null })
    expect(ready.status).toBe(503)
    expect(ready.body).toEqual({ status: 'unavailable', reason: 'database unreachable' })
    expect((await ctx.t.rest('GET', '/healthz', undefined, { token: null })).status).toBe(200)
  })

  it.skipIf(TEST_DATABASE.kind !== 'postgres')('recovers by itself once the database is back', async () => {
    proxy!.restore()
    const deadline = Date.now() + 15_000
    let status = 0
    while (Date.now() < deadline && status !== 200) {
      status = (await ctx.t.rest('GET', '/api/whatsapp/conversations')).status
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(status).toBe(200)
    expect((await ctx.t.rest('GET', '/readyz', undefined, { token: null })).status).toBe(200)
    // The webhook refused during the outage is taken when Meta delivers it again.
    const again = await postWebhook(ctx.t, inboundText({ from: '50255550001', wamid: 'wamid.OUTAGE', text: 'Hola' }))
    expect(again.status).toBe(200)
    await ctx.t.app.webhooks.drained()
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'De vuelta' })
    expect(sent.status).toBe(200)
  })
})
