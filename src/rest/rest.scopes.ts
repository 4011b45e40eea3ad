import type { FastifyInstance, preParsingAsyncHookHandler } from 'fastify'
import type { Scope } from '../auth/principal.js'
import { requireScope, restScope } from '../auth/scopes.js'
import { UnauthenticatedError } from '../errors/errors.js'

/**
 * Holds every route of `server` registered from now on to its decision in src/auth/scopes.ts:
 * refuses at start-up a route without one, and answers 403 FORBIDDEN to a key outside a route's
 * scope before its body is even read (so nothing happens). Register before any route.
 */
export function enforceRestScopes(server: FastifyInstance): void {
  server.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    // Decided once per route and method, not on every request.
    const scopes = new Map<string, Scope>()
    for (const method of methods) {
      const scope = restScope(method, route.url)
      if (scope === undefined)
        throw new Error(`${method} ${route.url} has no scope: decide one in src/auth/scopes.ts (REST_SCOPES)`)
      if (scope !== 'PUBLIC' && scope !== 'GRAPHQL') scopes.set(method, scope)
    }
    if (!scopes.size) return
    const check: preParsingAsyncHookHandler = async (request, _reply, payload) => {
      const scope = scopes.get(request.method)
      if (scope === undefined) return payload
      // The gate (an onRequest hook) set the principal; a route outside it is refused, not let through.
      if (!request.principal) throw new UnauthenticatedError()
      requireScope(request.principal, scope, `${request.method} ${route.url}`)
      return payload
    }
    const existing = route.preParsing
    route.preParsing = existing ? [...(Array.isArray(existing) ? existing : [existing]), check] : [check]
  })
}
