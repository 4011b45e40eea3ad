import type { BatchProgress, BatchRecord } from '../batches/batch.repository.js'
import type { MediaRecord } from '../media/media.repository.js'
import type { ConversationRecord, MessageRecord, StatusUpdate } from '../messages/message.records.js'
import type { TemplateStatusChange } from '../meta/meta.webhooks.js'
import { restBatch, restConversation, restMessage } from '../rest/rest.shapes.js'
import type { EventWebhookService } from './event-webhook.service.js'

/**
 * The events the rest of the service produces, as recorded for endpoints: `data` in the REST
 * shapes (docs/api.md), so a receiver parses what it already knows. Built only when an endpoint
 * wants the type. The wiring hands these to the producers (webhook applying, statuses, batches),
 * which know nothing of event webhooks.
 */
export class EventPayloads {
  constructor(
    private readonly service: EventWebhookService,
    private readonly sources: {
      media: (ids: string[]) => Promise<MediaRecord[]>
      batchProgress: (batchId: number) => Promise<BatchProgress>
    },
  ) {}

  private async message(m: MessageRecord) {
    const media = m.mediaId ? ((await this.sources.media([m.mediaId]))[0] ?? null) : null
    return restMessage(m, { media, reactions: [] })
  }

  /** Every inbound message, with its conversation (and its `request_id`). */
  messageReceived = (message: MessageRecord, conversation: ConversationRecord): Promise<void> =>
    this.service.record({
      type: 'message.received',
      key: `message.received:${message.id}`,
      conversationId: message.conversationId,
      data: async () => ({
        message: await this.message(message),
        // As it is now that the customer wrote (its window runs from this message).
        conversation: restConversation({
          ...conversation,
          lastInboundAt:
            message.sentByCustomerAt &&
            (!conversation.lastInboundAt || conversation.lastInboundAt < message.sentByCustomerAt)
              ? message.sentByCustomerAt
              : conversation.lastInboundAt,
        }),
      }),
    })

  /** A status Meta reported for one of our messages (once per message and status). */
  messageStatus = (message: MessageRecord, update: StatusUpdate): Promise<void> =>
    this.service.record({
      type: 'message.status',
      key: `message.status:${message.id}:${update.status}`,
      conversationId: message.conversationId,
      data: async () => ({
        status: update.status,
        timestamp: update.timestamp.toISOString(),
        error: update.error && { code: update.error.code, title: update.error.title, details: update.error.details },
        message: await this.message(message),
      }),
    })

  batchCompleted = (batch: BatchRecord): Promise<void> =>
    this.service.record({
      type: 'batch.completed',
      key: `batch.completed:${batch.id}`,
      conversationId: null,
      data: async () => ({ batch: restBatch(batch, await this.sources.batchProgress(batch.id)) }),
    })

  /** Meta approved, paused, disabled or rejected a template. `source` names the webhook change (recorded once). */
  templateStatus = (change: TemplateStatusChange, source: string): Promise<void> =>
    this.service.record({
      type: 'template.status',
      key: `template.status:${source}`,
      conversationId: null,
      data: async () => ({ template: { name: change.name, language: change.language, status: change.status } }),
    })
}
