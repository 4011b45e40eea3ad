/**
 * An idempotency key whose request died with its process is not stuck in flight: the request held
 * the key on a lease, and once it lapses the next request with the key takes over, reading the
 * outcome from the message the first one stored. A message Meta may already have is never sent again.
 */
import { afterEach, expect, it } from 'vitest'
import { type Cleanup, durableDatabase, kill, startChild, until } from './helpers/child-app.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { API_TOKEN, startTestApp, type TestApp } from './helpers/test-app.js'
import { postWebhook, statusUpdate, webhookEnv } from './helpers/webhooks.js'

const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

const KEY = 'b7e1c2a4-0f3d-4e55-9a1b-2c3d4e5f6a7b'
const BODY = { phoneNumber: '+50231110001', content: 'Su técnico llega a las 10:00' }

it('takes over a key whose process died mid-send, and never sends the message again', async () => {
  const meta = await FakeMetaServer.start()
  cleanup.push(() => meta.close())
  const databaseUrl = await durableDatabase(cleanup)
  const env = {
    DATABASE_URL: databaseUrl,
    IDEMPOTENCY_LEASE_MS: '1000',
    ...webhookEnv,
    WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false',
    ...meta.env(),
  }
  const { child, url } = await startChild(env, cleanup)
  // Meta takes the message, and its answer never comes back before the process dies.
  meta.acceptThenHang(60_000)
  const first = fetch(`${url}/api/whatsapp/send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': KEY },
    body: JSON.stringify(BODY),
  }).catch((err: unknown) => err)
  await until('Meta to take the message', () => meta.sendsTo('50231110001').length === 1)
  await kill(child)
  expect(await first).toBeInstanceOf(Error)

  const t: TestApp = await startTestApp({ meta, databaseUrl, env })
  cleanup.push(() => t.close())
  const send = () =>
    fetch(`${t.url}/api/whatsapp/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': KEY },
      body: JSON.stringify(BODY),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))

  // Held while the dead request's lease runs (at most IDEMPOTENCY_LEASE_MS), then taken over.
  let res = await send()
  await until('the lease to lapse', async () => (res = await send()).status !== 409, 10_000)
  expect(res.status).toBe(504)
  expect(res.body.error).toMatchObject({ code: 'META_OUTCOME_UNKNOWN', messageId: expect.any(Number) })
  const messageId = res.body.error.messageId as number
  expect(meta.sendsTo('50231110001')).toHaveLength(1) // not sent again

  // Meta's status webhook settles the message (found through our callback data); the key answers with it.
  const wamid = meta.sendsTo('50231110001')[0].wamid
  const hook = await postWebhook(
    t,
    statusUpdate({ wamid, status: 'delivered', to: '50231110001', callbackData: `wa-gateway:message:${messageId}` }),
  )
  expect(hook.status).toBe(200)
  await t.app.webhooks.drained()
  res = await send()
  expect(res.status).toBe(200)
  expect(res.body.data.message).toMatchObject({ message_id: messageId, status: 'delivered', wamid })
  // Settled: kept, and answered again the same way.
  expect(await send()).toEqual(res)
  expect(meta.sendsTo('50231110001')).toHaveLength(1)
}, 120_000)

it('keeps the key while its request runs longer than the lease (the lease is renewed)', async () => {
  const meta = await FakeMetaServer.start()
  cleanup.push(() => meta.close())
  const t = await startTestApp({ meta, env: { IDEMPOTENCY_LEASE_MS: '300' } })
  cleanup.push(() => t.close())
  const send = () =>
    fetch(`${t.url}/api/whatsapp/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': KEY },
      body: JSON.stringify(BODY),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
  meta.stall(1_500) // Meta answers after five leases
  const first = send()
  await until('Meta to be called', () => meta.requests.length > 0)
  await new Promise((resolve) => setTimeout(resolve, 900))
  const during = await send()
  expect(during.status).toBe(409)
  expect(during.body.error.code).toBe('IDEMPOTENCY_KEY_IN_FLIGHT')
  meta.stall(0)
  expect((await first).status).toBe(200)
  expect(meta.sendsTo('50231110001')).toHaveLength(1)
})
