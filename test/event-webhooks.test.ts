/**
 * Event webhooks to the business's endpoints: registration and URL checks, the events and their
 * bodies, signatures checked the way the README tells receivers, retries (non-2xx, timeouts, late
 * answers, refused connections) with backoff, order per conversation, a slow endpoint not holding
 * up the others, the deliveries query, and manual resends. Real HTTP to the app and to a receiving
 * endpoint on a loopback port.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  DisableWebhookEndpointDocument,
  ResendWebhookEventDocument,
  RetryWebhookDeliveryDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
  type WebhookDeliveryStatus,
} from './graphql/generated.js'
import { until } from './helpers/child-app.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import type { TestApp } from './helpers/test-app.js'
import { readmeVerifier, refusedUrl, WebhookReceiver } from './helpers/webhook-receiver.js'
import { inboundText, postWebhook, statusUpdate, templateStatus, webhookEnv } from './helpers/webhooks.js'

const TIMEOUT_MS = 1000
const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'aviso_servicio' })] },
  env: {
    ...webhookEnv,
    WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false',
    WEBHOOK_OUT_TIMEOUT_MS: String(TIMEOUT_MS),
    WEBHOOK_OUT_RETRY_BASE_MS: '100',
    WEBHOOK_OUT_RETRY_MAX_DELAY_MS: '800',
    WEBHOOK_OUT_POLL_MS: '200',
    // Few slots, so that an endpoint taking more than its share would starve the others here.
    WEBHOOK_OUT_CONCURRENCY: '8',
    WEBHOOK_OUT_ENDPOINT_CONCURRENCY: '4',
  },
})

const verify = readmeVerifier()
const receivers: WebhookReceiver[] = []
const receiver = async () => {
  const r = await WebhookReceiver.start()
  receivers.push(r)
  return r
}

// Each test's endpoints and receivers go with it, so no endpoint of one test gets another's events.
afterEach(async () => {
  const { body } = await ctx.t.gql(WebhookEndpointsDocument)
  for (const e of body.data?.webhookEndpoints ?? []) await ctx.t.gql(DeleteWebhookEndpointDocument, { id: e.id })
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

async function register(url: string, events = ['message.received'], t: TestApp = ctx.t) {
  const { body } = await t.gql(CreateWebhookEndpointDocument, { input: { url, events } })
  expect(body.errors).toBeUndefined()
  return body.data!.createWebhookEndpoint
}

let seq = 0
const nextPhone = () => `502777${String(++seq).padStart(5, '0')}`
async function inbound(from: string, text: string, t: TestApp = ctx.t) {
  const res = await postWebhook(t, inboundText({ from, wamid: `wamid.evt.${from}.${++seq}`, text }))
  expect(res.status).toBe(200)
}

async function deliveries(endpointId: number, status?: WebhookDeliveryStatus) {
  const { body } = await ctx.t.gql(WebhookDeliveriesDocument, { endpointId, status, first: 100 })
  expect(body.errors).toBeUndefined()
  return body.data!.webhookDeliveries.edges.map((e) => e.node)
}

/** The 2xx-answered requests' bodies, in the order they were answered. */
const successes = (r: WebhookReceiver, statusOf: (i: number) => number) =>
  r.received.filter((_, i) => statusOf(i) < 300)

describe('registering endpoints', () => {
  it('answers the id and a whsec_ secret once; lists endpoints without their secret', async () => {
    const r = await receiver()
    const created = await register(r.url, ['message.received', 'message.status', 'message.received'])
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/)
    expect(created.endpoint).toMatchObject({ id: created.id, url: r.url, enabled: true })
    expect(created.endpoint.events).toEqual(['message.received', 'message.status'])
    const { body } = await ctx.t.gql(WebhookEndpointsDocument)
    expect(body.data!.webhookEndpoints.map((e) => e.id)).toEqual([created.id])
    expect(JSON.stringify(body)).not.toContain(created.secret)
    const stored = await ctx.t.app.database.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: created.id } })
    expect(stored.secret).toBe(created.secret)
  })

  it.each([
    ['not a URL', 'no-scheme', 'WEBHOOK_URL_REFUSED'],
    ['ftp', 'ftp://127.0.0.1/hooks', 'WEBHOOK_URL_REFUSED'],
    ['http to a non-loopback host', 'http://example.com/hooks', 'WEBHOOK_URL_REFUSED'],
    ['http to a private address', 'http://10.0.0.5/hooks', 'WEBHOOK_URL_REFUSED'],
    ['credentials in the URL', 'https://user:pass@example.com/hooks', 'WEBHOOK_URL_REFUSED'],
    ['an empty URL', '', 'VALIDATION_FAILED'],
  ])('refuses %s with a stable code, never a 500', async (_, url, code) => {
    const res = await ctx.t.gql(CreateWebhookEndpointDocument, { input: { url, events: ['message.received'] } })
    expect(res.status).toBe(200)
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code })
    expect(res.body.errors![0].extensions!.fields[0].path).toBe('input.url')
  })

  it.each([[[]], [['message.recieved']], [['MESSAGE_RECEIVED', 'message.status']]])(
    'refuses the event types %j (VALIDATION_FAILED naming input.events)',
    async (events) => {
      const res = await ctx.t.gql(CreateWebhookEndpointDocument, { input: { url: 'http://127.0.0.1:9/x', events } })
      expect(res.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED')
      expect(res.body.errors![0].extensions!.fields[0].path).toMatch(/^input\.events/)
    },
  )

  it('accepts http to loopback outside production (127.0.0.1, [::1], localhost)', async () => {
    for (const url of ['http://127.0.0.1:9/a', 'http://[::1]:9/b', 'http://localhost:9/c'])
      expect((await register(url)).id).toBeGreaterThan(0)
  })

  it('updates, disables and deletes; checks the new URL; NOT_FOUND for an unknown id', async () => {
    const r = await receiver()
    const { id } = await register(r.url)
    const updated = await ctx.t.gql(UpdateWebhookEndpointDocument, {
      id,
      input: { events: ['batch.completed'], url: `${r.url}/v2` },
    })
    expect(updated.body.data!.updateWebhookEndpoint).toMatchObject({ events: ['batch.completed'], url: `${r.url}/v2` })
    const refused = await ctx.t.gql(UpdateWebhookEndpointDocument, { id, input: { url: 'http://192.168.1.10/x' } })
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('WEBHOOK_URL_REFUSED')
    const disabled = await ctx.t.gql(DisableWebhookEndpointDocument, { id })
    expect(disabled.body.data!.disableWebhookEndpoint.enabled).toBe(false)
    const missing = await ctx.t.gql(UpdateWebhookEndpointDocument, { id: 999_999, input: { enabled: true } })
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
    expect((await ctx.t.gql(DeleteWebhookEndpointDocument, { id })).body.data!.deleteWebhookEndpoint).toBe(true)
    const again = await ctx.t.gql(DeleteWebhookEndpointDocument, { id })
    expect(again.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
  })

  it('needs a bearer token', async () => {
    const res = await ctx.t.gql(WebhookEndpointsDocument, undefined, { token: null })
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })
})

describe('events and their bodies', () => {
  it('sends message.received with the message and its conversation, signed as the README verifies', async () => {
    const r = await receiver()
    const { id, secret } = await register(r.url, ['message.received'])
    const phone = nextPhone()
    await inbound(phone, 'Confirmar')
    await until('the event', () => r.received.length === 1, 10_000)
    const [got] = r.received
    expect(got.headers['content-type']).toBe('application/json')
    expect(got.headers['x-gateway-event-id']).toBe(got.json.id)
    expect(got.json).toMatchObject({ type: 'message.received', id: expect.stringMatching(/^evt_/) })
    expect(new Date(got.json.created_at).toISOString()).toBe(got.json.created_at)
    expect(got.json.data.message).toMatchObject({ content: 'Confirmar', direction: 'inbound', message_type: 'text' })
    expect(got.json.data.conversation).toMatchObject({
      phone_number: phone,
      request_id: null,
      conversation_id: got.json.data.message.conversation_id,
    })
    expect(got.json.data.conversation.service_window_expires_at).not.toBeNull()
    const signature = String(got.headers['x-gateway-signature'])
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
    expect(verify(got.body, signature, secret)).toBe(true)
    expect(verify(got.body, signature, `${secret}x`)).toBe(false)
    expect(verify(got.body.replace('Confirmar', 'Cancelar'), signature, secret)).toBe(false)
    // Too old a timestamp is refused by the README's tolerance (a replayed request).
    const t = Number(/t=(\d+)/.exec(signature)![1])
    const { createHmac } = await import('node:crypto')
    const old = `t=${t - 600},v1=${createHmac('sha256', secret)
      .update(`${t - 600}.${got.body}`)
      .digest('hex')}`
    expect(verify(got.body, old, secret)).toBe(false)
    await until('delivered', async () => (await deliveries(id))[0]?.status === 'DELIVERED')
    const [delivery] = await deliveries(id)
    expect(delivery).toMatchObject({ eventId: got.json.id, attempts: 1, lastStatusCode: 200, payload: got.body })
  })

  it('sends message.status once per status reached, with Meta’s error for a failure', async () => {
    const r = await receiver()
    await register(r.url, ['message.status'])
    const phone = nextPhone()
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: `+${phone}`, content: 'Hola' })
    expect(sent.status).toBe(200)
    const { wamid, message_id: messageId } = sent.body.data.message
    for (const status of ['sent', 'delivered', 'delivered', 'read', 'sent'])
      expect((await postWebhook(ctx.t, statusUpdate({ wamid, status }))).status).toBe(200)
    await ctx.t.app.webhooks.drained()
    await until('three statuses', () => r.received.length >= 3, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 300)) // no fourth one comes
    expect(r.received.map((x) => x.json.data.status)).toEqual(['sent', 'delivered', 'read'])
    expect(r.received[2].json.data.message).toMatchObject({ message_id: messageId, status: 'read', wamid })

    const other = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: `+${nextPhone()}`, content: 'Hola' })
    const otherWamid = other.body.data.message.wamid
    await postWebhook(ctx.t, statusUpdate({ wamid: otherWamid, status: 'failed', errorCode: 131026 }))
    await until('the failure', () => r.received.length === 4, 10_000)
    expect(r.received[3].json.data).toMatchObject({
      status: 'failed',
      error: { code: 131026, title: 'Re-engagement message' },
      message: { status: 'failed' },
    })
  })

  it('sends template.status when Meta pauses a template, and batch.completed after a fan-out', async () => {
    const r = await receiver()
    await register(r.url, ['template.status', 'batch.completed'])
    const fanOut = await ctx.t.rest('POST', '/api/whatsapp/send-template', {
      templateName: 'aviso_servicio',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      recipients: [{ phoneNumber: `+${nextPhone()}` }, { phoneNumber: `+${nextPhone()}` }],
    })
    expect(fanOut.status).toBe(200)
    await until('batch.completed', () => r.of('batch.completed').length === 1, 10_000)
    expect(r.of('batch.completed')[0].json.data.batch).toMatchObject({
      batch_id: Number(fanOut.headers.get('x-template-batch-id')),
      template_name: 'aviso_servicio',
      status: 'completed',
      total: 2,
      progress: { sent: 2, failed: 0 },
    })
    await postWebhook(ctx.t, templateStatus('aviso_servicio', 'es', 'PAUSED'))
    await until('template.status', () => r.of('template.status').length === 1, 10_000)
    expect(r.of('template.status')[0].json.data).toEqual({
      template: { name: 'aviso_servicio', language: 'es', status: 'PAUSED' },
    })
    // The templates table moved too (the existing handling).
    const row = await ctx.t.app.database.prisma.template.findFirst({ where: { name: 'aviso_servicio' } })
    expect(row?.status).toBe('PAUSED')
    await postWebhook(ctx.t, templateStatus('aviso_servicio', 'es', 'APPROVED'))
  })

  it('records nothing while no enabled endpoint wants the type', async () => {
    const r = await receiver()
    const { id } = await register(r.url, ['batch.completed'])
    const before = await ctx.t.app.database.prisma.outboundEvent.count()
    await inbound(nextPhone(), 'nadie lo quiere')
    await ctx.t.app.webhooks.drained()
    expect(await ctx.t.app.database.prisma.outboundEvent.count()).toBe(before)
    await ctx.t.gql(UpdateWebhookEndpointDocument, { id, input: { events: ['message.received'], enabled: false } })
    await inbound(nextPhone(), 'desactivado')
    await ctx.t.app.webhooks.drained()
    expect(await ctx.t.app.database.prisma.outboundEvent.count()).toBe(before)
    expect(r.received).toHaveLength(0)
  })
})

describe('at least once, in order', () => {
  it('retries a 500 with backoff and keeps a conversation’s later events waiting until the first is delivered', async () => {
    const r = await receiver()
    const statuses: number[] = []
    r.answer = (_, i) => ({ status: (statuses[i] = i < 3 ? 500 : 200) })
    const { id } = await register(r.url)
    const phone = nextPhone()
    // Each applied before the next arrives: webhooks Meta sends at once are applied concurrently,
    // and "the order they happened" is the order the gateway applied them.
    for (let i = 1; i <= 5; i++) {
      await inbound(phone, `mensaje ${i}`)
      await ctx.t.app.webhooks.drained()
    }
    await until('five delivered', () => successes(r, (i) => statuses[i]).length === 5, 15_000)
    // Before the first event got its 2xx, nothing else of the conversation was sent.
    expect(r.received.slice(0, 4).map((x) => x.json.data.message.content)).toEqual(Array(4).fill('mensaje 1'))
    expect(successes(r, (i) => statuses[i]).map((x) => x.json.data.message.content)).toEqual(
      [1, 2, 3, 4, 5].map((i) => `mensaje ${i}`),
    )
    // Every attempt of one event carries the same event id.
    expect(new Set(r.received.slice(0, 4).map((x) => x.headers['x-gateway-event-id'])).size).toBe(1)
    // Backoff: each retry waited at least half its nominal wait (100, 200, 400 ms, jitter ±50 %).
    const gaps = [1, 2, 3].map((i) => r.received[i].at - r.received[i - 1].at)
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(100 * 2 ** i * 0.5 - 20))
    const first = (await deliveries(id)).at(-1)!
    expect(first).toMatchObject({ status: 'DELIVERED', attempts: 4, lastStatusCode: 200, lastError: null })
  })

  it('counts a timeout and a late answer as failed, and delivers again (same event id)', async () => {
    const r = await receiver()
    r.answer = (_, i) => (i === 0 ? 'hang' : i === 1 ? { status: 200, delayMs: TIMEOUT_MS * 3 } : { status: 204 })
    const { id, secret } = await register(r.url)
    await inbound(nextPhone(), 'tarde')
    await until('delivered', async () => (await deliveries(id))[0]?.status === 'DELIVERED', 15_000)
    expect(r.received).toHaveLength(3)
    expect(new Set(r.received.map((x) => x.json.id)).size).toBe(1)
    for (const x of r.received) expect(verify(x.body, String(x.headers['x-gateway-signature']), secret)).toBe(true)
    expect(r.received[1].at - r.received[0].at).toBeGreaterThanOrEqual(TIMEOUT_MS - 20)
    const [delivery] = await deliveries(id)
    expect(delivery).toMatchObject({ attempts: 3, lastStatusCode: 204 })
  })

  it('retries a refused connection until the endpoint listens', async () => {
    const url = await refusedUrl()
    const { id } = await register(url)
    await inbound(nextPhone(), 'nadie escucha')
    await until('two failed attempts', async () => ((await deliveries(id))[0]?.attempts ?? 0) >= 2, 10_000)
    const [pending] = await deliveries(id, 'PENDING')
    expect(pending.lastError).toMatch(/ECONNREFUSED/)
    expect(pending.lastStatusCode).toBeNull()
    expect(new Date(pending.nextAttemptAt!).getTime()).toBeGreaterThan(Date.now() - 1_000)
    const got: string[] = []
    const server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        got.push(body)
        res.end()
      })
    })
    await new Promise<void>((resolve) => server.listen(Number(new URL(url).port), '127.0.0.1', resolve))
    try {
      await until('delivered', async () => (await deliveries(id))[0]?.status === 'DELIVERED', 10_000)
      expect(JSON.parse(got[0]).data.message.content).toBe('nadie escucha')
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('lets a dead endpoint hold up neither ingest nor the other endpoints', async () => {
    const dead = await receiver()
    dead.answer = () => 'hang'
    const healthy = await receiver()
    await register(dead.url)
    await register(healthy.url)
    const phones = Array.from({ length: 12 }, nextPhone)
    const answered: number[] = []
    await Promise.all(
      phones.map(async (p) => {
        const t0 = Date.now()
        await inbound(p, 'hola')
        answered.push(Date.now() - t0)
      }),
    )
    // Ingest answers without waiting for any endpoint (an attempt at the dead one takes the whole timeout).
    expect(Math.max(...answered)).toBeLessThan(TIMEOUT_MS)
    await until('the healthy endpoint has every event', () => healthy.received.length === 12, 10_000)
    // All before the dead endpoint's first attempt even timed out: it held only its own 4 slots.
    expect(dead.received.length).toBeGreaterThan(0)
    expect(healthy.received.at(-1)!.at).toBeLessThan(dead.received[0].at + TIMEOUT_MS)
    expect(dead.received.length).toBeLessThanOrEqual(4)
  })
})

describe('the deliveries query and resends', () => {
  it('pages deliveries newest first with cursors, filters by status, and resends an event by hand', async () => {
    const r = await receiver()
    const { id } = await register(r.url)
    for (let i = 0; i < 3; i++) await inbound(nextPhone(), `paginado ${i}`)
    await until('three delivered', async () => (await deliveries(id, 'DELIVERED')).length === 3, 10_000)
    const page1 = await ctx.t.gql(WebhookDeliveriesDocument, { endpointId: id, first: 2 })
    const c1 = page1.body.data!.webhookDeliveries
    expect(c1.totalCount).toBe(3)
    expect(c1.pageInfo.hasNextPage).toBe(true)
    const page2 = await ctx.t.gql(WebhookDeliveriesDocument, { endpointId: id, first: 2, after: c1.pageInfo.endCursor })
    const all = [...c1.edges, ...page2.body.data!.webhookDeliveries.edges].map((e) => e.node.id)
    expect(all).toEqual([...all].sort((a, b) => b - a))
    expect(new Set(all).size).toBe(3)
    expect(await deliveries(id, 'FAILED')).toEqual([])
    const bad = await ctx.t.gql(WebhookDeliveriesDocument, { endpointId: id, after: 'garbage' })
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED')

    const oldest = (await deliveries(id)).at(-1)!
    const resent = await ctx.t.gql(ResendWebhookEventDocument, { eventId: oldest.eventId })
    expect(resent.body.data!.resendWebhookEvent).toEqual([{ id: oldest.id, endpointId: id, status: 'PENDING' }])
    await until('sent again', () => r.received.filter((x) => x.json.id === oldest.eventId).length === 2, 10_000)
    const unknown = await ctx.t.gql(RetryWebhookDeliveryDocument, { id: 999_999 })
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
  })
})
