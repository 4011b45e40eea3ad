import type { MessageRecord } from './message.records.js'
import type { DeliveryRepository } from './delivery.repository.js'
import { AppError, ReplayedError } from '../errors/errors.js'
import type { EventBus } from '../events/event-bus.js'
import type { AcceptedMessage, SendOptions } from '../meta/meta.api.js'
import { DeliveryUnknownError, MetaApiError, MetaUnreachableError } from '../meta/meta.errors.js'
import { type RetryPolicy, withRetries } from '../meta/meta.retry.js'
import type { DeliveryStatusService } from './delivery-status.service.js'
import type { SendRateLimiter } from './send-rate.js'

/** How a send ended: the stored message, and the error when it was not sent. */
export interface SendOutcome {
  message: MessageRecord
  error: AppError | null
}

/**
 * Calls Meta for a message already stored as `pending`, and records what happened:
 * `sent` with its wamid; `failed` with Meta's code and details (permanent errors at once,
 * retryable ones once retries run out); or `unknown` when Meta's answer never came — then the
 * message is not sent again but settled by its status webhook.
 */
export class MessageSender {
  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly statuses: DeliveryStatusService,
    private readonly events: EventBus,
    private readonly rate: SendRateLimiter,
    private readonly options: {
      retry: RetryPolicy
      /** Told when Meta rejects the access token (190): sends fail until an operator replaces it. */
      onTokenInvalid?: (err: MetaApiError) => void
      /** Told about failures of ours after a send succeeded (for the log). */
      onError?: (err: unknown) => void
    },
  ) {}

  /**
   * Sends `message` with `call` (given the callback data options to pass to Meta). Every attempt
   * takes a slot of the send-rate limit. Meta's refusals are returned, not thrown.
   */
  async send(
    message: MessageRecord,
    call: (options: SendOptions) => Promise<AcceptedMessage>,
    /** The send-rate limit of the business number it goes from (default: the default number's). */
    rate: SendRateLimiter = this.rate,
  ): Promise<SendOutcome> {
    const event = { messageId: message.id, conversationId: message.conversationId }
    // A message stored with `attemptedAt` (a single send) is already claimed for its first attempt.
    let claimed = message.attemptedAt !== null
    let first = true
    let accepted: AcceptedMessage
    try {
      accepted = await withRetries(async () => {
        const slot = await rate.reserve()
        // Claimed while the slot comes near: a database round trip between the slot and the
        // request would let sends bunch up on their way to Meta.
        if (!claimed && !(await this.deliveries.markAttempt(message.id, first))) throw new ClaimLost()
        claimed = false // each retry is a new attempt, claimed anew
        first = false
        const ticket = await slot.go()
        try {
          return await call({ messageId: message.id, onWritten: ticket.written })
        } finally {
          ticket.written()
        }
      }, this.options.retry)
    } catch (err) {
      if (err instanceof ClaimLost) {
        // Another sender has it, or a status webhook settled it: nothing for us to send.
        const current = (await this.deliveries.findById(message.id)) ?? message
        const settled = current.wamid !== null && current.status !== 'failed'
        return { message: current, error: settled ? null : new DeliveryUnknownError(message.id, err) }
      }
      if (!(err instanceof AppError)) throw err
      const outcome = await this.recordFailure(message.id, err)
      this.events.publish({ type: 'messageStatusChanged', ...event })
      return outcome
    }
    const recorded = await this.deliveries.recordSent(message.id, accepted.wamid, accepted.recipient)
    // Null when a status webhook settled it first; recordOutcome then keeps what it knows.
    const sent =
      recorded.message ?? (await this.deliveries.recordOutcome(message.id, { status: 'sent', wamid: accepted.wamid }))
    this.events.publish({ type: 'messageStatusChanged', ...event })
    try {
      if (recorded.early.length && (await this.statuses.applyEarly(recorded.early))) {
        return { message: (await this.deliveries.findById(sent.id)) ?? sent, error: null }
      }
    } catch (err) {
      // The message is sent and recorded; its early statuses are applied by the next webhook.
      this.options.onError?.(err)
    }
    return { message: sent, error: null }
  }

  private async recordFailure(messageId: number, err: AppError): Promise<SendOutcome> {
    if (err instanceof MetaUnreachableError && !err.notSent) {
      // Meta may have taken it: a resend could reach the customer twice.
      const message = await this.deliveries.recordOutcome(messageId, {
        status: 'unknown',
        errorMessage: err.message,
      })
      // Its status webhook may have settled it already (found through our callback data).
      const settled = message.status !== 'unknown' && message.status !== 'failed' && message.wamid !== null
      return { message, error: settled ? null : new DeliveryUnknownError(messageId, err) }
    }
    if (err instanceof MetaApiError && err.code === 'META_TOKEN_INVALID') this.options.onTokenInvalid?.(err)
    const message = await this.deliveries.recordOutcome(messageId, {
      status: 'failed',
      errorCode: err instanceof MetaApiError ? err.metaCode : null,
      errorMessage: err.message,
      errorDetails: err instanceof MetaApiError ? err.metaDetails : null,
      errorTraceId: err instanceof MetaApiError ? err.fbtraceId : null,
    })
    return { message, error: err }
  }
}

/**
 * The error a stored outbound message stands for, read back later (a takeover after its sender
 * died): null when Meta took it; its refusal when it failed; unknown while Meta's answer is missing.
 */
export function storedFailure(message: MessageRecord): AppError | null {
  if (message.wamid !== null && message.status !== 'failed' && message.status !== 'pending') return null
  if (message.status === 'failed') {
    return new ReplayedError('META_API_ERROR', 502, message.errorMessage ?? 'Failed', {
      meta: { code: message.errorCode, details: message.errorDetails, fbtrace_id: message.errorTraceId },
    })
  }
  return new DeliveryUnknownError(message.id, null)
}

/** The message was no longer ours to send (see DeliveryRepository.markAttempt). */
class ClaimLost extends Error {
  override name = 'ClaimLost'
}
