import type {
  ConversationRecord,
  ConversationRepository,
  MessageRecord,
  NewMessage,
} from '../conversations/conversation.repository.js'
import { isServiceWindowOpen, serviceWindowExpiresAt } from '../conversations/service-window.js'
import { AppError, InternalError, NotFoundError, ValidationError, WindowClosedError } from '../errors.js'
import type { EventBus } from '../events/event-bus.js'
import type { AcceptedMessage, MetaApi, OutgoingTemplate } from '../meta/meta.client.js'
import { MetaApiError } from '../meta/meta.errors.js'
import { type RetryPolicy, withRetries } from '../meta/meta.retry.js'
import { checkTemplateRequest } from '../templates/template.preflight.js'
import type { TemplateService } from '../templates/template.service.js'
import { renderTemplateText } from '../templates/template.render.js'
import { parseInput } from '../validation.js'
import type { DeliveryStatusService } from './delivery-status.service.js'
import {
  conversationIdSchema,
  sendInConversationSchema,
  MAX_RECIPIENTS,
  sendTemplateSchemaFor,
  type SendTemplateRequest,
  sendTextSchema,
} from './messaging.schemas.js'

export interface SentText {
  message: MessageRecord
  conversation: ConversationRecord
}

export type RecipientResult =
  | { phoneNumber: string; success: true; wamid: string; message: MessageRecord }
  | { phoneNumber: string; success: false; error: AppError; message: MessageRecord | null }

export interface TemplateSendResult {
  summary: { total: number; sent: number; failed: number }
  results: RecipientResult[]
}

/** How many template sends of one request are in flight at once. */
const FAN_OUT_CONCURRENCY = 8

/**
 * Sending messages: text to a number, text in a conversation, templates to many recipients.
 * Every message row is written (`pending`) before Meta is called, and Meta's answer — the wamid,
 * or Meta's error — is recorded on it afterwards.
 */
export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly templates: TemplateService,
    private readonly meta: MetaApi,
    private readonly statuses: DeliveryStatusService,
    private readonly events: EventBus,
    private readonly options: {
      /** Refuse free-form texts outside the customer-service window, before calling Meta. */
      enforceServiceWindow: boolean
      /** Most recipients one template request may carry; more is refused before anything is sent. */
      maxRecipients?: number
      /** Retries of Meta's retryable errors (throughput, transient, 5xx, never-sent). */
      retry: RetryPolicy
      /** Told about failures of ours that are turned into per-recipient results (for the log). */
      onInternalError?: (err: unknown) => void
      /** Told when Meta rejects the access token (190): sends fail until an operator replaces it. */
      onTokenInvalid?: (err: MetaApiError) => void
      now?: () => Date
    },
  ) {
    this.templateSchema = sendTemplateSchemaFor(options.maxRecipients ?? MAX_RECIPIENTS)
  }

  private readonly templateSchema: ReturnType<typeof sendTemplateSchemaFor>

  /** @throws WindowClosedError when enforcing and the customer has not written in the last 24 hours */
  private checkServiceWindow(conversation: ConversationRecord | null): void {
    if (!this.options.enforceServiceWindow) return
    const now = this.options.now?.() ?? new Date()
    if (!isServiceWindowOpen(conversation, now)) {
      throw new WindowClosedError(conversation ? serviceWindowExpiresAt(conversation) : null)
    }
  }

  /**
   * Sends a text to a phone number, creating its conversation if there is none.
   * @throws ValidationError, WindowClosedError, MetaApiError, MetaUnreachableError
   */
  async sendText(input: unknown): Promise<SentText> {
    const { phoneNumber, content, requestId } = parseInput(sendTextSchema, input)
    if (this.options.enforceServiceWindow)
      this.checkServiceWindow(await this.conversations.findByPhoneNumber(phoneNumber))
    const conversation = await this.conversations.findOrCreate(phoneNumber, requestId)
    const message = await this.deliverOrThrow(
      conversation,
      { type: 'text', content, requestId: requestId ?? conversation.requestId },
      () => this.meta.sendText(phoneNumber, content),
    )
    return { message, conversation }
  }

  /**
   * Sends a text in an existing conversation.
   * @throws ValidationError, NotFoundError, WindowClosedError, MetaApiError, MetaUnreachableError
   */
  async sendInConversation(conversationId: unknown, input: unknown): Promise<MessageRecord> {
    const id = parseInput(conversationIdSchema, conversationId, 'conversationId')
    const { content } = parseInput(sendInConversationSchema, input)
    const conversation = await this.conversations.findById(id)
    if (!conversation) throw new NotFoundError(`Conversation ${id} does not exist`)
    this.checkServiceWindow(conversation)
    const to = conversation.phoneNumber
    if (!to) {
      throw new ValidationError([
        { path: 'conversationId', message: 'this customer has no phone number we can send to (a username-only user)' },
      ])
    }
    return this.deliverOrThrow(conversation, { type: 'text', content, requestId: conversation.requestId }, () =>
      this.meta.sendText(to, content),
    )
  }

  /**
   * Sends an approved template to every recipient. One recipient failing never fails the others:
   * each gets its own result, and each send is stored as a `template` message in that recipient's
   * conversation.
   * @throws ValidationError when the request is invalid or does not fit the approved template
   *   (nothing is sent then)
   */
  async sendTemplate(input: unknown): Promise<TemplateSendResult> {
    const request = parseInput(this.templateSchema, input)
    const template = { name: request.templateName, language: request.languageCode, components: request.components }
    // Pre-flight: refuse what Meta would refuse for every recipient, before anyone is contacted.
    const known = await this.templates.findForSend(template.name, template.language)
    if (!known) {
      throw new ValidationError([
        {
          path: 'templateName',
          message: `Meta has no template ${template.name} in language ${template.language} (synced just now)`,
        },
      ])
    }
    const problems = checkTemplateRequest(known, request)
    if (problems.length) throw new ValidationError(problems)
    const content = renderTemplateText(known.components, request.components) ?? `[template ${template.name}]`

    const results = await mapWithConcurrency(request.recipients, FAN_OUT_CONCURRENCY, async (recipient) => {
      try {
        return await this.sendTemplateTo(recipient, template, content)
      } catch (err) {
        // A failure of ours (database) for one recipient must not abort the others.
        this.options.onInternalError?.(err)
        return {
          phoneNumber: recipient.phoneNumber,
          success: false as const,
          error: new InternalError(err),
          message: null,
        }
      }
    })
    const sent = results.filter((r) => r.success).length
    return { summary: { total: results.length, sent, failed: results.length - sent }, results }
  }

  private async sendTemplateTo(
    recipient: SendTemplateRequest['recipients'][number],
    template: OutgoingTemplate,
    content: string,
  ): Promise<RecipientResult> {
    const conversation = await this.conversations.findOrCreate(recipient.to, recipient.requestId)
    const { message, error } = await this.deliver(
      conversation,
      { type: 'template', content, template, requestId: recipient.requestId ?? conversation.requestId },
      () => this.meta.sendTemplate(recipient.to, template),
    )
    return error
      ? { phoneNumber: recipient.phoneNumber, success: false as const, error, message }
      : { phoneNumber: recipient.phoneNumber, success: true as const, wamid: message.wamid!, message }
  }

  private async deliverOrThrow(
    conversation: ConversationRecord,
    message: Omit<NewMessage, 'direction' | 'status'>,
    send: () => Promise<AcceptedMessage>,
  ): Promise<MessageRecord> {
    const outcome = await this.deliver(conversation, message, send)
    if (outcome.error) throw outcome.error
    return outcome.message
  }

  /** Writes the message as pending, calls Meta, records the outcome. Meta's refusals are returned. */
  private async deliver(
    conversation: ConversationRecord,
    message: Omit<NewMessage, 'direction' | 'status'>,
    send: () => Promise<AcceptedMessage>,
  ): Promise<{ message: MessageRecord; error: AppError | null }> {
    const pending = await this.conversations.addMessage(conversation.id, {
      ...message,
      direction: 'outbound',
      status: 'pending',
    })
    const event = { messageId: pending.id, conversationId: conversation.id }
    this.events.publish({ type: 'messageAdded', ...event })
    let accepted: AcceptedMessage
    try {
      accepted = await withRetries(send, this.options.retry)
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      if (err instanceof MetaApiError && err.code === 'META_TOKEN_INVALID') this.options.onTokenInvalid?.(err)
      const failed = await this.conversations.recordOutcome(pending.id, {
        status: 'failed',
        errorCode: err instanceof MetaApiError ? err.metaCode : null,
        errorMessage: err.message,
        errorDetails: err instanceof MetaApiError ? err.metaDetails : null,
        errorTraceId: err instanceof MetaApiError ? err.fbtraceId : null,
      })
      this.events.publish({ type: 'messageStatusChanged', ...event })
      return { message: failed, error: err }
    }
    const sent = await this.conversations.recordOutcome(pending.id, { status: 'sent', wamid: accepted.wamid })
    this.events.publish({ type: 'messageStatusChanged', ...event })
    if (await this.statuses.flushPending(accepted.wamid)) {
      return { message: (await this.conversations.findMessage(sent.id)) ?? sent, error: null }
    }
    return { message: sent, error: null }
  }
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of `items` in the result. */
export async function mapWithConcurrency<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
