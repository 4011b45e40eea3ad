import type { Principal } from './principal.js'

// TEST-ONLY: callers limited to some business numbers, until keys with numbers live in the database
// (issue 20, API keys). The gate asks here only when NODE_ENV=test; replace with the keys' lookup.
const principals = new Map<string, Principal>()

/** Lets `token` in as `principal` (NODE_ENV=test only). */
export function registerTestPrincipal(token: string, principal: Principal): void {
  principals.set(token, principal)
}

export function testPrincipal(token: string): Principal | null {
  return principals.get(token) ?? null
}
