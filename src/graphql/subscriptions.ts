import type { Server } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import {
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  type GraphQLSchema,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
} from 'graphql'
import { useServer } from 'graphql-ws/use/ws'
import { type WebSocket, WebSocketServer } from 'ws'
import { bearerToken, type Gate, type Identify } from '../auth/auth.js'
import { domainError, toGraphQLError } from '../errors/error.answers.js'
import { formatErrorWith } from './apollo.js'
import { checkOperationScope } from './scopes.js'
import type { ForbiddenError } from '../errors/errors.js'
import { limitsProblem, type QueryLimits } from './limits.js'
import type { Principal } from '../auth/principal.js'
import type { GraphQLContext } from './context.js'

export interface SubscriptionServerOptions {
  server: Server
  schema: GraphQLSchema
  /** The same bearer token check and rate limit as HTTP. */
  gate: Gate
  /** Token check alone, for the connection handshake. */
  identify: Identify
  /** Calls its listener with the id of each API key revoked (on any instance); answers an unsubscribe. */
  onKeyRevoked: (listener: (keyId: number) => void) => () => void
  limits: QueryLimits
  introspection: boolean
  /** A fresh context for each subscription, of the client the gate let in. */
  context: (principal: Principal) => GraphQLContext
  log: FastifyBaseLogger
}

/**
 * GraphQL subscriptions over graphql-ws on the HTTP server's /graphql. The same guards as the HTTP
 * door: bearer token (in `connection_init`), per-token rate limit, depth and cost limits,
 * introspection switch, error masking; and only subscriptions (queries and mutations use HTTP).
 * @see https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
 */
export function startSubscriptionServer(options: SubscriptionServerOptions) {
  const { schema, limits, log } = options
  const formatError = formatErrorWith(log)
  const rules = options.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule]
  const format = (result: ExecutionResult) =>
    result.errors
      ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError) }
      : result
  const wsServer = new WebSocketServer({ server: options.server, path: '/graphql' })
  const principalOf = async (params: Readonly<Record<string, unknown>> | undefined) => {
    const token = bearerToken(params?.authorization)
    return token === null ? null : options.identify(token)
  }
  // The open sockets of each stored key: a revoked key's are closed (its subscriptions end with them).
  const socketsOfKey = new Map<number, Set<WebSocket>>()
  const stopHearing = options.onKeyRevoked((keyId) => {
    for (const socket of socketsOfKey.get(keyId) ?? []) socket.close(4403, 'API key revoked')
    socketsOfKey.delete(keyId)
  })
  const track = (keyId: number, socket: WebSocket) => {
    let sockets = socketsOfKey.get(keyId)
    if (!sockets) socketsOfKey.set(keyId, (sockets = new Set()))
    if (sockets.has(socket)) return
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      if (!sockets.size && socketsOfKey.get(keyId) === sockets) socketsOfKey.delete(keyId)
    })
  }

  const subscriptions = useServer<Record<string, unknown>, { socket: WebSocket }>(
    {
      schema,
      onConnect: async ({ connectionParams, extra }) => {
        const principal = await principalOf(connectionParams)
        if (principal?.keyId !== undefined) track(principal.keyId, extra.socket)
        return principal !== null
      },
      onSubscribe: async (ctx, _id, payload) => {
        let principal: Principal
        try {
          principal = await options.gate(ctx.connectionParams?.authorization)
        } catch (thrown) {
          const err = domainError(thrown)
          if (err) return [toGraphQLError(err, { repeatMessage: true })]
          throw thrown
        }
        if (principal.keyId !== undefined) track(principal.keyId, ctx.extra.socket)
        let document
        try {
          document = parse(payload.query)
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('Cannot parse the query')]
        }
        const errors = validate(schema, document, rules)
        if (errors.length) return errors
        const operation = getOperationAST(document, payload.operationName)
        if (operation?.operation !== 'subscription') {
          return [
            new GraphQLError('Only subscriptions over WebSocket; send queries and mutations over HTTP', {
              extensions: { code: 'BAD_REQUEST' },
            }),
          ]
        }
        try {
          checkOperationScope(document, operation, principal)
        } catch (err) {
          return [toGraphQLError(err as ForbiddenError, { repeatMessage: true })]
        }
        const variables = payload.variables ?? {}
        const problem = limitsProblem(schema, document, payload.operationName, variables, limits)
        if (problem) return [problem]
        return {
          schema,
          document,
          variableValues: variables,
          operationName: payload.operationName,
          contextValue: options.context(principal),
        }
      },
      onNext: (_ctx, _id, _payload, _args, result) => format(result as ExecutionResult),
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError),
    },
    wsServer,
  )
  return {
    async close() {
      stopHearing()
      await subscriptions.dispose()
      await new Promise((resolve) => wsServer.close(resolve))
    },
  }
}
