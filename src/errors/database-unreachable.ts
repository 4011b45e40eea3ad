/** Socket errors of a server that went away or cannot be reached. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
])
/** Prisma's driver adapter names for the same. */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections'])
/** node-pg's and PGlite's words for a connection lost or a database closed. */
const UNREACHABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|PGlite is closed|database is closed/i

/**
 * Whether an error means the database cannot be reached (a lost or refused connection, a server
 * shutting down, no connection slot left), rather than a bug: SQLSTATE classes 08 and 57P, 53300,
 * and the drivers' socket errors, wherever Prisma wrapped them.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function databaseUnreachable(err: unknown): boolean {
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 8; depth++) {
    if (typeof e !== 'object') return false
    const code = typeof e.code === 'string' ? e.code : typeof e.originalCode === 'string' ? e.originalCode : ''
    if (UNREACHABLE_CODES.has(code) || /^(08|57P0[123]|53300)/.test(code)) return true
    if (typeof e.kind === 'string' && UNREACHABLE_KINDS.has(e.kind)) return true
    if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true
    const adapter = (e.meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError
    e = (adapter ?? e.cause) as Record<string, unknown> | undefined
  }
  return false
}
