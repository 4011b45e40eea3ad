import { idSchema } from '../shared/ids.js'
import type { BatchRecipientOutcome, BatchService } from '../batches/batch.service.js'
import type { ConversationRepository } from '../conversations/conversation.repository.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { MessageRepository } from '../messages/message.repository.js'
import { isServiceWindowOpen, serviceWindowExpiresAt } from '../conversations/service-window.js'
import {
  AppError,
  BatchInterruptedError,
  ForbiddenError,
  InternalError,
  NotFoundError,
  ValidationError,
  WindowClosedError,
} from '../errors/errors.js'
import type { EventBus } from '../events/event-bus.js'
import type { IdempotencyKeyInput, IdempotencyService, Progress, Resumed } from '../idempotency/idempotency.service.js'
import type { NumberChannel, NumberChannels } from '../business-numbers/number-channels.js'
import { mayUse, type NumberScope } from '../auth/principal.js'
import type { ReactionRepository } from '../messages/reaction.repository.js'
import { checkTemplateRequest } from '../templates/template.preflight.js'
import type { TemplateService } from '../templates/template.service.js'
import { renderTemplateText } from '../templates/template.render.js'
import { parseInput } from '../validation.js'
import type { ContentRequest } from './message-content.schemas.js'
import { type MessageSender, storedFailure } from '../messages/message-sender.js'
import {
  markReadSchema,
  MAX_RECIPIENTS,
  sendInConversationSchema,
  sendTemplateSchemaFor,
  sendToNumberSchema,
} from './messaging.schemas.js'
import type { ContentPreparer, PreparedContent } from './outgoing-content.js'

export interface SentMessage {
  message: MessageRecord
  conversation: ConversationRecord
}

export type RecipientResult =
  | { phoneNumber: string; success: true; wamid: string; message: MessageRecord }
  | { phoneNumber: string; success: false; error: AppError; message: MessageRecord }

/**
 * A send as the service takes it, by the name of its operation: what a scheduled send stores and
 * replays at its time (see scheduled/).
 */
export type SendRequest =
  | { kind: 'sendText'; input: unknown }
  | { kind: 'sendInConversation'; conversationId: unknown; input: unknown }
  | { kind: 'sendTemplate'; input: unknown }

/** Whom a checked send goes to, and the template it uses. */
export interface SendTarget {
  /** The business number it goes from. */
  from: string
  phoneNumber: string | null
  conversationId: number | null
  template: { name: string; language: string } | null
}

export interface TemplateSendResult {
  batchId: number
  /** `failed` counts every recipient not sent; `unknown` how many of those Meta may still have taken. */
  summary: { total: number; sent: number; failed: number; unknown: number }
  results: RecipientResult[]
}

/**
 * Sending messages of every kind to a number or in a conversation, templates to many recipients,
 * and read receipts.
 * Every message row is written (`pending`) before Meta is called, and Meta's answer — the wamid,
 * or Meta's error — is recorded on it afterwards (see {@link MessageSender}). Each send may carry
 * an idempotency key.
 */
export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageRepository,
    private readonly reactions: ReactionRepository,
    private readonly content: ContentPreparer,
    private readonly templates: TemplateService,
    private readonly channels: NumberChannels,
    private readonly sender: MessageSender,
    private readonly batches: BatchService,
    private readonly idempotency: IdempotencyService,
    private readonly events: EventBus,
    private readonly options: {
      /** Refuse free-form texts outside the customer-service window, before calling Meta. */
      enforceServiceWindow: boolean
      /** Most recipients one template request may carry; more is refused before anything is sent. */
      maxRecipients?: number
      now?: () => Date
    },
  ) {
    this.templateSchema = sendTemplateSchemaFor(options.maxRecipients ?? MAX_RECIPIENTS)
  }

  /** A template request's schema, with this service's cap on recipients (the OpenAPI document shows it). */
  readonly templateSchema: ReturnType<typeof sendTemplateSchemaFor>

  /** @throws WindowClosedError when enforcing and the customer has not written in the last 24 hours */
  private checkServiceWindow(conversation: ConversationRecord | null): void {
    if (!this.options.enforceServiceWindow) return
    const now = this.options.now?.() ?? new Date()
    if (!isServiceWindowOpen(conversation, now)) {
      throw new WindowClosedError(conversation ? serviceWindowExpiresAt(conversation) : null)
    }
  }

  /**
   * Sends a message of any kind to a phone number, creating its conversation if there is none.
   * @throws ValidationError, WindowClosedError, MetaApiError, MetaUnreachableError, DeliveryUnknownError,
   *   and the idempotency errors
   */
  async sendToNumber(
    input: unknown,
    idempotency?: IdempotencyKeyInput,
    scope: NumberScope = null,
    /** The name of the key that sends it (the message's `sentBy`). */
    sentBy: string | null = null,
  ): Promise<SentMessage> {
    const request = parseInput(sendToNumberSchema, input)
    const { phoneNumber, requestId, message } = request
    const channel = await this.channelFor(request.from, scope)
    // A plain text keeps the fingerprint it always had, so a key used before rich messages still replays.
    const fingerprint = isPlainText(message)
      ? { phoneNumber, content: message.content, requestId, ...(request.from ? { from: request.from } : {}) }
      : request
    return this.idempotency.run(
      idempotency,
      'sendText',
      fingerprint,
      async (track) => {
        // Read only when needed: a plain send to a number is one statement before Meta and one after.
        const existing =
          this.options.enforceServiceWindow || message.replyTo !== null
            ? await this.conversations.findByPhoneNumber(channel.phoneNumberId, phoneNumber)
            : null
        this.checkServiceWindow(existing)
        const prepared = await this.content.prepare(existing, message)
        const stored = await this.messages.addToNumber(channel.phoneNumberId, phoneNumber, requestId ?? null, {
          ...this.pendingOf(prepared),
          sentBy,
          attemptedAt: new Date(),
        })
        await track({ messageId: stored.message.id })
        const sent = await this.sendStored(stored.message, prepared, phoneNumber, channel)
        // A conversation's first send taught it the customer's WhatsApp id (see DeliveryRepository.recordSent).
        const learned = stored.conversation.waId === null && sent.wamid !== null
        const conversation =
          (learned && (await this.conversations.findById(stored.conversation.id))) || stored.conversation
        return { message: sent, conversation }
      },
      async (progress) => {
        const resumed = await this.resumeSend(progress)
        if (!('value' in resumed)) return resumed
        const conversation = await this.conversations.findById(resumed.value.conversationId)
        return { ...resumed, value: { message: resumed.value, conversation: conversation! } }
      },
    )
  }

  /**
   * Sends a message of any kind in an existing conversation.
   * @throws ValidationError, NotFoundError, WindowClosedError, MetaApiError, MetaUnreachableError,
   *   DeliveryUnknownError, and the idempotency errors
   */
  async sendInConversation(
    conversationId: unknown,
    input: unknown,
    idempotency?: IdempotencyKeyInput,
    scope: NumberScope = null,
    /** The name of the key that sends it (the message's `sentBy`). */
    sentBy: string | null = null,
  ): Promise<MessageRecord> {
    const id = parseInput(idSchema, conversationId, 'conversationId')
    const { message } = parseInput(sendInConversationSchema, input)
    const fingerprint = isPlainText(message) ? { id, content: message.content } : { id, message }
    return this.idempotency.run(
      idempotency,
      'sendInConversation',
      fingerprint,
      async (track) => {
        const conversation = await this.conversations.findById(id, scope)
        if (!conversation) throw new NotFoundError(`Conversation ${id} does not exist`)
        // A conversation's messages always go out from its own number.
        const channel = await this.conversationChannel(conversation)
        this.checkServiceWindow(conversation)
        const to = conversation.phoneNumber
        if (!to) throw noNumber()
        const prepared = await this.content.prepare(conversation, message)
        const pending = await this.messages.add(conversation.id, {
          ...this.pendingOf(prepared),
          requestId: conversation.requestId,
          sentBy,
          attemptedAt: new Date(),
        })
        await track({ messageId: pending.id })
        return this.sendStored(pending, prepared, to, channel)
      },
      (progress) => this.resumeSend(progress),
    )
  }

  /**
   * The outcome of a send whose process died after storing its message: what the message shows
   * now. Never sent again: `pending` or `unknown` may have reached Meta (its status webhook settles it).
   */
  private async resumeSend(progress: Progress): Promise<Resumed<MessageRecord>> {
    const message = 'messageId' in progress ? await this.messages.findById(progress.messageId) : null
    if (!message)
      return { settled: true, error: new InternalError(new Error(`no message for ${JSON.stringify(progress)}`)) }
    const error = storedFailure(message)
    return error ? { settled: message.status === 'failed', error } : { settled: true, value: message }
  }

  /**
   * Tells Meta that the customer's latest message (and those before it) was read, optionally
   * showing the typing indicator, and records it: newer inbound messages count as unread.
   * @throws ValidationError, NotFoundError, MetaApiError, MetaUnreachableError
   */
  async markRead(conversationId: unknown, input: unknown, scope: NumberScope = null): Promise<ConversationRecord> {
    const id = parseInput(idSchema, conversationId, 'conversationId')
    const { typing } = parseInput(markReadSchema, input ?? {})
    const conversation = await this.conversations.findById(id, scope)
    if (!conversation) throw new NotFoundError(`Conversation ${id} does not exist`)
    const latest = await this.messages.latestInbound(id)
    if (!latest) return conversation
    const now = this.options.now?.() ?? new Date()
    // Meta takes read receipts for 30 days after a message arrived; older ones are recorded here only.
    if (now.getTime() - latest.createdAt.getTime() < READ_RECEIPT_MAX_AGE_MS) {
      await (await this.conversationChannel(conversation)).meta.markRead(latest.wamid!, { typing })
    }
    return this.conversations.recordRead(id, latest.id, now)
  }

  /**
   * Checks a send without making it (one scheduled for later): the request's shape, the
   * conversation it names, the template and its parameters. What depends on the time of sending
   * (the service window, the template's status) is checked again when it is sent.
   * @throws ValidationError, NotFoundError
   */
  async check(request: SendRequest, scope: NumberScope = null): Promise<SendTarget> {
    switch (request.kind) {
      case 'sendText': {
        const { phoneNumber, from } = parseInput(sendToNumberSchema, request.input)
        const channel = await this.channelFor(from, scope)
        return { from: channel.phoneNumberId, phoneNumber, conversationId: null, template: null }
      }
      case 'sendInConversation': {
        const id = parseInput(idSchema, request.conversationId, 'conversationId')
        parseInput(sendInConversationSchema, request.input)
        const conversation = await this.conversations.findById(id, scope)
        if (!conversation) throw new NotFoundError(`Conversation ${id} does not exist`)
        if (!conversation.phoneNumber) throw noNumber()
        return {
          from: conversation.businessPhoneNumberId ?? this.channels.defaultNumber,
          phoneNumber: conversation.phoneNumber,
          conversationId: id,
          template: null,
        }
      }
      case 'sendTemplate': {
        const parsed = parseInput(this.templateSchema, request.input)
        const channel = await this.channelFor(parsed.from, scope)
        const known = await this.knownTemplate(channel, parsed.templateName, parsed.languageCode)
        // A pause is lifted by Meta after hours: the status is checked again at send time.
        const problems = checkTemplateRequest(
          known.status === 'PAUSED' ? { ...known, status: 'APPROVED' } : known,
          parsed,
        )
        if (problems.length) throw new ValidationError(problems)
        const only = parsed.recipients.length === 1 ? parsed.recipients[0].to : null
        return {
          from: channel.phoneNumberId,
          phoneNumber: only,
          conversationId: null,
          template: { name: parsed.templateName, language: parsed.languageCode },
        }
      }
    }
  }

  /** The synced template, or a 422 naming `templateName`. */
  private async knownTemplate(channel: NumberChannel, name: string, language: string) {
    const known = await this.templates.findForSend(channel, name, language)
    if (!known) {
      throw new ValidationError([
        { path: 'templateName', message: `Meta has no template ${name} in language ${language} (synced just now)` },
      ])
    }
    return known
  }

  /**
   * Sends an approved template to every recipient, as one stored batch. One recipient failing
   * never fails the others: each gets its own result and its own `template` message.
   * @throws ValidationError when the request is invalid or does not fit the approved template
   *   (nothing is sent then); ServiceStoppingError when shutting down mid-way (the batch resumes);
   *   BatchInterruptedError when the batch's last recipients could not be stored (sent later)
   */
  async sendTemplate(
    input: unknown,
    idempotency?: IdempotencyKeyInput,
    scope: NumberScope = null,
    /** The name of the key that sends it (the message's `sentBy`). */
    sentBy: string | null = null,
  ): Promise<TemplateSendResult> {
    const request = parseInput(this.templateSchema, input)
    const channel = await this.channelFor(request.from, scope)
    return this.idempotency.run(
      idempotency,
      'sendTemplate',
      request,
      async (track) => {
        const template = { name: request.templateName, language: request.languageCode, components: request.components }
        // Pre-flight: refuse what Meta would refuse for every recipient, before anyone is contacted.
        // Checked against the templates of the sending number's Business Account.
        const known = await this.knownTemplate(channel, template.name, template.language)
        const problems = checkTemplateRequest(known, request)
        if (problems.length) throw new ValidationError(problems)
        const content = renderTemplateText(known.components, request.components) ?? `[template ${template.name}]`

        const { batch, outcomes } = await this.batches.run(
          channel.phoneNumberId,
          template,
          content,
          request.recipients,
          (id) => track({ batchId: id }),
          sentBy,
        )
        return templateResult(batch.id, outcomes)
      },
      // A fan-out whose process died is finished by another instance: its outcome once it completes.
      async (progress): Promise<Resumed<TemplateSendResult>> => {
        const batchId = 'batchId' in progress ? progress.batchId : 0
        const outcomes = await this.batches.outcomesIfCompleted(batchId)
        return outcomes
          ? { settled: true, value: templateResult(batchId, outcomes) }
          : { settled: false, error: new BatchInterruptedError(batchId, null) }
      },
    )
  }

  /**
   * The number a send goes from: `from`, else the default number (or, for a key limited to other
   * numbers, its first one).
   * @throws ForbiddenError for a number outside the caller's; ValidationError for one never added
   */
  private async channelFor(from: string | null | undefined, scope: NumberScope): Promise<NumberChannel> {
    const fallback = mayUse(scope, this.channels.defaultNumber) ? this.channels.defaultNumber : scope![0]
    const id = from ?? fallback
    if (!mayUse(scope, id)) throw new ForbiddenError(`This key may not send from business number ${id}`)
    const channel = id === undefined ? null : await this.channels.channel(id)
    if (!channel)
      throw new ValidationError([{ path: 'from', message: `${id} is not a business number of this service` }])
    return channel
  }

  /** The channel of a conversation's own number. */
  private async conversationChannel(conversation: ConversationRecord): Promise<NumberChannel> {
    const id = conversation.businessPhoneNumberId ?? this.channels.defaultNumber
    const channel = await this.channels.channel(id)
    if (!channel)
      throw new InternalError(new Error(`conversation ${conversation.id}: business number ${id} is not added`))
    return channel
  }

  /** The pending row of a prepared send. */
  private pendingOf(prepared: PreparedContent) {
    return {
      direction: 'outbound' as const,
      type: prepared.type,
      content: prepared.content,
      status: 'pending' as const,
      ...prepared.parts,
    }
  }

  /** Sends a message stored `pending` (already claimed). @throws what Meta answered when it was not sent */
  private async sendStored(
    pending: MessageRecord,
    prepared: PreparedContent,
    to: string,
    channel: NumberChannel,
  ): Promise<MessageRecord> {
    // A reaction is no new bubble: dashboards hear of it as a change of the message it reacts to.
    if (prepared.type !== 'reaction') {
      this.events.publish({ type: 'messageAdded', messageId: pending.id, conversationId: pending.conversationId })
    }
    const { message, error } = await this.sender.send(
      pending,
      (o) => channel.meta.sendMessage(to, prepared.outgoing, o),
      channel.rate,
    )
    if (error) throw error
    if (prepared.outgoing.content.type === 'reaction') await this.recordReaction(message, prepared)
    return message
  }

  /** Our reaction, once Meta took it, shows on the message it reacts to. */
  private async recordReaction(message: MessageRecord, prepared: PreparedContent): Promise<void> {
    const target = prepared.parts.replyToMessageId!
    await this.reactions.apply({
      targetWamid: prepared.parts.replyToWamid!,
      actor: 'business',
      emoji: prepared.content,
      reactedAt: message.createdAt,
      wamid: message.wamid,
    })
    this.events.publish({ type: 'messageUpdated', messageId: target, conversationId: message.conversationId })
  }
}

/** The answer to a template request: each recipient's outcome, and how many of each. */
function templateResult(batchId: number, outcomes: BatchRecipientOutcome[]): TemplateSendResult {
  const results = outcomes.map(({ phoneNumber, message, error }): RecipientResult =>
    error
      ? { phoneNumber, success: false, error, message }
      : { phoneNumber, success: true, wamid: message.wamid!, message },
  )
  const sent = results.filter((r) => r.success).length
  const unknown = results.filter((r) => !r.success && r.error.code === 'META_OUTCOME_UNKNOWN').length
  return { batchId, summary: { total: results.length, sent, failed: results.length - sent, unknown }, results }
}

/** A conversation with a username-only customer: nothing to send to. */
const noNumber = () =>
  new ValidationError([
    { path: 'conversationId', message: 'this customer has no phone number we can send to (a username-only user)' },
  ])

/** A text with no reply: the request as it was before other kinds existed. */
const isPlainText = (m: ContentRequest): m is Extract<ContentRequest, { type: 'text' }> =>
  m.type === 'text' && m.replyTo === null

/** Meta refuses read receipts for messages older than this. */
const READ_RECEIPT_MAX_AGE_MS = 30 * 24 * 3600 * 1000
