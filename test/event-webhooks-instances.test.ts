/**
 * Event webhooks beyond one healthy process: endpoint addresses in production (no way into the
 * business's network, also at delivery time), giving up after the retry period and re-sending by
 * hand, a process killed mid-delivery (another one delivers it after the lease), and two
 * instances on one PostgreSQL delivering each event once between them.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { Writable } from 'node:stream'
import { print } from 'graphql'
import { afterEach, describe, expect, it } from 'vitest'
import { isNonPublicAddress } from '../src/event-webhooks/endpoint-address.js'
import { EventWebhookSender } from '../src/event-webhooks/event-webhook.sender.js'
import {
  CreateWebhookEndpointDocument,
  RetryWebhookDeliveryDocument,
  WebhookDeliveriesDocument,
} from './graphql/generated.js'
import { type Cleanup, durableDatabase, startChild, until } from './helpers/child-app.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import { API_TOKEN, startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'
import { readmeVerifier, WebhookReceiver } from './helpers/webhook-receiver.js'
import { APP_SECRET, inboundText, metaJson, postWebhook, webhookEnv } from './helpers/webhooks.js'
import { signWebhook } from '../src/meta/meta.webhooks.js'

const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

const FAST = {
  ...webhookEnv,
  WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false',
  WEBHOOK_OUT_RETRY_BASE_MS: '100',
  WEBHOOK_OUT_RETRY_MAX_DELAY_MS: '400',
  WEBHOOK_OUT_POLL_MS: '200',
}

async function app(env: Record<string, string>, databaseUrl?: string): Promise<TestApp> {
  const meta = await FakeMetaServer.start()
  cleanup.push(() => meta.close())
  const t = await startTestApp({ meta, env, databaseUrl })
  cleanup.push(() => t.close())
  return t
}

async function receiver() {
  const r = await WebhookReceiver.start()
  cleanup.push(() => r.close())
  return r
}

async function register(t: TestApp, url: string) {
  const { body } = await t.gql(CreateWebhookEndpointDocument, { input: { url, events: ['message.received'] } })
  expect(body.errors).toBeUndefined()
  return body.data!.createWebhookEndpoint
}

let n = 0
const inbound = (t: TestApp, from: string, text: string) =>
  postWebhook(t, inboundText({ from, wamid: `wamid.inst.${from}.${++n}.${Date.now()}`, text }))

describe('endpoint addresses in production', () => {
  const prodCtx = useTestApp({ env: { NODE_ENV: 'production' } })
  const sharedProd = async () => prodCtx.t
  it.each([
    'https://127.0.0.1/hooks',
    'https://10.1.2.3/hooks',
    'https://172.16.0.1/hooks',
    'https://192.168.0.10/hooks',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1/hooks',
    'https://0.0.0.0/hooks',
    'https://[::1]/hooks',
    'https://[::ffff:127.0.0.1]/hooks',
    'https://[::ffff:a9fe:a9fe]/hooks',
    'https://[fd12:3456::1]/hooks',
    'https://[fe80::1]/hooks',
    'https://localhost/hooks',
    'http://127.0.0.1:8080/hooks',
    'http://93.184.216.34/hooks',
  ])('refuses %s (WEBHOOK_URL_REFUSED)', async (url) => {
    const prod = await sharedProd()
    const res = await prod.gql(CreateWebhookEndpointDocument, { input: { url, events: ['message.received'] } })
    expect(res.status).toBe(200)
    expect(res.body.errors?.[0]?.extensions?.code).toBe('WEBHOOK_URL_REFUSED')
  })

  it('accepts https to a public address', async () => {
    const prod = await sharedProd()
    for (const url of ['https://93.184.216.34/hooks', 'https://[2606:2800:220:1::1]/hooks']) {
      const res = await prod.gql(CreateWebhookEndpointDocument, { input: { url, events: ['message.received'] } })
      expect(res.body.errors).toBeUndefined()
    }
  })

  it('checks the addresses again when connecting: a name that resolves to loopback is never called', async () => {
    const r = await receiver()
    const port = new URL(r.url).port
    const sender = new EventWebhookSender({
      production: true,
      allowPrivateNetworks: false,
      timeoutMs: 2_000,
      endpointConcurrency: 1,
    })
    const delivery = { secret: 'whsec_x', eventId: 'evt_1', eventType: 'message.received', body: '{}' }
    try {
      // As if DNS had answered a public address at registration and 127.0.0.1 now (rebinding).
      const byName = await sender.send({ ...delivery, url: `https://localhost:${port}/hooks` })
      expect(byName).toMatchObject({ ok: false, statusCode: null, error: expect.stringMatching(/EADDRNOTPUBLIC/) })
      const literal = await sender.send({ ...delivery, url: `http://127.0.0.1:${port}/hooks` })
      expect(literal).toMatchObject({ ok: false, error: expect.stringMatching(/not a public address/) })
      expect(r.received).toHaveLength(0)
      // Outside production the same sender configuration calls it (the receiver is fine).
      const dev = new EventWebhookSender({
        production: false,
        allowPrivateNetworks: false,
        timeoutMs: 2_000,
        endpointConcurrency: 1,
      })
      expect(await dev.send({ ...delivery, url: r.url })).toEqual({ ok: true, statusCode: 200 })
      dev.close()
    } finally {
      sender.close()
    }
  })

  it('tells public addresses from the others, IPv4-mapped IPv6 included', () => {
    for (const ip of ['8.8.8.8', '93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8'])
      expect(isNonPublicAddress(ip), ip).toBe(false)
    for (const ip of [
      '127.0.0.53',
      '10.0.0.1',
      '::',
      '::1',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      'fc00::1',
      'fe80::1%eth0',
      '224.0.0.1',
      '255.255.255.255',
      '64:ff9b::a00:1',
      'nonsense',
    ])
      expect(isNonPublicAddress(ip), ip).toBe(true)
  })
})

describe('giving up and re-sending', () => {
  it('marks a delivery failed once its retry period passed, and delivers it when re-sent by hand', async () => {
    const t = await app({ ...FAST, WEBHOOK_OUT_RETRY_FOR_MS: '1500', WEBHOOK_OUT_TIMEOUT_MS: '1000' })
    const r = await receiver()
    r.answer = () => ({ status: 503 })
    const { id } = await register(t, r.url)
    await inbound(t, '50277700001', 'se rinde')
    const failed = async () => {
      const { body } = await t.gql(WebhookDeliveriesDocument, { endpointId: id, status: 'FAILED' })
      return body.data!.webhookDeliveries.edges.map((e) => e.node)
    }
    await until('failed', async () => (await failed()).length === 1, 15_000)
    const [delivery] = await failed()
    expect(delivery.attempts).toBeGreaterThanOrEqual(3)
    expect(delivery.lastStatusCode).toBe(503)
    // Retried until the end of its period, not given up before.
    const row = await t.app.database.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })
    expect(row.lastAttemptAt!.getTime() - row.createdAt.getTime()).toBeGreaterThanOrEqual(1_500 - 50)
    const attemptsBefore = r.received.length
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(r.received.length).toBe(attemptsBefore) // no more attempts once failed

    r.answer = () => ({ status: 200 })
    const retried = await t.gql(RetryWebhookDeliveryDocument, { id: delivery.id })
    expect(retried.body.data!.retryWebhookDelivery.status).toBe('PENDING')
    await until('delivered', async () => {
      const { body } = await t.gql(WebhookDeliveriesDocument, { endpointId: id, status: 'DELIVERED' })
      return body.data!.webhookDeliveries.totalCount === 1
    })
    expect(new Set(r.received.map((x) => x.json.id)).size).toBe(1)
  })
})

describe('the endpoint secret', () => {
  it('never reaches the log, even at trace level with failing attempts', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    const meta = await FakeMetaServer.start()
    cleanup.push(() => meta.close())
    const t = await startTestApp({
      meta,
      env: { ...FAST, LOG_LEVEL: 'trace', WEBHOOK_OUT_TIMEOUT_MS: '500' },
      logStream: stream,
    })
    cleanup.push(() => t.close())
    const r = await receiver()
    r.answer = (_, i) => (i < 2 ? { status: 500 } : 'hang')
    const { secret } = await register(t, r.url)
    await inbound(t, '50277700003', 'secreto')
    await until('three attempts', () => r.received.length >= 3, 10_000)
    await t.gql(WebhookDeliveriesDocument, {})
    const log = lines.join('')
    expect(log).toMatch(/createWebhookEndpoint|graphql/) // the log did see the requests
    expect(log).not.toContain(secret.slice('whsec_'.length))
  })
})

/** A GraphQL operation against a service in another process. */
async function gqlAt<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: print(document), variables }),
  })
  return (await res.json()) as { data?: R; errors?: unknown[] }
}

describe('a process killed mid-delivery', () => {
  it('loses nothing: the next process delivers the event after the lease ran out', async () => {
    const databaseUrl = await durableDatabase(cleanup)
    const env = {
      DATABASE_URL: databaseUrl,
      ...FAST,
      WEBHOOK_OUT_TIMEOUT_MS: '1500',
    }
    const { child, url } = await startChild(env, cleanup)
    const r = await receiver()
    r.answer = (_, i) => (i === 0 ? 'hang' : { status: 200 })
    const created = await gqlAt(url, CreateWebhookEndpointDocument, {
      input: { url: r.url, events: ['message.received'] },
    })
    const { secret } = created.data!.createWebhookEndpoint
    const body = metaJson(inboundText({ from: '50277700002', wamid: 'wamid.killed.1', text: 'a medias' }))
    const posted = await fetch(`${url}/webhooks/whatsapp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhook(body, APP_SECRET) },
      body,
    })
    expect(posted.status).toBe(200)
    await until('the attempt in flight', () => r.received.length === 1)
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited

    const t = await app(env, databaseUrl)
    await until('delivered by the new process', async () => {
      const { body } = await t.gql(WebhookDeliveriesDocument, { status: 'DELIVERED' })
      return body.data?.webhookDeliveries.totalCount === 1
    })
    expect(r.received).toHaveLength(2)
    expect(r.received[1].json.id).toBe(r.received[0].json.id)
    // The lease (twice the timeout plus a second) ran out before it was taken again.
    expect(r.received[1].at - r.received[0].at).toBeGreaterThanOrEqual(1_500)
    const verify = readmeVerifier()
    expect(verify(r.received[1].body, String(r.received[1].headers['x-gateway-signature']), secret)).toBe(true)
  })
})

describe.skipIf(TEST_DATABASE.kind !== 'postgres')('two instances on one PostgreSQL (PostgreSQL only)', () => {
  it('deliver each event once between them, each conversation in order', async () => {
    const a = await app({ ...FAST, WEBHOOK_OUT_TIMEOUT_MS: '5000' })
    const b = await app({ ...FAST, WEBHOOK_OUT_TIMEOUT_MS: '5000' }, a.databaseUrl)
    const r = await receiver()
    // A little slow, so both workers have deliveries in flight at once.
    r.answer = () => ({ status: 200, delayMs: 20 })
    await register(a, r.url)
    const phones = Array.from({ length: 8 }, (_, i) => `5027771${String(i).padStart(4, '0')}`)
    const total = 48
    for (let i = 0; i < total; i++) {
      const res = await inbound(i % 2 ? b : a, phones[i % phones.length], `m${i}`)
      expect(res.status).toBe(200)
    }
    await until('every event', () => new Set(r.received.map((x) => x.json.id)).size === total, 30_000)
    await new Promise((resolve) => setTimeout(resolve, 500)) // no duplicate is on its way
    expect(r.received).toHaveLength(total)
    // Each conversation's events arrived in the order they were recorded.
    const events = await a.app.database.prisma.outboundEvent.findMany({ orderBy: { seq: 'asc' } })
    for (const conversationId of new Set(events.map((e) => e.conversationId))) {
      const recorded = events.filter((e) => e.conversationId === conversationId).map((e) => e.id)
      const arrived = r.received.filter((x) => x.json.data.message.conversation_id === conversationId)
      expect(arrived.map((x) => x.json.id)).toEqual(recorded)
    }
  })
})
