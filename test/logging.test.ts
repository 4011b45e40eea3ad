import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { loggerOptions } from '../src/logging.js'

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
      redact: ['req.headers.authorization', 'req.headers["x-hub-signature-256"]'],
    })
    // The transport runs in a worker that loads it by name: it must be installed.
    expect(() => createRequire(import.meta.url).resolve('pino-pretty')).not.toThrow()
  })
})
