/**
 * The service in a process of its own (`tsx src/main.ts`), for tests that kill it mid-work, and a
 * database that outlives it. Steps to undo go to `cleanup`, run by the caller after each test.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { API_TOKEN, scratchDatabase, TEST_DATABASE } from './test-app.js'
import { PHONE_NUMBER_ID } from './webhooks.js'

const root = path.resolve(import.meta.dirname, '..', '..')

export type Cleanup = (() => Promise<unknown>)[]

/** Starts the service with `env` over the test defaults (NODE_ENV test, silent logs, the test token). */
export async function startChild(
  env: Record<string, string>,
  cleanup: Cleanup,
): Promise<{ child: ChildProcess; url: string }> {
  // Below Linux's ephemeral range (32768+), where outgoing connections (the database's) take ports.
  const port = 21_000 + Math.floor(Math.random() * 9_000)
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(port),
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      API_TOKENS: API_TOKEN,
      // The business number the test webhooks are addressed to (webhooks are routed by it).
      WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
      ...env,
    },
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

/** Kills the child at once (no shutdown), and resolves once it is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

export const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 30_000) => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A database that outlives a process: a scratch PostgreSQL database, or PGlite in a folder. */
export async function durableDatabase(cleanup: Cleanup): Promise<string> {
  if (TEST_DATABASE.kind === 'postgres') {
    const scratch = await scratchDatabase()
    cleanup.push(scratch.drop)
    return scratch.url
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'wa-restart-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return `file:${dir}`
}
