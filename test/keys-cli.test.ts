/**
 * `npm run keys`: create, list and revoke keys against the service's database; and, on the
 * embedded database, a clear refusal while the service holds it.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cleanup, durableDatabase, startChild } from './helpers/child-app.js'
import { startTestApp, TEST_DATABASE } from './helpers/test-app.js'

const root = path.resolve(import.meta.dirname, '..')
const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

/** Runs the command as `npm run keys -- …` does; resolves with its exit code and output. */
const keys = (databaseUrl: string, ...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/app/keys-cli.ts', ...args],
      { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl } },
      (err, stdout, stderr) => resolve({ code: err ? ((err.code as number) ?? 1) : 0, stdout, stderr }),
    ),
  )

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!

describe('npm run keys', () => {
  it('creates a key the service accepts (printed alone on the last line), lists it, and revokes it', async () => {
    const databaseUrl = await durableDatabase(cleanup)
    const created = await keys(
      databaseUrl,
      'create',
      '--name',
      'primer tablero',
      '--scope',
      'SEND',
      '--number',
      '106540352242922',
    )
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    const key = lastLine(created.stdout)
    expect(key).toMatch(/^wag_[\w-]{43}$/)

    const listed = await keys(databaseUrl, 'list')
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/^primer tablero\tSEND\t106540352242922\tcreated \S+\tlast used never$/m)
    expect(listed.stdout).not.toContain(key)

    // On PostgreSQL the service runs beside the command: the key works there, and its revocation reaches it.
    const t = TEST_DATABASE.kind === 'postgres' ? await startTestApp({ databaseUrl }) : null
    if (t) cleanup.push(() => t.close())
    if (t) expect((await t.rest('GET', '/api/whatsapp/conversations', undefined, { token: key })).status).toBe(200)

    const revoked = await keys(databaseUrl, 'revoke', 'primer tablero')
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toMatch(/Revoked primer tablero/)
    if (t) expect((await t.rest('GET', '/api/whatsapp/conversations', undefined, { token: key })).status).toBe(401)
    const again = await keys(databaseUrl, 'revoke', 'primer tablero')
    expect(again.code).toBe(1)
    expect(again.stdout).toMatch(/No key named primer tablero/)
  }, 120_000) // four processes, each compiling src/ with tsx and opening the database

  it.runIf(TEST_DATABASE.kind === 'pglite')(
    'says the embedded database is in use while the service holds it, and exits non-zero',
    async () => {
      const databaseUrl = await durableDatabase(cleanup)
      const { child } = await startChild({ DATABASE_URL: databaseUrl }, cleanup)
      const refused = await keys(databaseUrl, 'list')
      expect(refused.code).not.toBe(0)
      expect(refused.stderr.trim()).toBe(
        `the embedded database (${databaseUrl.slice(5)}) is in use by the running service (pid ${child.pid}); ` +
          'stop it or use DATABASE_URL (PostgreSQL), which several processes can share',
      )
    },
    120_000,
  )
})
