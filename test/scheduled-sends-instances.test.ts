/**
 * Scheduled sends across restarts and instances: one whose time passed while no instance ran goes
 * out when one is back and says it was late; one due later goes out on time after a restart; one
 * whose instance was killed mid-send is never sent again; two instances on one PostgreSQL send each
 * exactly once, and learn of each other's new sends in time.
 */
import { afterEach, expect, it } from 'vitest'
import { type Cleanup, durableDatabase, kill, startChild, until } from './helpers/child-app.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { API_TOKEN, startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'

const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())))

async function fakeMeta() {
  const meta = await FakeMetaServer.start()
  cleanup.push(() => meta.close())
  return meta
}

async function app(meta: FakeMetaServer, databaseUrl: string, env: Record<string, string> = {}) {
  const t = await startTestApp({ meta, databaseUrl, env })
  cleanup.push(() => t.close())
  return t
}

const scheduleText = async (t: TestApp | string, phoneNumber: string, sendAt: string) => {
  const body = { phoneNumber, content: `Recordatorio para ${phoneNumber}`, sendAt }
  const res =
    typeof t === 'string'
      ? await fetch(`${t}/api/whatsapp/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then(async (r) => ({ status: r.status, body: await r.json() }))
      : await t.rest('POST', '/api/whatsapp/send', body)
  expect(res.status).toBe(202)
  return res.body.data.scheduled_id as number
}

const rowOf = (t: TestApp, id: number) => t.app.database.prisma.scheduledSend.findUniqueOrThrow({ where: { id } })
const settled = (t: TestApp, id: number, ms = 30_000) =>
  until(`scheduled send ${id} to settle`, async () => ['sent', 'failed'].includes((await rowOf(t, id)).status), ms)

it('sends one whose time passed while the service was down when it is back, saying it was late', async () => {
  const meta = await fakeMeta()
  const databaseUrl = await durableDatabase(cleanup)
  const first = await startTestApp({ meta, databaseUrl })
  const missedAt = inMs(1_500)
  const missed = await scheduleText(first, '+50255550201', missedAt)
  // Due after the restart: goes out at its time then, not late.
  const laterAt = inMs(12_000)
  const later = await scheduleText(first, '+50255550202', laterAt)
  await first.close()

  // Down well past the first one's time (late means more than 5 s after it).
  await sleepUntil(new Date(missedAt).getTime() + 6_000)
  expect(meta.sendsTo('50255550201')).toHaveLength(0)
  const second = await app(meta, databaseUrl)
  await settled(second, missed)
  const row = await rowOf(second, missed)
  expect(row).toMatchObject({ status: 'sent', late: true, messageId: expect.any(Number) })
  expect(row.sentAt!.getTime() - row.sendAt.getTime()).toBeGreaterThan(5_000)
  expect(meta.sendsTo('50255550201')).toHaveLength(1)
  const listed = await second.rest('GET', '/api/whatsapp/scheduled?status=sent')
  expect(listed.body.data.find((s: { scheduled_id: number }) => s.scheduled_id === missed)).toMatchObject({
    late: true,
    send_at: missedAt,
    sent_at: row.sentAt!.toISOString(),
  })

  expect(Date.now()).toBeLessThan(new Date(laterAt).getTime()) // the restart was quick enough to test this
  await settled(second, later)
  const [sent] = meta.sendsTo('50255550202')
  expect(sent.at - new Date(laterAt).getTime()).toBeLessThan(1_000)
  expect(sent.at).toBeGreaterThanOrEqual(new Date(laterAt).getTime() - 5)
  expect(await rowOf(second, later)).toMatchObject({ status: 'sent', late: false })
}, 90_000)

it('never sends twice one whose instance was killed while Meta had it: the outcome comes from its message', async () => {
  const meta = await fakeMeta()
  const databaseUrl = await durableDatabase(cleanup)
  const env = {
    DATABASE_URL: databaseUrl,
    IDEMPOTENCY_LEASE_MS: '1500',
    ...meta.env(),
  }
  const { child, url } = await startChild(env, cleanup)
  // Meta takes the send but its answer never comes before the process dies.
  meta.acceptThenHang(60_000, '50255550301')
  const id = await scheduleText(url, '+50255550301', inMs(1_000))
  await until('Meta to take the send', () => meta.sendsTo('50255550301').length === 1)
  await kill(child)

  const t = await app(meta, databaseUrl, env)
  await settled(t, id)
  const row = await rowOf(t, id)
  // As an immediate send whose answer was lost: META_OUTCOME_UNKNOWN, its message settled by Meta's webhook.
  expect(row).toMatchObject({ status: 'failed', errorCode: 'META_OUTCOME_UNKNOWN', messageId: expect.any(Number) })
  const message = await t.app.database.prisma.message.findUniqueOrThrow({ where: { id: row.messageId! } })
  expect(message.content).toBe('Recordatorio para +50255550301')
  // Some time for a wrong second send to show up.
  await new Promise((r) => setTimeout(r, 1_000))
  expect(meta.sendsTo('50255550301')).toHaveLength(1)
}, 120_000)

it.runIf(TEST_DATABASE.kind === 'postgres')(
  'two instances on one PostgreSQL send each scheduled send exactly once, on time',
  async () => {
    const meta = await fakeMeta()
    const a = await app(meta, (await durableDatabase(cleanup)) as string)
    const b = await app(meta, a.databaseUrl)
    const sendAt = inMs(2_000)
    const numbers = Array.from({ length: 20 }, (_, i) => `502555504${String(i).padStart(2, '0')}`)
    const ids = await Promise.all(numbers.map((n, i) => scheduleText(i % 2 ? a : b, `+${n}`, sendAt)))
    for (const id of ids) await settled(a, id)
    for (const n of numbers) expect(meta.sendsTo(n), n).toHaveLength(1)
    const latest = Math.max(...numbers.map((n) => meta.sendsTo(n)[0].at))
    expect(latest - new Date(sendAt).getTime()).toBeLessThan(1_000)
    const rows = await a.app.database.prisma.scheduledSend.findMany({ where: { id: { in: ids } } })
    expect(rows.every((r) => r.status === 'sent' && !r.late)).toBe(true)
  },
  60_000,
)

it.runIf(TEST_DATABASE.kind === 'postgres')(
  'an instance hears of a send another one scheduled (NOTIFY) and sends it on time when that one is gone',
  async () => {
    const meta = await fakeMeta()
    // Polls too rare to matter: only the wake-up can make it on time.
    const env = { SCHEDULED_SENDS_POLL_MS: '600000' }
    const a = await startTestApp({ meta, databaseUrl: (await durableDatabase(cleanup)) as string, env })
    const b = await app(meta, a.databaseUrl, env)
    const sendAt = inMs(2_500)
    const id = await scheduleText(a, '+50255550501', sendAt)
    await a.close()
    await settled(b, id)
    const [sent] = meta.sendsTo('50255550501')
    expect(sent.at - new Date(sendAt).getTime()).toBeLessThan(1_000)
    expect(await rowOf(b, id)).toMatchObject({ status: 'sent', late: false })
  },
  60_000,
)
