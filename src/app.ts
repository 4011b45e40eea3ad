// Must run before any type-graphql decorator is evaluated.
import 'reflect-metadata'
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify'
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Writable } from 'node:stream'
import { bearerAuthenticator, callerOf, createGate } from './auth/auth.js'
import { BatchRepository } from './batches/batch.repository.js'
import { BatchResolver } from './batches/batch.resolver.js'
import { BatchService } from './batches/batch.service.js'
import { IdempotencyRepository } from './idempotency/idempotency.repository.js'
import { IdempotencyService } from './idempotency/idempotency.service.js'
import { MessageSender } from './messages/message-sender.js'
import { MemorySlotSource, SendRateLimiter } from './messages/send-rate.js'
import { PostgresSlotSource } from './messages/send-rate.repository.js'
import { RateLimiter } from './auth/rate-limit.js'
import type { Config } from './config.js'
import { loggerOptions } from './logging.js'
import { ConversationResolver, MessageResolver } from './conversations/conversation.resolver.js'
import { createConversationLoaders } from './conversations/conversation.loaders.js'
import { ConversationRepository } from './conversations/conversation.repository.js'
import { ConversationService } from './conversations/conversation.service.js'
import { type Database, openDatabase } from './db/database.js'
import { SnapshotRepository } from './db/snapshot.repository.js'
import { domainError, toGraphQLError } from './errors/error.answers.js'
import { createApolloServer } from './graphql/apollo.js'
import { GraphQLResponseCache } from './graphql/response-cache.js'
import type { GraphQLContext } from './graphql/context.js'
import { getSchema } from './graphql/schema.js'
import { startSubscriptionServer } from './graphql/subscriptions.js'
import { PostgresEventBus } from './events/postgres-event-bus.js'
import { MessageEventsResolver } from './conversations/message-events.resolver.js'
import { type EventBus, InProcessEventBus } from './events/event-bus.js'
import { DeliveryStatusService } from './messages/delivery-status.service.js'
import { MessagingResolver } from './messaging/messaging.resolver.js'
import { MessagingService } from './messaging/messaging.service.js'
import { ContentPreparer } from './messaging/outgoing-content.js'
import { ReactionRepository } from './conversations/reaction.repository.js'
import { MediaFetcher } from './media/media-fetcher.js'
import { MediaRepository } from './media/media.repository.js'
import { MediaService } from './media/media.service.js'
import type { MediaStore } from './media/media.store.js'
import { openMediaStore } from './media/media-store.open.js'
import { type MetaApi, MetaGraphClient } from './meta/meta.client.js'
import { MetaSimulator } from './meta/meta.simulator.js'
import { handleHttpError } from './rest/rest.errors.js'
import { whatsappRoutes } from './rest/whatsapp.routes.js'
import { TemplateResolver } from './templates/template.resolver.js'
import { TemplateRepository } from './templates/template.repository.js'
import { TemplateService } from './templates/template.service.js'
import { WebhookRepository } from './webhooks/webhook.repository.js'
import { webhookRoutes } from './webhooks/webhook.routes.js'
import { WebhookResolver } from './webhooks/webhook.resolver.js'
import { WebhookService } from './webhooks/webhook.service.js'

export interface App {
  server: FastifyInstance
  config: Config
  meta: MetaApi
  database: Database
  webhooks: WebhookService
  mediaFetcher: MediaFetcher
  mediaStore: MediaStore
  events: EventBus
  /** Starts listening on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>
  /** Stops accepting requests, finishes the ones in flight, closes the database. */
  close(): Promise<void>
}

/** The JSON body limit: a 1,000-recipient template request is about 60 KB. */
const BODY_LIMIT_BYTES = 1024 * 1024

function createMetaApi(config: Config, server: FastifyInstance): MetaApi {
  if (config.meta.mode === 'graph-api') return new MetaGraphClient(config.meta)
  return new MetaSimulator({
    phoneNumberId: config.meta.phoneNumberId,
    webhooks: {
      // Our own webhook endpoint, once listening.
      url: () => {
        const address = server.server.address()
        return address && typeof address === 'object' ? `http://127.0.0.1:${address.port}/webhooks/whatsapp` : null
      },
      appSecret: config.webhooks.appSecrets[0],
      delayMs: config.meta.statusDelayMs,
    },
  })
}

/**
 * Builds the whole service (database, Meta client, services, GraphQL at /graphql, REST under
 * /api/whatsapp) without listening. `main.ts` listens; tests build one per file.
 */
export async function createApp(
  config: Config,
  options: {
    logStream?: Writable
    /** Let `database.onQuery` count statements (tests); costs a little on every statement. */
    queryEvents?: boolean
  } = {},
): Promise<App> {
  const server = Fastify({
    logger: loggerOptions(config, { stream: options.logStream, isTTY: process.stdout.isTTY === true }),
    // A caller's X-Request-Id is kept when it looks like one; otherwise we make one. Every log line
    // of the request carries it, and so does the response.
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
    },
    bodyLimit: BODY_LIMIT_BYTES,
    // Errors Fastify raises before routing (a malformed URL) get our error shape too.
    frameworkErrors: (error, request, reply) => handleHttpError(error, request, reply),
  })
  const database = await openDatabase(config.database, { queryEvents: options.queryEvents })
  // What is opened below, closed in reverse if building the app fails half-way.
  const opened: (() => Promise<unknown>)[] = [() => database.close()]
  try {
    const meta = createMetaApi(config, server)
    const conversationRepository = new ConversationRepository(database.prisma)
    const reactionRepository = new ReactionRepository(database.prisma)
    const mediaRepository = new MediaRepository(database.prisma)
    const mediaStore = await openMediaStore(config.database)
    opened.unshift(() => mediaStore.close())
    const media = new MediaService(mediaRepository, mediaStore, meta)
    const loaderSources = {
      conversations: conversationRepository,
      media: mediaRepository,
      reactions: reactionRepository,
    }
    const templateRepository = new TemplateRepository(database.prisma)
    const conversations = new ConversationService(conversationRepository, mediaRepository, reactionRepository)
    const templates = new TemplateService(templateRepository, meta)
    const events: EventBus =
      config.database.kind === 'postgres'
        ? await PostgresEventBus.connect(config.database.url, (err) => server.log.error({ err }, 'event bus'))
        : new InProcessEventBus()
    opened.unshift(() => events.close())
    const mediaFetcher = new MediaFetcher(mediaRepository, mediaStore, meta, {
      maxAttempts: config.metaRetry.maxRetries + 2,
      retryBaseMs: config.metaRetry.baseDelayMs,
      onError: (err, mediaId) => server.log.warn({ err, mediaId }, "a customer's file could not be fetched from Meta"),
      // Dashboards showing the message learn that its file is there (or failed).
      onSettled: (mediaId) =>
        void conversationRepository
          .messagesWithMedia(mediaId)
          .then((messages) => {
            for (const m of messages)
              events.publish({ type: 'messageUpdated', messageId: m.id, conversationId: m.conversationId })
          })
          .catch((err) => server.log.error({ err, mediaId }, 'after a download')),
    })
    const statuses = new DeliveryStatusService(conversationRepository, events)
    const sendRate = new SendRateLimiter(
      config.messagesPerSecond,
      // Instances sharing PostgreSQL share one limit; the embedded database has one instance.
      config.database.kind === 'postgres'
        ? new PostgresSlotSource(database.prisma, config.meta.phoneNumberId)
        : new MemorySlotSource(),
    )
    const sender = new MessageSender(conversationRepository, statuses, events, sendRate, {
      retry: config.metaRetry,
      onTokenInvalid: (err) =>
        server.log.error(
          { metaCode: err.metaCode, fbtraceId: err.fbtraceId },
          'Meta rejected WHATSAPP_ACCESS_TOKEN (190): sends fail until it is replaced',
        ),
      onError: (err) => server.log.error({ err }, 'after a send Meta accepted'),
    })
    const batchRepository = new BatchRepository(database.prisma)
    const batches = new BatchService(batchRepository, conversationRepository, sender, meta, events, {
      // Enough sends in flight to keep the rate with Meta answering in up to ~250 ms.
      concurrency: Math.min(256, Math.max(8, Math.ceil(config.messagesPerSecond / 4))),
      // On PostgreSQL, ~100 ms of sends are stored with the batch and the rest (~60 ms for 1,000)
      // while those go out. The embedded database runs its statements on this thread: storing
      // the rest there would only hold those first sends back, so it stores the batch whole.
      storeFirst:
        config.database.kind === 'postgres' ? Math.max(8, Math.ceil(config.messagesPerSecond / 10)) : undefined,
      exclusive: config.database.kind === 'pglite',
      // Longer than any one call to Meta plus the longest retry backoff (30 s).
      staleAttemptMs: (config.meta.mode === 'graph-api' ? config.meta.timeoutMs : 15_000) + 35_000,
      onError: (err, context) => server.log.error({ err }, `template batch: ${context}`),
    })
    const idempotency = new IdempotencyService(new IdempotencyRepository(database.prisma), {
      leaseMs: config.idempotencyLeaseMs,
    })
    opened.unshift(async () => idempotency.close())
    const messaging = new MessagingService(
      conversationRepository,
      reactionRepository,
      new ContentPreparer(conversationRepository, media),
      templates,
      meta,
      sender,
      batches,
      idempotency,
      events,
      { enforceServiceWindow: config.enforceServiceWindow, maxRecipients: config.maxRecipients },
    )
    const webhooks = new WebhookService(
      new WebhookRepository(database.prisma),
      conversationRepository,
      { reactions: reactionRepository, media, onMediaRecorded: () => mediaFetcher.kick() },
      templateRepository,
      statuses,
      events,
      {
        ...config.webhooks,
        allowSimulation: config.env !== 'production',
        phoneNumberId: config.meta.phoneNumberId,
        onError: (err, eventId) => server.log.error({ err, eventId }, 'a webhook delivery could not be applied'),
      },
    )
    const authenticate = bearerAuthenticator(config.apiTokens)
    const rateLimiter = new RateLimiter(database.prisma, config.rateLimitPerMinute)
    opened.unshift(async () => rateLimiter.close())
    const gate = createGate(config.apiTokens, rateLimiter)

    const resolvers = new Map<unknown, unknown>([
      [ConversationResolver, new ConversationResolver(conversations)],
      [MessageResolver, new MessageResolver(conversations)],
      [MessageEventsResolver, new MessageEventsResolver(conversations)],
      [MessagingResolver, new MessagingResolver(messaging, batches)],
      [BatchResolver, new BatchResolver(batches)],
      [TemplateResolver, new TemplateResolver(templates)],
      [WebhookResolver, new WebhookResolver(webhooks)],
    ])
    const container = { get: (cls: unknown) => resolvers.get(cls) }

    // A JSON API: anything but application/json bodies is refused with 415.
    server.removeContentTypeParser('text/plain')
    server.setErrorHandler(handleHttpError)
    let closing = false
    server.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id)
      // While shutting down, in-flight requests finish and their keep-alive connections end with
      // them, so the close does not wait for idle connections to time out.
      if (closing) reply.header('connection', 'close')
    })
    // Cheap and unauthenticated, for load balancers and orchestrators.
    server.get('/healthz', async () => ({ status: 'ok' }))
    server.get('/readyz', async (_request, reply) => {
      const reason = await database.notReadyReason()
      if (!reason) return { status: 'ready' }
      _request.log.warn({ reason }, 'not ready')
      // Unauthenticated: say what kind of problem, never the driver's words (hosts, users).
      return reply
        .status(503)
        .send({ status: 'unavailable', reason: reason.startsWith('migrations') ? reason : 'database unreachable' })
    })
    server.setNotFoundHandler((request, reply) =>
      reply
        .status(404)
        .send({ success: false, error: { code: 'NOT_FOUND', message: `No route ${request.method} ${request.url}` } }),
    )

    const snapshots = new SnapshotRepository(database.prisma)
    const responseCache =
      config.graphql.responseCacheBytes > 0
        ? new GraphQLResponseCache(() => snapshots.current(), config.graphql.responseCacheBytes)
        : null
    const apollo = await createApolloServer({
      config: config.graphql,
      log: server.log,
      plugins: [fastifyApolloDrainPlugin(server), ...(responseCache ? [responseCache.plugin()] : [])],
    })
    await apollo.start()
    opened.unshift(() => apollo.stop())
    // The gate runs once per request, whether the response cache or the context asks first.
    const gated = new WeakMap<FastifyRequest, Promise<string>>()
    const gateOnce = (request: FastifyRequest) => {
      let token = gated.get(request)
      if (!token) gated.set(request, (token = gate(request.headers.authorization)))
      return token
    }
    const graphqlHandler = fastifyApolloHandler(apollo, {
      context: async (request): Promise<GraphQLContext> => {
        let token: string
        try {
          token = await gateOnce(request)
        } catch (thrown) {
          const err = domainError(thrown)
          if (!err) throw thrown
          throw toGraphQLError(err, { http: true, repeatMessage: true })
        }
        return {
          container,
          events,
          loaders: createConversationLoaders(loaderSources),
          batchProgress: batches.progressLoader(),
          caller: callerOf(token),
          responseCache: responseCache?.stateOf(request),
        }
      },
    })
    server.route({
      method: ['GET', 'POST', 'OPTIONS'],
      url: '/graphql',
      handler: responseCache ? responseCache.handler(gateOnce, graphqlHandler) : graphqlHandler,
    })
    // Subscriptions: graphql-ws on the same port and path, with the same bearer tokens, sent as
    // {"authorization": "Bearer <token>"} in the connection_init payload.
    const subscriptions = startSubscriptionServer({
      server: server.server,
      schema: await getSchema(),
      gate,
      authenticate,
      limits: config.graphql,
      introspection: config.graphql.introspection,
      // Loaders without a cache: a subscription lives long, and each event must read fresh rows.
      context: (token) => ({
        container,
        events,
        loaders: createConversationLoaders(loaderSources, { cache: false }),
        batchProgress: batches.progressLoader(),
        caller: callerOf(token),
      }),
      log: server.log,
    })
    await server.register(whatsappRoutes, {
      prefix: '/api/whatsapp',
      conversations,
      messaging,
      templates,
      media,
      gate,
    })
    await server.register(webhookRoutes, { prefix: '/webhooks/whatsapp', webhooks })
    await webhooks.resumeUnapplied()
    // Settles sends a previous run left unanswered, and resumes its unfinished fan-outs.
    await batches.start()
    opened.unshift(() => batches.stop())
    mediaFetcher.start()
    opened.unshift(() => mediaFetcher.stop())

    return {
      server,
      config,
      meta,
      database,
      webhooks,
      mediaFetcher,
      mediaStore,
      events,
      listen: () => server.listen({ host: config.host, port: config.port }),
      async close() {
        closing = true
        await subscriptions.close()
        // Fan-outs stop taking recipients first, so their requests answer and the server can close.
        await batches.stop()
        await server.close()
        await webhooks.drained()
        await mediaFetcher.stop()
        await mediaStore.close()
        rateLimiter.close()
        idempotency.close()
        await events.close()
        await database.close()
      },
    }
  } catch (err) {
    for (const close of opened) await close().catch(() => {})
    throw err
  }
}
