/**
 * A fan-out survives its process dying: the process is killed (SIGKILL, no shutdown) mid-way, a
 * new one starts on the same database and finishes the batch — sending only to recipients Meta
 * was never called for, so nobody gets the message twice.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FakeMetaServer, metaTemplate } from './helpers/fake-meta.js'
import { API_TOKEN, scratchDatabase, startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'

const root = path.resolve(import.meta.dirname, '..')
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

async function startChild(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = 41_000 + Math.floor(Math.random() * 9_000)
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  cleanup.push(async () => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)))
  let exited: number | string | null = null
  child.once('exit', (code, signal) => (exited = code ?? signal))
  const url = `http://127.0.0.1:${port}`
  // A new PGlite folder is initialised (initdb) and migrated, and tsx compiles src/ on the way: on
  // a busy 2-core machine, with the other test files running, that has taken over 30 s.
  const started = Date.now()
  while (Date.now() - started < 60_000) {
    if (exited !== null) throw new Error(`the child service exited (${exited}) before it was ready: ${stderr}`)
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) return { child, url }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the child service did not become ready in 60 s: ${stderr}`)
}

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 30_000) => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A database that outlives a process: a scratch PostgreSQL database, or PGlite in a folder. */
async function durableDatabase(): Promise<string> {
  if (TEST_DATABASE.kind === 'postgres') {
    const scratch = await scratchDatabase()
    cleanup.push(scratch.drop)
    return scratch.url
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'wa-restart-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return `file:${dir}`
}

it('resumes a fan-out after the process is killed mid-way, without sending anyone twice', async () => {
  const meta = await FakeMetaServer.start({ templates: [metaTemplate({ name: 'aviso' })] })
  cleanup.push(() => meta.close())
  const databaseUrl = await durableDatabase()
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    API_TOKENS: API_TOKEN,
    DATABASE_URL: databaseUrl,
    WHATSAPP_MESSAGES_PER_SECOND: '20',
    ...meta.env(),
  }
  const { child, url } = await startChild(env)

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

  const { LOG_LEVEL: _, ...restartEnv } = env
  const t: TestApp = await startTestApp({ meta, databaseUrl, env: restartEnv })
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
  const databaseUrl = await durableDatabase()
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
