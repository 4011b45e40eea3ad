import type { BatchService } from '../batches/batch.service.js'
import type {
  ConversationRecord,
  ConversationRepository,
  MessageRecord,
} from '../conversations/conversation.repository.js'
import { isServiceWindowOpen, serviceWindowExpiresAt } from '../conversations/service-window.js'
import { AppError, NotFoundError, ValidationError, WindowClosedError } from '../errors.js'
import type { EventBus } from '../events/event-bus.js'
import type { IdempotencyKeyInput, IdempotencyService } from '../idempotency/idempotency.service.js'
import type { AcceptedMessage, MetaApi, SendOptions } from '../meta/meta.client.js'
import { checkTemplateRequest } from '../templates/template.preflight.js'
import type { TemplateService } from '../templates/template.service.js'
import { renderTemplateText } from '../templates/template.render.js'
import { parseInput } from '../validation.js'
import type { MessageSender } from './message-sender.js'
import {
  conversationIdSchema,
  sendInConversationSchema,
  MAX_RECIPIENTS,
  sendTemplateSchemaFor,
  sendTextSchema,
} from './messaging.schemas.js'

export interface SentText {
  message: MessageRecord
  conversation: ConversationRecord
}

export type RecipientResult =
  | { phoneNumber: string; success: true; wamid: string; message: MessageRecord }
  | { phoneNumber: string; success: false; error: AppError; message: MessageRecord }

export interface TemplateSendResult {
  batchId: number
  /** `failed` counts every recipient not sent; `unknown` how many of those Meta may still have taken. */
  summary: { total: number; sent: number; failed: number; unknown: number }
  results: RecipientResult[]
}

/**
 * Sending messages: text to a number, text in a conversation, templates to many recipients.
 * Every message row is written (`pending`) before Meta is called, and Meta's answer — the wamid,
 * or Meta's error — is recorded on it afterwards (see {@link MessageSender}). Each send may carry
 * an idempotency key.
 */
export class MessagingService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly templates: TemplateService,
    private readonly meta: MetaApi,
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
   * @throws ValidationError, WindowClosedError, MetaApiError, MetaUnreachableError, DeliveryUnknownError,
   *   and the idempotency errors
   */
  async sendText(input: unknown, idempotency?: IdempotencyKeyInput): Promise<SentText> {
    const request = parseInput(sendTextSchema, input)
    return this.idempotency.run(idempotency, 'sendText', request, async () => {
      const { phoneNumber, content, requestId } = request
      if (this.options.enforceServiceWindow)
        this.checkServiceWindow(await this.conversations.findByPhoneNumber(phoneNumber))
      const stored = await this.conversations.addMessageToNumber(phoneNumber, requestId ?? null, {
        direction: 'outbound',
        type: 'text',
        content,
        status: 'pending',
        attemptedAt: new Date(),
      })
      const message = await this.sendStored(stored.message, (o) => this.meta.sendText(phoneNumber, content, o))
      return { message, conversation: stored.conversation }
    })
  }

  /**
   * Sends a text in an existing conversation.
   * @throws ValidationError, NotFoundError, WindowClosedError, MetaApiError, MetaUnreachableError,
   *   DeliveryUnknownError, and the idempotency errors
   */
  async sendInConversation(
    conversationId: unknown,
    input: unknown,
    idempotency?: IdempotencyKeyInput,
  ): Promise<MessageRecord> {
    const id = parseInput(conversationIdSchema, conversationId, 'conversationId')
    const { content } = parseInput(sendInConversationSchema, input)
    return this.idempotency.run(idempotency, 'sendInConversation', { id, content }, async () => {
      const conversation = await this.conversations.findById(id)
      if (!conversation) throw new NotFoundError(`Conversation ${id} does not exist`)
      this.checkServiceWindow(conversation)
      const to = conversation.phoneNumber
      if (!to) {
        throw new ValidationError([
          {
            path: 'conversationId',
            message: 'this customer has no phone number we can send to (a username-only user)',
          },
        ])
      }
      return this.sendNew(conversation, content, conversation.requestId, (o) => this.meta.sendText(to, content, o))
    })
  }

  /**
   * Sends an approved template to every recipient, as one stored batch. One recipient failing
   * never fails the others: each gets its own result and its own `template` message.
   * @throws ValidationError when the request is invalid or does not fit the approved template
   *   (nothing is sent then); ServiceStoppingError when shutting down mid-way (the batch resumes);
   *   BatchInterruptedError when the batch's last recipients could not be stored (sent later)
   */
  async sendTemplate(input: unknown, idempotency?: IdempotencyKeyInput): Promise<TemplateSendResult> {
    const request = parseInput(this.templateSchema, input)
    return this.idempotency.run(idempotency, 'sendTemplate', request, async () => {
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

      const { batch, outcomes } = await this.batches.run(template, content, request.recipients)
      const results = outcomes.map(({ phoneNumber, message, error }): RecipientResult =>
        error
          ? { phoneNumber, success: false, error, message }
          : { phoneNumber, success: true, wamid: message.wamid!, message },
      )
      const sent = results.filter((r) => r.success).length
      const unknown = results.filter((r) => !r.success && r.error.code === 'META_OUTCOME_UNKNOWN').length
      return {
        batchId: batch.id,
        summary: { total: results.length, sent, failed: results.length - sent, unknown },
        results,
      }
    })
  }

  /** Stores a pending text and sends it. @throws what Meta answered when it was not sent */
  private async sendNew(
    conversation: ConversationRecord,
    content: string,
    requestId: number | null,
    call: (options: SendOptions) => Promise<AcceptedMessage>,
  ): Promise<MessageRecord> {
    const pending = await this.conversations.addMessage(conversation.id, {
      direction: 'outbound',
      type: 'text',
      content,
      status: 'pending',
      requestId,
      attemptedAt: new Date(),
    })
    return this.sendStored(pending, call)
  }

  /** Sends a message stored `pending` (already claimed). @throws what Meta answered when it was not sent */
  private async sendStored(
    pending: MessageRecord,
    call: (options: SendOptions) => Promise<AcceptedMessage>,
  ): Promise<MessageRecord> {
    this.events.publish({ type: 'messageAdded', messageId: pending.id, conversationId: pending.conversationId })
    const { message, error } = await this.sender.send(pending, call)
    if (error) throw error
    return message
  }
}
