// Must run before any type-graphql decorator is evaluated.
import { registerCors } from './app/cors.js'
import 'reflect-metadata'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Writable } from 'node:stream'
import { ShutdownStack } from './app/shutdown.js'
import { wire } from './app/wiring.js'
import type { Config } from './config.js'
import type { Database } from './db/database.js'
import { httpAnswer } from './errors/error.answers.js'
import { NotFoundError } from './errors/errors.js'
import type { EventBus } from './events/event-bus.js'
import { registerGraphQL } from './graphql/graphql.plugin.js'
import { loggerOptions } from './logging.js'
import type { MediaFetcher } from './media/media-fetcher.js'
import type { MediaStore } from './media/media.store.js'
import type { MetaApi } from './meta/meta.api.js'
import type { NumberChannels } from './business-numbers/number-channels.js'
import { healthRoutes } from './rest/health.routes.js'
import { handleHttpError } from './rest/rest.errors.js'
import { enforceRestScopes } from './rest/rest.scopes.js'
import { collectOperations } from './openapi/operation.js'
import { openapiRoutes } from './openapi/openapi.routes.js'
import { whatsappRoutes } from './rest/whatsapp.routes.js'
import { webhookRoutes } from './webhooks/webhook.routes.js'
import type { WebhookService } from './webhooks/webhook.service.js'
import type { EventWebhookWorker } from './event-webhooks/event-webhook.worker.js'

export interface App {
  server: FastifyInstance
  config: Config
  meta: MetaApi
  /** Each business number's Meta client and send rate. */
  channels: NumberChannels
  database: Database
  webhooks: WebhookService
  mediaFetcher: MediaFetcher
  /** Delivers event webhooks to the business's endpoints. */
  eventWorker: EventWebhookWorker
  mediaStore: MediaStore
  events: EventBus
  /** Starts listening on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>
  /** Stops accepting requests, finishes the ones in flight, closes everything in reverse order of opening. */
  close(): Promise<void>
}

/** The JSON body limit: a 1,000-recipient template request is about 60 KB. */
const BODY_LIMIT_BYTES = 1024 * 1024

function createServer(config: Config, logStream: Writable | undefined): FastifyInstance {
  return Fastify({
    logger: loggerOptions(config, { stream: logStream, isTTY: process.stdout.isTTY === true }),
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
  const server = createServer(config, options.logStream)
  // Every route from here on has a scope decision (or start-up fails), enforced before its handler.
  enforceRestScopes(server)
  const stack = new ShutdownStack()
  try {
    const services = await wire(config, server, stack, { queryEvents: options.queryEvents })
    // The server closes once requests in flight are answered, before what they use closes.
    stack.defer(() => server.close())

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
    server.setNotFoundHandler((request, reply) => {
      const answer = httpAnswer(new NotFoundError(`No route ${request.method} ${request.url}`))
      return reply.status(answer.status).send(answer.body)
    })
    await registerCors(server, config.corsOrigins)
    await server.register(healthRoutes, { database: services.database })
    await registerGraphQL(server, {
      config: config.graphql,
      prisma: services.database.prisma,
      gate: services.gate,
      identify: services.identify,
      onKeyRevoked: (listener) => services.apiKeys.onRevoked(listener),
      events: services.events,
      loaderSources: services.loaderSources,
      batches: services.batches,
      resolvers: services.resolvers,
      defer: (close) => stack.defer(close),
    })
    // Every REST route carries its OpenAPI entry; the document is made from them once they are all registered.
    const documented = collectOperations(server, '/api/whatsapp')
    await server.register(whatsappRoutes, {
      prefix: '/api/whatsapp',
      conversations: services.conversations,
      messaging: services.messaging,
      templates: services.templates,
      media: services.media,
      scheduled: services.scheduled,
      gate: services.gate,
    })
    await server.register(openapiRoutes, {
      prefix: '/api/whatsapp',
      operations: documented.done(),
      ui: config.env === 'development',
    })
    await server.register(webhookRoutes, { prefix: '/webhooks/whatsapp', webhooks: services.webhooks })
    await services.webhooks.resumeUnapplied()
    // Settles sends a previous run left unanswered, and resumes its unfinished fan-outs.
    await services.batches.start()
    // Fan-outs stop taking recipients first, so their requests answer and the server can close.
    stack.defer(() => services.batches.stop())
    services.mediaFetcher.start()
    // Sends due while no instance ran go out now (late); then at their time. Closing stops the timer
    // first; the wiring waits for the sends in flight and gives back the claims once fan-outs stopped.
    await services.scheduler.start()
    stack.defer(() => services.scheduler.stop())
    // Event webhooks go out in the background; stopped before the database closes (in-flight
    // attempts get a moment, then are given back for another instance or the next start).
    services.eventWorker.start()
    stack.defer(() => services.eventWorker.stop())
    // Closing starts by telling clients so (see onSend).
    stack.defer(() => {
      closing = true
    })

    const { database, meta, channels, webhooks, mediaFetcher, mediaStore, events, eventWorker } = services
    return {
      server,
      config,
      meta,
      channels,
      database,
      webhooks,
      mediaFetcher,
      eventWorker,
      mediaStore,
      events,
      listen: () => server.listen({ host: config.host, port: config.port }),
      close: () => stack.close(),
    }
  } catch (err) {
    await stack.close().catch(() => {})
    throw err
  }
}
