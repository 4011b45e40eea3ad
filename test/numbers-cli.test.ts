import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { afterAll, describe, expect, it } from 'vitest'

// `npm run numbers` against an embedded database of its own (the command opens DATABASE_URL as the service does).
const dir = mkdtempSync(path.join(tmpdir(), 'numbers-cli-'))
const env = {
  ...process.env,
  NODE_ENV: 'development',
  DATABASE_URL: `file:${path.join(dir, 'db')}`,
  WHATSAPP_ACCESS_TOKEN: '',
  WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
  WHATSAPP_BUSINESS_ACCOUNT_ID: '102290129340398',
  LOG_LEVEL: 'silent',
}
const numbers = (args: string[], input?: string) =>
  spawnSync('npx', ['tsx', 'src/app/numbers-cli.ts', ...args], { env, input, encoding: 'utf8', timeout: 60_000 })

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('npm run numbers', () => {
  it('adds a number with its token from stdin (stored encrypted) and lists them all, tokens never shown', async () => {
    const added = numbers(
      [
        'add',
        '--phone-number-id',
        '200000000000444',
        '--business-account-id',
        '300000000000444',
        '--access-token-stdin',
        '--messages-per-second',
        '250',
      ],
      'EAAGcli-secret-token\n',
    )
    expect(added.stderr).toBe('')
    expect(added.status).toBe(0)
    expect(added.stdout).toContain('added 200000000000444')

    const list = numbers(['list'])
    expect(list.status).toBe(0)
    expect(list.stdout.trim().split('\n')).toEqual([
      '106540352242922\t102290129340398\t-\t80/s\tshared-token',
      '200000000000444\t300000000000444\t-\t250/s\town-token',
    ])
    expect(list.stdout + added.stdout).not.toContain('EAAGcli-secret-token')

    const db = new PGlite(path.join(dir, 'db'))
    const { rows } = await db.query<{ access_token_ciphertext: string }>(
      `SELECT access_token_ciphertext FROM business_numbers WHERE phone_number_id = '200000000000444'`,
    )
    await db.close()
    expect(rows[0].access_token_ciphertext).toMatch(/^v1:/)
    expect(rows[0].access_token_ciphertext).not.toContain('EAAGcli')
  })

  it('names the flag of an invalid value, and shows its usage for an unknown command', () => {
    const bad = numbers(['add', '--phone-number-id', 'abc', '--business-account-id', '1'])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('--phone-number-id: must be digits')
    const unknown = numbers(['remove'])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain('usage:')
  })
})
