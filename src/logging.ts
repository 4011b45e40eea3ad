import type { Writable } from 'node:stream'
import type { Config } from './config.js'

/**
 * The service's log: JSON lines (twelve-factor: one event a line, for whatever collects stdout),
 * except on a developer's terminal, where pino-pretty prints them readably. Tokens and signatures
 * never reach either.
 */
export function loggerOptions(config: Pick<Config, 'env' | 'logLevel'>, output: { stream?: Writable; isTTY: boolean }) {
  const pretty = !output.stream && output.isTTY && config.env === 'development'
  return {
    level: config.logLevel,
    ...(output.stream ? { stream: output.stream } : {}),
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
    // A business number's Meta access token can send as the business, wherever it would appear.
    redact: ['req.headers.authorization', 'req.headers["x-hub-signature-256"]', 'accessToken', '*.accessToken'],
  }
}
