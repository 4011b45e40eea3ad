/**
 * `npm start` as a newcomer runs it: no configuration at all. Spawns the README's start command
 * (which builds dist/ and then runs the compiled service).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '..')
let child: ChildProcess | undefined
const dirs: string[] = []

// A first build takes several seconds (more on a busy machine); the start script's own build is
// then an incremental no-op and each test times the start itself.
beforeAll(() => {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' })
})

afterEach(async () => {
  child?.kill('SIGTERM')
  child = undefined
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

function start(env: Record<string, string>) {
  const output: string[] = []
  // The start script itself, as npm runs it (`sh -c`); it execs node, so signals reach the service
  // as they would under a process manager.
  const script = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start
  child = spawn('sh', ['-c', script], {
    cwd: root,
    env: { PATH: `${path.join(root, 'node_modules/.bin')}:${process.env.PATH}`, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()))
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()))
  const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)))
  const waitFor = async (pattern: RegExp) => {
    for (let i = 0; i < 900; i++) {
      const match = pattern.exec(output.join(''))
      if (match) return match
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`timed out waiting for ${pattern}; output:\n${output.join('')}`)
  }
  return { output, exited, waitFor }
}

describe('npm start', () => {
  it('starts with no configuration: simulator mode, a printed dev token, and a working API', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wa-start-'))
    dirs.push(dir)
    const port = 40_000 + Math.floor(Math.random() * 10_000)
    const app = start({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `file:${dir}` })
    const [, token] = await app.waitFor(/development token\s+(dev_[0-9a-f]{32})/)
    await app.waitFor(/GraphQL \(Apollo Sandbox/)
    expect(app.output.join('')).toMatch(/SIMULATOR MODE/)

    const res = await fetch(`http://127.0.0.1:${port}/api/whatsapp/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber: '+50212345678', content: 'Hola' }),
    })
    expect(res.status).toBe(200)
    expect((await res.json()).data.message.wamid).toMatch(/^wamid\./)
    expect(app.output.join('')).not.toContain('"authorization"')

    child!.kill('SIGTERM')
    expect(await app.exited).toBe(0)
    // `npm start` compiles the whole project first (tsc): over 30 s while other test files use the cores.
  }, 90_000)

  it('stops with one clear line per configuration problem', async () => {
    const app = start({ NODE_ENV: 'production', PORT: 'x' })
    expect(await app.exited).toBe(1)
    const lines = app.output.join('').trim().split('\n')
    expect(lines).toEqual([expect.stringMatching(/^config: PORT: /)])
    const prod = start({ NODE_ENV: 'production' })
    expect(await prod.exited).toBe(1)
    expect(prod.output.join('').trim().split('\n')).toEqual([
      expect.stringMatching(/^config: API_TOKENS: required in production/),
      expect.stringMatching(/^config: WHATSAPP_ACCESS_TOKEN: required in production/),
    ])
  }, 90_000)
})
