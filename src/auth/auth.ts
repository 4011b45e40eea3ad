import { createHash, timingSafeEqual } from 'node:crypto'
import { UnauthenticatedError } from '../errors/errors.js'
import type { Principal } from './principal.js'
import type { RateLimiter } from './rate-limit.js'

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * A check of a bearer token against the configured tokens. Compares SHA-256 digests in constant
 * time and always checks every token, so timing reveals neither a token's length nor which one
 * matched. Answers which token it was (for per-token limits), or null.
 */
function configuredToken(tokens: string[]): (token: string) => string | null {
  const expected = tokens.map((token) => ({ token, digest: digest(token) }))
  return (token) => {
    const given = digest(token)
    let found: string | null = null
    for (const { token: t, digest: d } of expected) if (timingSafeEqual(d, given)) found = t
    return found
  }
}

/** Who holds `token`, if anyone: a configured token or a stored key. */
export type Identify = (token: string) => Promise<Principal | null>

/** A stored API key's holder for `token` (see ApiKeyService), or null. */
export type KeyLookup = (token: string) => Promise<Principal | null>

/**
 * Resolves a bearer token: first the configured tokens (API_TOKENS, the development token: ADMIN
 * for every number, checked in constant time and without the database), then the stored keys.
 */
export function createIdentify(tokens: string[], keys: KeyLookup): Identify {
  const check = configuredToken(tokens)
  return async (token) => {
    const configured = check(token)
    if (configured !== null) return tokenPrincipal(configured)
    return keys(token)
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(authorization: unknown): string | null {
  if (typeof authorization !== 'string') return null
  return /^Bearer[ ]+(\S+)\s*$/i.exec(authorization)?.[1] ?? null
}

/**
 * Lets a request in through any door (REST, GraphQL over HTTP or WebSocket): a configured bearer
 * token or a stored key, within its rate limit. Resolves to who is calling.
 * @throws UnauthenticatedError, RateLimitedError
 */
export type Gate = (authorization: unknown) => Promise<Principal>

export function createGate(identify: Identify, rateLimiter: RateLimiter): Gate {
  return async (authorization) => {
    const token = bearerToken(authorization)
    const principal = token === null ? null : await identify(token)
    if (principal === null) throw new UnauthenticatedError()
    await rateLimiter.hit(token!)
    return principal
  }
}

/** A configured API token (`API_TOKENS`, or the development token): ADMIN for every number. */
export function tokenPrincipal(token: string): Principal {
  const caller = callerOf(token)
  return { name: `token:${caller.slice(0, 8)}`, caller, scope: 'ADMIN', phoneNumberIds: null }
}

/** A stable, non-secret name for the client holding `token` (for idempotency-key scopes). */
export function callerOf(token: string): string {
  // Called with accepted tokens only (configured ones and stored keys), so the cache is bounded by them.
  let caller = callers.get(token)
  if (caller === undefined) {
    caller = createHash('sha256').update(token).digest('base64url').slice(0, 22)
    callers.set(token, caller)
  }
  return caller
}

const callers = new Map<string, string>()
