import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Gate, Identify } from '../auth/auth.js'
import type { Principal } from '../auth/principal.js'
import type { BatchService } from '../batches/batch.service.js'
import type { Config } from '../config.js'
import { createConversationLoaders, type LoaderSources } from '../conversations/conversation.loaders.js'
import type { PrismaClient } from '../db/database.js'
import { SnapshotRepository } from '../db/snapshot.repository.js'
import { domainError, toGraphQLError } from '../errors/error.answers.js'
import type { EventBus } from '../events/event-bus.js'
import { AcceptedQueries } from './accepted-queries.js'
import { createApolloServer } from './apollo.js'
import { CompiledQueries } from './compiled-execution.js'
import type { GraphQLContext } from './context.js'
import { GraphQLResponseCache } from './response-cache.js'
import { getSchema, resolvers } from './schema.js'
import { assertEveryRootFieldDecided } from './scopes.js'
import { startSubscriptionServer } from './subscriptions.js'

export interface GraphQLOptions {
  config: Config['graphql']
  prisma: PrismaClient
  gate: Gate
  /** Token check alone, for the subscription handshake. */
  identify: Identify
  /** Calls its listener with the id of each API key revoked (on any instance). */
  onKeyRevoked: (listener: (keyId: number) => void) => () => void
  events: EventBus
  loaderSources: LoaderSources
  batches: BatchService
  /** One instance of each class in schema.ts's `resolvers`. */
  resolvers: object[]
  /** Registers a close, run in reverse order of registration. */
  defer: (close: () => unknown) => void
}

/**
 * GraphQL at /graphql: queries and mutations over HTTP (Apollo, behind the response cache when it
 * is on), subscriptions over graphql-ws on the same path; both with the same bearer tokens and a
 * context from the one builder below.
 */
export async function registerGraphQL(server: FastifyInstance, options: GraphQLOptions): Promise<void> {
  const { config, gate, events, loaderSources, batches } = options
  const instances = new Map(options.resolvers.map((r) => [r.constructor, r]))
  const missing = resolvers.filter((cls) => !instances.has(cls))
  if (missing.length) throw new Error(`no instance of ${missing.map((cls) => cls.name).join(', ')}`)
  const container = { get: (cls: unknown) => instances.get(cls as never) }

  const snapshots = new SnapshotRepository(options.prisma)
  const responseCache =
    config.responseCacheBytes > 0
      ? new GraphQLResponseCache(() => snapshots.current(), config.responseCacheBytes)
      : null

  /**
   * The context of one operation. Loaders cache for an HTTP request; a subscription lives long, and
   * each event must read fresh rows, so its loaders do not.
   */
  const contextOf = (principal: Principal, request?: FastifyRequest): GraphQLContext => {
    let progress: GraphQLContext['batchProgress'] | undefined
    return {
      container,
      events,
      loaders: createConversationLoaders(loaderSources, request ? undefined : { cache: false }),
      get batchProgress() {
        return (progress ??= batches.progressLoader())
      },
      caller: principal.caller,
      principal,
      ...(request && { responseCache: responseCache?.stateOf(request) }),
    }
  }

  // A root field without a scope decision stops the start (src/auth/scopes.ts).
  assertEveryRootFieldDecided(await getSchema())
  const compiled = new CompiledQueries(await getSchema())
  // Known query texts skip Apollo's pipeline, except behind the response cache (it learns from Apollo).
  const accepted = responseCache ? null : new AcceptedQueries(compiled)
  const apollo = await createApolloServer({
    config,
    log: server.log,
    compiled,
    plugins: [
      fastifyApolloDrainPlugin(server),
      ...(responseCache ? [responseCache.plugin()] : []),
      ...(accepted ? [accepted.plugin()] : []),
    ],
  })
  await apollo.start()
  // Stopping Apollo drains the HTTP server: requests in flight finish first.
  options.defer(() => apollo.stop())
  // The gate runs once per request, whether the response cache or the context asks first.
  const gated = new WeakMap<FastifyRequest, Promise<Principal>>()
  const gateOnce = (request: FastifyRequest) => {
    let principal = gated.get(request)
    if (!principal) gated.set(request, (principal = gate(request.headers.authorization)))
    return principal
  }
  const graphqlHandler = fastifyApolloHandler(apollo, {
    context: async (request) => {
      let principal: Principal
      try {
        principal = await gateOnce(request)
      } catch (thrown) {
        const err = domainError(thrown)
        if (!err) throw thrown
        throw toGraphQLError(err, { http: true, repeatMessage: true })
      }
      return contextOf(principal, request)
    },
  })
  server.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: '/graphql',
    handler: responseCache
      ? responseCache.handler(gateOnce, graphqlHandler)
      : accepted!.handler(gateOnce, contextOf, graphqlHandler),
  })
  // Subscriptions: sent {"authorization": "Bearer <token>"} in the connection_init payload.
  const subscriptions = startSubscriptionServer({
    server: server.server,
    schema: await getSchema(),
    gate,
    identify: options.identify,
    onKeyRevoked: options.onKeyRevoked,
    limits: config,
    introspection: config.introspection,
    context: (principal) => contextOf(principal),
    log: server.log,
  })
  // Open WebSockets would hold the HTTP server's close: they end first.
  options.defer(() => subscriptions.close())
}
