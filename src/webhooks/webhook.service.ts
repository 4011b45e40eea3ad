import { z } from 'zod'
import type { ConversationRepository } from '../conversations/conversation.repository.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { MessageRepository } from '../messages/message.repository.js'
import { phoneNumberSchema } from '../shared/phone.js'
import { simulatedWebhook } from '../meta/meta.simulated-webhooks.js'
import { parseInput } from '../validation.js'
import { describeError, ForbiddenError, UnauthenticatedError, WebhooksNotConfiguredError } from '../errors/errors.js'
import type { EventBus } from '../events/event-bus.js'
import type { DeliveryStatusService } from '../messages/delivery-status.service.js'
import {
  type InboundMessageChange,
  isValidSignature,
  readWebhook,
  type TemplateStatusChange,
  type WebhookChange,
} from '../meta/meta.webhooks.js'
import type { TemplateRepository } from '../templates/template.repository.js'
import type { ReactionRepository } from '../messages/reaction.repository.js'
import type { MediaService } from '../media/media.service.js'
import type { WebhookRepository } from './webhook.repository.js'

/** Attempts to apply one delivery before it is marked failed (kept for inspection). */
const MAX_APPLY_ATTEMPTS = 5
/** Early statuses whose wamid never appeared (messages sent from elsewhere) are forgotten after this long. */
const EARLY_STATUS_TTL_MS = 7 * 24 * 3600 * 1000

const simulateInboundSchema = z.object({
  phoneNumber: phoneNumberSchema,
  content: z.string().trim().min(1, 'must not be empty').max(4096),
  contactName: z.string().max(200).nullish(),
})

/** Where the parts of inbound messages other than the message itself go. */
export interface InboundParts {
  reactions: ReactionRepository
  media: MediaService
  /** Told when a customer's file was recorded, to fetch it from Meta. */
  onMediaRecorded: () => void
}

/**
 * Told what applying produced, for the business's event webhooks. Awaited before the delivery
 * counts as applied, so an event is never lost to a crash (a re-apply records it once).
 */
export interface AppliedEvents {
  messageReceived(message: MessageRecord, conversation: ConversationRecord): Promise<void>
  /** `source` names the change (delivery id and position), so applying it twice records one event. */
  templateStatus(change: TemplateStatusChange, source: string): Promise<void>
}

export interface WebhookOptions {
  /** App secrets whose signatures are accepted (two during a rotation). */
  appSecrets: string[]
  verifyToken: string | null
  /** How many deliveries are applied at once (default 32: their statuses share statements). */
  concurrency?: number
  /**
   * Deliveries waiting with their body in memory, at most (default 1,000); beyond that only the id
   * waits and the body is read back in its turn. Meta can deliver faster than statuses are applied
   * (thousands a second in a burst), and the backlog must not grow the process without bound.
   */
  queuedBodiesMax?: number
  onError?: (err: unknown, eventId: number) => void
  /** Allow {@link WebhookService.simulateInbound} (never in production). */
  allowSimulation: boolean
  /** The default business number: the one simulated payloads name, and that of payloads naming none. */
  phoneNumberId: string
  /** Whether a business number is one of ours (webhooks for others are kept until it is added). */
  knownNumber?: (phoneNumberId: string) => Promise<boolean>
  onUnknownNumber?: (phoneNumberId: string, eventId: number) => void
  applied?: AppliedEvents
}

/**
 * Meta's webhooks: verified, stored first (so Meta gets its 200 at once and nothing is lost), then
 * applied: inbound messages, delivery statuses, template status changes.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks
 */
export class WebhookService {
  /** Deliveries to apply: their id, and their body when just received (no need to read it back). */
  private readonly queue: { id: number; body?: string }[] = []
  private running = 0
  private idle: Promise<void> = Promise.resolve()
  private resolveIdle: (() => void) | null = null

  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageRepository,
    private readonly inbound: InboundParts,
    private readonly templates: TemplateRepository,
    private readonly statuses: DeliveryStatusService,
    private readonly events: EventBus,
    private readonly options: WebhookOptions,
  ) {}

  /**
   * Meta's subscription check: the challenge when mode is `subscribe` and the token matches.
   * @throws ForbiddenError otherwise
   */
  verifySubscription(query: Record<string, unknown>): string {
    const { verifyToken } = this.options
    const challenge = query['hub.challenge']
    if (
      verifyToken !== null &&
      query['hub.mode'] === 'subscribe' &&
      query['hub.verify_token'] === verifyToken &&
      typeof challenge === 'string'
    ) {
      return challenge
    }
    throw new ForbiddenError('Webhook verification failed')
  }

  /**
   * Checks the signature over the raw bytes, stores the delivery and queues it for applying.
   * Resolves once stored, so Meta is answered at once.
   * @throws UnauthenticatedError for a missing, malformed or wrong signature (nothing is stored)
   */
  async receive(rawBody: Buffer, signature: string | undefined): Promise<number> {
    if (this.options.appSecrets.length === 0) throw new WebhooksNotConfiguredError()
    if (!isValidSignature(rawBody, signature, this.options.appSecrets)) {
      throw new UnauthenticatedError('Missing or invalid X-Hub-Signature-256')
    }
    const body = rawBody.toString('utf8')
    const id = await this.webhooks.store(body)
    this.enqueue([this.queue.length < (this.options.queuedBodiesMax ?? 1_000) ? { id, body } : { id }])
    return id
  }

  /**
   * Development only: a customer's text message, as a signed webhook from Meta would bring it,
   * through the same store-then-apply path. Returns the stored message.
   * @throws ForbiddenError in production; ValidationError; WebhooksNotConfiguredError
   */
  async simulateInbound(input: unknown): Promise<MessageRecord> {
    if (!this.options.allowSimulation) throw new ForbiddenError('Simulating inbound messages is refused in production')
    const { phoneNumber, content, contactName } = parseInput(simulateInboundSchema, input)
    const secret = this.options.appSecrets[0]
    if (!secret) throw new WebhooksNotConfiguredError()
    const { body, wamid } = simulatedWebhook.inbound(
      phoneNumber,
      content,
      contactName ?? null,
      this.options.phoneNumberId,
    )
    const id = await this.webhooks.store(body)
    await this.apply(id)
    const message = await this.messages.findByWamid(wamid)
    if (!message) throw new Error(`the simulated message ${wamid} was not stored`)
    return message
  }

  /** Queues the deliveries a previous run stored but did not apply. */
  async resumeUnapplied(): Promise<void> {
    await this.statuses.dropEarlyBefore(new Date(Date.now() - EARLY_STATUS_TTL_MS))
    this.enqueue((await this.webhooks.unapplied(10_000)).map((id) => ({ id })))
  }

  /** Resolves when every queued delivery has been applied (tests, shutdown). */
  drained(): Promise<void> {
    return this.idle
  }

  /** Applies one stored delivery; a delivery we cannot apply is marked failed with the reason. */
  async apply(eventId: number, receivedBody?: string): Promise<void> {
    let body = receivedBody
    if (body === undefined) {
      const event = await this.webhooks.find(eventId)
      if (!event || event.status === 'applied') return
      body = event.body
    }
    let changes: WebhookChange[]
    try {
      changes = readWebhook(JSON.parse(body))
    } catch (err) {
      // Not something we can ever apply: kept for inspection.
      this.options.onError?.(err, eventId)
      return this.webhooks.markFailed(eventId, describeError(err))
    }
    try {
      const unknown = await this.unknownNumber(changes)
      if (unknown !== null) {
        // Acknowledged and kept, never lost: applied as a whole once the number is added
        // (applying is idempotent, so a delivery naming a known number too loses nothing by waiting).
        this.options.onUnknownNumber?.(unknown, eventId)
        return this.webhooks.markUnknownNumber(eventId, unknown)
      }
      for (const [i, change] of changes.entries()) await this.applyChange(change, `${eventId}.${i}`)
      await this.webhooks.markApplied(eventId)
    } catch (err) {
      // Applying is idempotent, so a failure of ours (a deadlock, a lost connection) is retried;
      // Meta already has its 200 and will not send it again.
      this.options.onError?.(err, eventId)
      const attempts = await this.webhooks.markForRetry(eventId, describeError(err))
      if (attempts >= MAX_APPLY_ATTEMPTS) return this.webhooks.markFailed(eventId, describeError(err))
      setTimeout(() => this.enqueue([{ id: eventId }]), 200 * 2 ** attempts).unref()
    }
  }

  /** The first business number the changes name that is not one of ours, or null. */
  private async unknownNumber(changes: WebhookChange[]): Promise<string | null> {
    const { knownNumber } = this.options
    if (!knownNumber) return null
    const named = new Set(changes.map((c) => (c.kind === 'template-status' ? null : c.phoneNumberId)))
    for (const id of named) if (id !== null && !(await knownNumber(id))) return id
    return null
  }

  /** A business number was added: the deliveries kept for it are applied now. */
  async numberAdded(phoneNumberId: string): Promise<void> {
    this.enqueue((await this.webhooks.releaseForNumber(phoneNumberId)).map((id) => ({ id })))
  }

  private async applyChange(change: WebhookChange, source: string): Promise<void> {
    switch (change.kind) {
      case 'inbound-message':
        return this.applyInbound(change)
      case 'status':
        return this.statuses.apply(change)
      case 'template-status':
        await this.templates.setStatus(
          change.businessAccountId,
          change.name,
          change.language,
          change.status,
          change.reason,
        )
        await this.options.applied?.templateStatus(change, source)
    }
  }

  private async applyInbound(change: InboundMessageChange): Promise<void> {
    const conversation = await this.conversations.findOrCreateForSender({
      businessPhoneNumberId: change.phoneNumberId ?? this.options.phoneNumberId,
      from: change.from,
      waUserId: change.userId,
      contactName: change.contactName,
    })
    if (change.reaction) return this.applyReaction(conversation.id, change, change.reaction)
    const replyTo = change.contextWamid ? await this.messages.findByWamid(change.contextWamid) : null
    // Stored before the message, under an id derived from its wamid: a delivery applied twice stores one file.
    const mediaId = change.media ? await this.inbound.media.recordInbound(change.wamid, change.media) : null
    const message = await this.messages.addInbound(conversation.id, {
      wamid: change.wamid,
      type: change.type,
      content: change.content,
      payload: change.payload,
      sentByCustomerAt: change.timestamp,
      mediaId,
      filename: change.media?.filename ?? null,
      location: change.location,
      interactive: change.interactive,
      contacts: change.contacts,
      replyToWamid: change.contextWamid,
      replyToMessageId: replyTo?.id ?? null,
    })
    if (mediaId) this.inbound.onMediaRecorded()
    if (message) this.events.publish({ type: 'messageAdded', messageId: message.id, conversationId: conversation.id })
    // Stored by an earlier try of this delivery (or Meta sent it twice): its event may be missing still.
    const stored = message ?? (this.options.applied ? await this.messages.findByWamid(change.wamid) : null)
    if (stored) await this.options.applied?.messageReceived(stored, conversation)
  }

  /** A reaction shows on the message it reacts to; it is not a message of its own. */
  private async applyReaction(
    conversationId: number,
    change: InboundMessageChange,
    reaction: NonNullable<InboundMessageChange['reaction']>,
  ): Promise<void> {
    await this.messages.touchInbound(conversationId, change.timestamp)
    const changed = await this.inbound.reactions.apply({
      targetWamid: reaction.targetWamid,
      actor: 'customer',
      emoji: reaction.emoji,
      reactedAt: change.timestamp,
      wamid: change.wamid,
    })
    const target = changed ? await this.messages.findByWamid(reaction.targetWamid) : null
    if (target)
      this.events.publish({ type: 'messageUpdated', messageId: target.id, conversationId: target.conversationId })
  }

  private enqueue(ids: { id: number; body?: string }[]): void {
    if (ids.length === 0) return
    if (this.running === 0 && this.queue.length === 0) {
      this.idle = new Promise((resolve) => (this.resolveIdle = resolve))
    }
    this.queue.push(...ids)
    const concurrency = this.options.concurrency ?? 32
    while (this.running < concurrency && this.queue.length > 0) {
      this.running++
      void this.work()
    }
  }

  private async work(): Promise<void> {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      const { id, body } = next
      await this.apply(id, body).catch((err) => this.options.onError?.(err, id))
    }
    if (--this.running === 0) this.resolveIdle?.()
  }
}
