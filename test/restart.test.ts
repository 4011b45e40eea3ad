/**
 * A fan-out survives its process dying: the process is killed (SIGKILL, no shutdown) mid-way, a
 * new one starts on the same database and finishes the batch — sending only to recipients Meta
 * was never called for, so nobody gets the message twice.
 */
import { afterEach, expect, it } from 'vitest'
import { type Cleanup, durableDatabase, startChild, until } from './helpers/child-app.js'
import { FakeMetaServer, metaTemplate } from './helpers/fake-meta.js'
import { API_TOKEN, startTestApp, type TestApp } from './helpers/test-app.js'

const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

it('resumes a fan-out after the process is killed mid-way, without sending anyone twice', async () => {
  const meta = await FakeMetaServer.start({ templates: [metaTemplate({ name: 'aviso' })] })
  cleanup.push(() => meta.close())
  const databaseUrl = await durableDatabase(cleanup)
  const env = {
    DATABASE_URL: databaseUrl,
    WHATSAPP_MESSAGES_PER_SECOND: '20',
    ...meta.env(),
  }
  const { child, url } = await startChild(env, cleanup)

  const to = Array.from({ length: 60 }, (_, i) => `5027600${String(i).padStart(4, '0')}`)
  const request = fetch(`${url}/api/whatsapp/send-template`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      templateName: 'aviso',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      recipients: to.map((n) => ({ phoneNumber: `+${n}` })),
    }),
  }).catch((err: unknown) => err) // the connection dies with the process
  await until('a third of the sends', () => meta.accepted.length >= 20)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  expect(await request).toBeInstanceOf(Error)
  const beforeRestart = meta.accepted.length
  expect(beforeRestart).toBeLessThan(to.length)

  const t: TestApp = await startTestApp({ meta, databaseUrl, env })
  cleanup.push(() => t.close())
  const prisma = t.app.database.prisma
  await until('the batch to complete', async () => (await prisma.templateBatch.findFirst())?.status === 'completed')

  const messages = await prisma.message.findMany({ include: { conversation: true }, orderBy: { id: 'asc' } })
  expect(messages.map((m) => m.conversation.phoneNumber)).toEqual(to)
  expect(meta.accepted.length).toBeGreaterThan(beforeRestart) // the new process did send the rest
  for (const m of messages) {
    const ledger = meta.sendsTo(m.conversation.phoneNumber!)
    expect(ledger.length).toBeLessThanOrEqual(1) // never twice
    if (m.status === 'sent') expect(m.wamid).toBe(ledger[0].wamid)
    else expect(m.status).toBe('unknown') // caught mid-call by the kill: settled by its webhook later
  }
  // Only the few in flight at the kill can be unknown; everyone else was sent, exactly once.
  const unknown = messages.filter((m) => m.status === 'unknown').length
  expect(unknown).toBeLessThanOrEqual(8)
  expect(messages.filter((m) => m.status === 'sent')).toHaveLength(to.length - unknown)
}, 120_000)

it('hands an unfinished fan-out over on a graceful shutdown, and the next start finishes it', async () => {
  const meta = await FakeMetaServer.start({ templates: [metaTemplate({ name: 'aviso' })] })
  cleanup.push(() => meta.close())
  const databaseUrl = await durableDatabase(cleanup)
  const first = await startTestApp({ meta, databaseUrl, env: { WHATSAPP_MESSAGES_PER_SECOND: '10' } })
  const to = Array.from({ length: 30 }, (_, i) => `5027700${String(i).padStart(4, '0')}`)
  const request = first.rest('POST', '/api/whatsapp/send-template', {
    templateName: 'aviso',
    languageCode: 'es',
    components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
    recipients: to.map((n) => ({ phoneNumber: `+${n}` })),
  })
  await until('a few sends', () => meta.accepted.length >= 5)
  await first.close()
  const res = await request
  expect(res.status).toBe(503)
  expect(res.body.error).toMatchObject({ code: 'SERVICE_STOPPING', batchId: expect.any(Number) })
  const beforeRestart = meta.accepted.length
  expect(beforeRestart).toBeLessThan(to.length)

  const second = await startTestApp({ meta, databaseUrl, env: { WHATSAPP_MESSAGES_PER_SECOND: '50' } })
  cleanup.push(() => second.close())
  const prisma = second.app.database.prisma
  await until('the batch to complete', async () => (await prisma.templateBatch.findFirst())?.status === 'completed')
  // A graceful stop lets the calls in flight finish: every recipient is sent, exactly once.
  for (const n of to) expect(meta.sendsTo(n)).toHaveLength(1)
  const statuses = await prisma.message.groupBy({ by: ['status'], _count: { _all: true } })
  expect(statuses).toEqual([{ status: 'sent', _count: { _all: to.length } }])
}, 60_000)
