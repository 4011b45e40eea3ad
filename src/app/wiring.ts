import type { FastifyInstance } from 'fastify'
import { ApiKeyRepository } from '../api-keys/api-key.repository.js'
import { ApiKeyResolver } from '../api-keys/api-key.resolver.js'
import { ApiKeyService } from '../api-keys/api-key.service.js'
import { createGate, createIdentify } from '../auth/auth.js'
import { RateLimiter } from '../auth/rate-limit.js'
import { BatchRepository } from '../batches/batch.repository.js'
import { BatchResolver } from '../batches/batch.resolver.js'
import { BatchService } from '../batches/batch.service.js'
import { batchTuning } from '../batches/batch.tuning.js'
import type { Config } from '../config.js'
import { ConversationResolver, MessageResolver } from '../conversations/conversation.resolver.js'
import { ConversationRepository } from '../conversations/conversation.repository.js'
import { ConversationReadRepository } from '../conversations/conversation-read.repository.js'
import { MessageRepository } from '../messages/message.repository.js'
import { DeliveryRepository } from '../messages/delivery.repository.js'
import { ConversationService } from '../conversations/conversation.service.js'
import { MessageEventsResolver } from '../messages/message-events.resolver.js'
import { ReactionRepository } from '../messages/reaction.repository.js'
import { openDatabase } from '../db/database.js'
import { type EventBus, InProcessEventBus } from '../events/event-bus.js'
import { PostgresEventBus } from '../events/postgres-event-bus.js'
import { IdempotencyRepository } from '../idempotency/idempotency.repository.js'
import { IdempotencyService } from '../idempotency/idempotency.service.js'
import { MediaFetcher } from '../media/media-fetcher.js'
import { openMediaStore } from '../media/media-store.open.js'
import { MediaRepository } from '../media/media.repository.js'
import { MediaService } from '../media/media.service.js'
import { DeliveryStatusService } from '../messages/delivery-status.service.js'
import { MessageSender } from '../messages/message-sender.js'
import { MemorySlotSource, SendRateLimiter } from '../messages/send-rate.js'
import { PostgresSlotSource } from '../messages/send-rate.repository.js'
import { MessagingResolver } from '../messaging/messaging.resolver.js'
import { MessagingService } from '../messaging/messaging.service.js'
import { ContentPreparer } from '../messaging/outgoing-content.js'
import type { MetaApi } from '../meta/meta.api.js'
import { MetaGraphClient } from '../meta/meta.client.js'
import { MetaSimulator } from '../meta/meta.simulator.js'
import { ScheduledSendRepository } from '../scheduled/scheduled-send.repository.js'
import { ScheduledSendResolver } from '../scheduled/scheduled-send.resolver.js'
import { ScheduledSendScheduler } from '../scheduled/scheduled-send.scheduler.js'
import { ScheduledSendService } from '../scheduled/scheduled-send.service.js'
import { TemplateRepository } from '../templates/template.repository.js'
import { TemplateResolver } from '../templates/template.resolver.js'
import { TemplateService } from '../templates/template.service.js'
import { WebhookRepository } from '../webhooks/webhook.repository.js'
import { WebhookResolver } from '../webhooks/webhook.resolver.js'
import { WebhookService } from '../webhooks/webhook.service.js'
import { EventPayloads } from '../event-webhooks/event-payloads.view.js'
import { EventWebhookRepository } from '../event-webhooks/event-webhook.repository.js'
import { EventWebhookResolver } from '../event-webhooks/event-webhook.resolver.js'
import { EventWebhookSender } from '../event-webhooks/event-webhook.sender.js'
import { EventWebhookService } from '../event-webhooks/event-webhook.service.js'
import { EventWebhookWorker } from '../event-webhooks/event-webhook.worker.js'
import { BusinessNumberRepository } from '../business-numbers/business-number.repository.js'
import { BusinessNumberResolver } from '../business-numbers/business-number.resolver.js'
import { BusinessNumberService } from '../business-numbers/business-number.service.js'
import { TokenCipher } from '../business-numbers/token-cipher.js'
import { NumberChannels } from '../business-numbers/number-channels.js'
import type { ShutdownStack } from './shutdown.js'

export type Services = Awaited<ReturnType<typeof wire>>

/** Meta as one business number: its id, its account, and its own access token (null: the shared one). */
function createMetaApi(
  config: Config,
  server: FastifyInstance,
  number: { phoneNumberId: string; businessAccountId: string; accessToken: string | null },
): MetaApi {
  if (config.meta.mode === 'graph-api')
    return new MetaGraphClient({
      ...config.meta,
      phoneNumberId: number.phoneNumberId,
      businessAccountId: number.businessAccountId,
      accessToken: number.accessToken ?? config.meta.accessToken,
    })
  return new MetaSimulator({
    phoneNumberId: number.phoneNumberId,
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
 * Builds every object of the service once, in dependency order; whatever it opens registers its
 * close on `stack`. `server` is for its logger and, in simulator mode, its address.
 */
export async function wire(
  config: Config,
  server: FastifyInstance,
  stack: ShutdownStack,
  options: { queryEvents?: boolean } = {},
) {
  const log = server.log
  const database = await openDatabase(config.database, { queryEvents: options.queryEvents })
  stack.defer(() => database.close())
  const meta = createMetaApi(config, server, { ...config.meta, accessToken: null })
  let webhooks: WebhookService | null = null
  let channels: NumberChannels | null = null
  const numberRepository = new BusinessNumberRepository(database.prisma)
  const cipher = config.secretsKey ? new TokenCipher(config.secretsKey) : null
  const numbers = new BusinessNumberService(numberRepository, cipher, {
    messagesPerSecond: config.messagesPerSecond,
    onAdded: async (phoneNumberId) => {
      channels?.forget(phoneNumberId)
      // Webhooks Meta sent for it before we knew it were kept: apply them now.
      await webhooks?.numberAdded(phoneNumberId)
    },
  })
  await numbers.ensureDefault({
    phoneNumberId: config.meta.phoneNumberId,
    businessAccountId: config.meta.businessAccountId,
    messagesPerSecond: config.messagesPerSecond,
  })
  const conversationRepository = new ConversationRepository(database.prisma, database.sql)
  const messageRepository = new MessageRepository(database.prisma, database.sql)
  const deliveryRepository = new DeliveryRepository(database.prisma)
  const reactionRepository = new ReactionRepository(database.prisma)
  const mediaRepository = new MediaRepository(database.prisma)
  const mediaStore = await openMediaStore(config.database)
  stack.defer(() => mediaStore.close())
  const media = new MediaService(mediaRepository, mediaStore, meta)
  const templateRepository = new TemplateRepository(database.prisma)
  const conversationReads = new ConversationReadRepository(database.sql)
  const conversations = new ConversationService(
    conversationRepository,
    conversationReads,
    messageRepository,
    mediaRepository,
    reactionRepository,
  )
  // Templates are synced per Business Account, through one of its numbers (channels come below).
  const templates = new TemplateService(templateRepository, { accounts: (scope) => channels!.accounts(scope) })
  const events: EventBus =
    config.database.kind === 'postgres'
      ? await PostgresEventBus.connect(config.database.url, (err) => log.error({ err }, 'event bus'))
      : new InProcessEventBus()
  stack.defer(() => events.close())
  // Event webhooks to the business's endpoints: recorded by the producers below, delivered by the
  // worker in the background (started with the app, stopped before the database closes).
  const eventWebhookRepository = new EventWebhookRepository(database.prisma)
  const addressPolicy = {
    production: config.env === 'production',
    allowPrivateNetworks: config.eventWebhooks.allowPrivateNetworks,
  }
  let eventWorker: EventWebhookWorker | null = null
  const eventWebhooks = new EventWebhookService(
    eventWebhookRepository,
    events,
    { ...addressPolicy, retryForMs: config.eventWebhooks.retryForMs },
    (endpointIds) => eventWorker?.deliveriesRecorded(endpointIds),
  )
  eventWorker = new EventWebhookWorker(
    eventWebhookRepository,
    new EventWebhookSender({ ...addressPolicy, ...config.eventWebhooks }),
    events,
    { ...config.eventWebhooks, onError: (err) => log.error({ err }, 'event webhooks') },
    () => eventWebhooks.endpointsChanged(),
  )
  const batchRepository = new BatchRepository(database.prisma)
  const eventPayloads = new EventPayloads(eventWebhooks, {
    media: (ids) => mediaRepository.findMany(ids),
    batchProgress: async (batchId) => (await batchRepository.progress([batchId])).get(batchId)!,
  })
  const idempotency = new IdempotencyService(new IdempotencyRepository(database.prisma), {
    leaseMs: config.idempotencyLeaseMs,
  })
  stack.defer(() => idempotency.close())
  const rateLimiter = new RateLimiter(database.prisma, config.rateLimitPerMinute)
  stack.defer(() => rateLimiter.close())
  const apiKeys = new ApiKeyService(new ApiKeyRepository(database.prisma), events, {
    onError: (err) => log.error({ err }, 'api keys'),
  })
  apiKeys.start()
  stack.defer(() => apiKeys.close())
  const identify = createIdentify(config.apiTokens, (token) => apiKeys.identify(token))

  const mediaFetcher = new MediaFetcher(mediaRepository, mediaStore, meta, {
    maxAttempts: config.metaRetry.maxRetries + 2,
    retryBaseMs: config.metaRetry.baseDelayMs,
    onError: (err, mediaId) => log.warn({ err, mediaId }, "a customer's file could not be fetched from Meta"),
    // Dashboards showing the message learn that its file is there (or failed).
    onSettled: (mediaId) =>
      void messageRepository
        .withMedia(mediaId)
        .then((messages) => {
          for (const m of messages)
            events.publish({ type: 'messageUpdated', messageId: m.id, conversationId: m.conversationId })
        })
        .catch((err) => log.error({ err, mediaId }, 'after a download')),
  })
  stack.defer(() => mediaFetcher.stop())
  const statuses = new DeliveryStatusService(deliveryRepository, events, eventPayloads.messageStatus)
  // Each number's send rate holds across instances, independently of the others' (Meta's tier is per number).
  const rateFor = (phoneNumberId: string, perSecond: number) =>
    new SendRateLimiter(
      perSecond,
      // Instances sharing PostgreSQL share one limit; the embedded database has one instance.
      config.database.kind === 'postgres'
        ? new PostgresSlotSource(database.prisma, phoneNumberId)
        : new MemorySlotSource(),
    )
  const sendRate = rateFor(config.meta.phoneNumberId, config.messagesPerSecond)
  channels = new NumberChannels(
    numberRepository,
    cipher,
    {
      meta: (phoneNumberId, businessAccountId, accessToken) =>
        createMetaApi(config, server, { phoneNumberId, businessAccountId, accessToken }),
      rate: rateFor,
    },
    {
      phoneNumberId: config.meta.phoneNumberId,
      businessAccountId: config.meta.businessAccountId,
      meta,
      rate: sendRate,
    },
  )
  const sender = new MessageSender(deliveryRepository, statuses, events, sendRate, {
    retry: config.metaRetry,
    onTokenInvalid: (err) =>
      log.error(
        { metaCode: err.metaCode, fbtraceId: err.fbtraceId },
        'Meta rejected WHATSAPP_ACCESS_TOKEN (190): sends fail until it is replaced',
      ),
    onError: (err) => log.error({ err }, 'after a send Meta accepted'),
  })
  const batches = new BatchService(batchRepository, deliveryRepository, sender, channels, events, {
    ...batchTuning(config),
    onError: (err, context) => log.error({ err }, `template batch: ${context}`),
    onCompleted: eventPayloads.batchCompleted,
  })
  const messaging = new MessagingService(
    conversationRepository,
    messageRepository,
    reactionRepository,
    new ContentPreparer(messageRepository, media),
    templates,
    channels,
    sender,
    batches,
    idempotency,
    events,
    {
      enforceServiceWindow: config.enforceServiceWindow,
      maxRecipients: config.maxRecipients,
    },
  )
  const scheduledSends = new ScheduledSendRepository(database.prisma)
  const scheduled = new ScheduledSendService(scheduledSends, messaging, templateRepository, idempotency, events)
  const scheduler = new ScheduledSendScheduler(scheduledSends, scheduled, events, {
    exclusive: config.database.kind === 'pglite',
    // A claim lapses like the idempotency key its send holds: a takeover then finds that key free.
    leaseMs: config.idempotencyLeaseMs,
    pollMs: config.scheduledSendsPollMs,
    onError: (err, context) => log.error({ err }, context),
  })
  // Closed after the fan-outs stopped (registered before app.ts registers their stop): waits for
  // the sends in flight, then gives back this instance's claims. app.ts stops the timer first.
  stack.defer(() => scheduler.drain())
  webhooks = new WebhookService(
    new WebhookRepository(database.prisma, database.sql),
    conversationRepository,
    messageRepository,
    { reactions: reactionRepository, media, onMediaRecorded: () => mediaFetcher.kick() },
    templateRepository,
    statuses,
    events,
    {
      ...config.webhooks,
      allowSimulation: config.env !== 'production',
      phoneNumberId: config.meta.phoneNumberId,
      knownNumber: (phoneNumberId) => numbers.isKnown(phoneNumberId),
      onUnknownNumber: (phoneNumberId, eventId) =>
        log.warn({ phoneNumberId, eventId }, 'a webhook for a business number not added: kept until it is'),
      onError: (err, eventId) => log.error({ err, eventId }, 'a webhook delivery could not be applied'),
      applied: { messageReceived: eventPayloads.messageReceived, templateStatus: eventPayloads.templateStatus },
    },
  )
  // Deliveries still being applied finish before the database closes.
  stack.defer(() => webhooks.drained())

  return {
    database,
    meta,
    mediaStore,
    mediaFetcher,
    events,
    conversations,
    messaging,
    templates,
    media,
    webhooks,
    batches,
    scheduled,
    scheduler,
    eventWebhooks,
    eventWorker,
    apiKeys,
    identify,
    gate: createGate(identify, rateLimiter),
    numbers,
    channels,
    loaderSources: {
      conversations: conversationRepository,
      reads: conversationReads,
      media: mediaRepository,
      reactions: reactionRepository,
      pages: conversations,
    },
    /** One instance of each resolver class of the schema (graphql/schema.ts lists the classes). */
    resolvers: [
      new ConversationResolver(conversations, numbers),
      new MessageResolver(conversations),
      new MessageEventsResolver(conversations),
      new MessagingResolver(messaging, batches, scheduled),
      new ScheduledSendResolver(scheduled, conversations, batches),
      new BatchResolver(batches),
      new TemplateResolver(templates),
      new WebhookResolver(webhooks),
      new EventWebhookResolver(eventWebhooks),
      new ApiKeyResolver(apiKeys),
      new BusinessNumberResolver(numbers),
    ],
  }
}
