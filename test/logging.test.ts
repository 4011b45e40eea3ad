import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { loggerOptions } from '../src/logging.js'
import { API_TOKEN, startTestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

describe('the log', () => {
  it('is pretty-printed on a developer’s terminal only: JSON lines in production, in tests and when piped', () => {
    const dev = { env: 'development' as const, logLevel: 'info' }
    expect(loggerOptions(dev, { isTTY: true })).toMatchObject({ transport: { target: 'pino-pretty' } })
    for (const [config, isTTY] of [
      [dev, false],
      [{ ...dev, env: 'production' as const }, true],
      [{ ...dev, env: 'test' as const }, true],
    ] as const) {
      expect(loggerOptions(config, { isTTY })).not.toHaveProperty('transport')
    }
    const stream = new Writable({ write: (_chunk, _encoding, done) => done() })
    expect(loggerOptions(dev, { isTTY: true, stream })).toEqual({
      level: 'info',
      stream,
      redact: ['req.headers.authorization', 'req.headers["x-hub-signature-256"]', 'accessToken', '*.accessToken'],
    })
    // The transport runs in a worker that loads it by name: it must be installed.
    expect(() => createRequire(import.meta.url).resolve('pino-pretty')).not.toThrow()
  })
})

describe('logs', () => {
  const ctx = useTestApp({ app: false })

  it('are JSON lines with the request id on each request line and the response, and never a token', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean))
        done()
      },
    })
    const logged = await startTestApp({ meta: ctx.meta, env: { LOG_LEVEL: 'info' }, logStream: stream })
    try {
      const res = await fetch(`${logged.url}/api/whatsapp/send`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${API_TOKEN}`,
          'content-type': 'application/json',
          'x-request-id': 'dash-42',
        },
        body: JSON.stringify({ phoneNumber: '+50212345678', content: 'hola' }),
      })
      expect(res.headers.get('x-request-id')).toBe('dash-42')
      const generated = await logged.rest('GET', '/api/whatsapp/templates')
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await logged.close()
    }
    const records = lines.map((l) => JSON.parse(l))
    const requestLines = records.filter((r) => r.req || r.res)
    expect(requestLines.length).toBeGreaterThanOrEqual(4)
    expect(requestLines.every((r) => typeof r.requestId === 'string')).toBe(true)
    expect(requestLines.some((r) => r.requestId === 'dash-42')).toBe(true)
    const all = lines.join('\n')
    expect(all).not.toContain(API_TOKEN)
    expect(all).not.toContain(ctx.meta.accessToken)
  })
})
