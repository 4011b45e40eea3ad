import { createHash, timingSafeEqual } from 'node:crypto'
import { UnauthenticatedError } from '../errors/errors.js'
import type { Principal } from './principal.js'
import type { RateLimiter } from './rate-limit.js'
import { testPrincipal } from './test-principals.js'

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * A check for `Authorization: Bearer <token>` headers against the configured tokens. Compares
 * SHA-256 digests in constant time and always checks every token, so timing reveals neither a
 * token's length nor which one matched. Answers which token it was (for per-token limits), or null.
 */
export function bearerAuthenticator(tokens: string[]): (authorization: string | undefined) => string | null {
  const expected = tokens.map((token) => ({ token, digest: digest(token) }))
  return (authorization) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '')
    if (!match) return null
    const given = digest(match[1])
    let found: string | null = null
    for (const { token, digest: d } of expected) if (timingSafeEqual(d, given)) found = token
    return found
  }
}

/**
 * The token check alone (the subscription handshake): a configured token, or in tests a limited
 * caller's (test-principals.ts).
 */
export function handshakeAuthenticator(
  tokens: string[],
  options: { testPrincipals?: boolean } = {},
): (authorization: string | undefined) => string | null {
  const authenticate = bearerAuthenticator(tokens)
  return (authorization) => {
    const token = authenticate(authorization)
    if (token !== null || !options.testPrincipals) return token
    const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '')?.[1]
    return bearer && testPrincipal(bearer) ? bearer : null
  }
}

/**
 * Lets a request in through any door (REST, GraphQL over HTTP or WebSocket): a configured bearer
 * token, within its rate limit. Resolves to who is calling.
 * @throws UnauthenticatedError, RateLimitedError
 */
export type Gate = (authorization: unknown) => Promise<Principal>

export function createGate(
  tokens: string[],
  rateLimiter: RateLimiter,
  options: { testPrincipals?: boolean } = {},
): Gate {
  const authenticate = bearerAuthenticator(tokens)
  return async (authorization) => {
    const header = typeof authorization === 'string' ? authorization : undefined
    const token = authenticate(header)
    if (token === null) {
      // TEST-ONLY (NODE_ENV=test): callers limited to some numbers, see test-principals.ts.
      const bearer = options.testPrincipals ? /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')?.[1] : undefined
      const limited = bearer ? testPrincipal(bearer) : null
      if (limited === null) throw new UnauthenticatedError()
      await rateLimiter.hit(bearer!)
      return limited
    }
    await rateLimiter.hit(token)
    return tokenPrincipal(token)
  }
}

/** A configured API token (`API_TOKENS`, or the development token): ADMIN for every number. */
export function tokenPrincipal(token: string): Principal {
  const caller = callerOf(token)
  return { name: `token:${caller.slice(0, 8)}`, caller, scope: 'ADMIN', phoneNumberIds: null }
}

/** A stable, non-secret name for the client holding `token` (for idempotency-key scopes). */
export function callerOf(token: string): string {
  // Called with accepted tokens only (after the gate), so the cache holds at most the configured ones.
  let caller = callers.get(token)
  if (caller === undefined) {
    caller = createHash('sha256').update(token).digest('base64url').slice(0, 22)
    callers.set(token, caller)
  }
  return caller
}

const callers = new Map<string, string>()
