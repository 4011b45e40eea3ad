import type { NumberScope } from '../auth/principal.js'
import { domainError } from '../errors/error.answers.js'
import {
  type AppError,
  NotFoundError,
  ScheduledSendStartedError,
  TemplateUnavailableError,
  ValidationError,
} from '../errors/errors.js'
import type { EventBus } from '../events/event-bus.js'
import type { IdempotencyKeyInput, IdempotencyService } from '../idempotency/idempotency.service.js'
import type { MessagingService, SendRequest, SendTarget } from '../messaging/messaging.service.js'
import { type Page, toPage } from '../shared/pagination.js'
import type { TemplateRepository } from '../templates/template.repository.js'
import { parseInput } from '../validation.js'
import type { ScheduledOutcome, ScheduledSendRecord, ScheduledSendRepository } from './scheduled-send.repository.js'
import { idSchema, listSchema, sendAtProblem, sendAtSchema } from './scheduled-send.schemas.js'

/** The idempotency scope of scheduled sends' own keys (API callers' scopes are token digests). */
const SCOPE = 'scheduled-sends'

/**
 * What became of a claimed send: an outcome to record, or try again later / when due again (`cause`
 * is what to log; null for the expected wait on a dead instance's idempotency key).
 */
export type Delivery = { outcome: ScheduledOutcome } | { retry: 'later' | 'unclaim'; cause: unknown }

/**
 * Sends to make later: checked and stored now, replayed at their time through MessagingService, the
 * very code path of an immediate send (pre-flight checks, rate limits, batches, idempotency). The
 * timer that sends them is the ScheduledSendScheduler.
 */
export class ScheduledSendService {
  private readonly listeners: ((send: ScheduledSendRecord) => void)[] = []

  constructor(
    private readonly sends: ScheduledSendRepository,
    private readonly messaging: MessagingService,
    private readonly templates: TemplateRepository,
    private readonly idempotency: IdempotencyService,
    private readonly events: EventBus,
    private readonly options: { now?: () => Date } = {},
  ) {}

  /** Told of each new scheduled send in this instance (the scheduler re-arms its timer). */
  onScheduled(listener: (send: ScheduledSendRecord) => void): void {
    this.listeners.push(listener)
  }

  /**
   * Checks a send now — `sendAt`, the request's shape, its conversation or template — and stores it
   * to be sent at `sendAt`. With an idempotency key, the same request again answers the same one
   * (also once its time has passed: the time is checked under the key).
   * @throws ValidationError (every invalid field, `sendAt` included), NotFoundError, the idempotency errors
   */
  async schedule(
    request: SendRequest,
    sendAt: unknown,
    idempotency?: IdempotencyKeyInput,
    /** The caller's numbers: its send is checked against them now (at its time it runs as checked). */
    scope: NumberScope = null,
    /** The name of the key that schedules it: its message (or batch) records it when it goes out. */
    sentBy: string | null = null,
  ): Promise<ScheduledSendRecord> {
    const when = sendAtSchema.safeParse(sendAt)
    const fields = when.success ? [] : when.error.issues.map((i) => ({ path: 'sendAt', message: i.message }))
    let target: SendTarget | null = null
    try {
      target = await this.messaging.check(request, scope)
    } catch (err) {
      // Every invalid field at once: the request's and sendAt's.
      if (!(err instanceof ValidationError)) throw err
      fields.push(...err.fields)
    }
    const now = this.options.now?.() ?? new Date()
    const tooSoonOrLate = when.success ? sendAtProblem(when.data, now) : null
    if (tooSoonOrLate && (fields.length || !idempotency?.key)) fields.push({ path: 'sendAt', message: tooSoonOrLate })
    if (fields.length || !target || !when.success) throw new ValidationError(fields)
    const { kind, ...stored } = request
    return this.idempotency.run(idempotency, `schedule:${kind}`, { ...stored, sendAt: when.data }, async () => {
      if (tooSoonOrLate) throw new ValidationError([{ path: 'sendAt', message: tooSoonOrLate }])
      const send = await this.sends.create({
        kind,
        // Plain JSON (GraphQL inputs are class instances), as it is replayed.
        request: JSON.parse(JSON.stringify(stored)),
        businessPhoneNumberId: target.from,
        phoneNumber: target.phoneNumber,
        conversationId: target.conversationId,
        templateName: target.template?.name ?? null,
        language: target.template?.language ?? null,
        sendAt: when.data,
        sentBy,
      })
      for (const listener of this.listeners) listener(send)
      // Other instances' timers (PostgreSQL: LISTEN/NOTIFY); their periodic poll is the safety net.
      this.events.publish({ type: 'scheduledSendAdded', messageId: send.id, conversationId: 0 })
      return send
    })
  }

  /** @throws ValidationError, NotFoundError */
  async get(id: unknown, scope: NumberScope = null): Promise<ScheduledSendRecord> {
    const scheduledId = parseInput(idSchema, id, 'id')
    // Another number's send answers exactly as a missing one.
    const send = await this.sends.findById(scheduledId, scope)
    if (!send) throw new NotFoundError(`Scheduled send ${scheduledId} does not exist`)
    return send
  }

  /** Scheduled sends, soonest first: pending ones unless `status` says otherwise. @throws ValidationError */
  async page(
    args: { first?: unknown; after?: unknown; status?: unknown },
    scope: NumberScope = null,
  ): Promise<Page<ScheduledSendRecord>> {
    const { first, after, status } = parseInput(listSchema, args)
    const cursor = after ? { sendAt: new Date(after[0]), id: after[1] } : null
    const rows = await this.sends.page(status, first, cursor, scope)
    return toPage(
      rows,
      first,
      () => this.sends.count(status, scope),
      (s) => [s.sendAt.toISOString(), s.id],
    )
  }

  /**
   * Cancels a send that has not started; one already cancelled is answered as it is.
   * @throws ValidationError, NotFoundError, ScheduledSendStartedError
   */
  async cancel(id: unknown, scope: NumberScope = null): Promise<ScheduledSendRecord> {
    const scheduledId = parseInput(idSchema, id, 'id')
    const cancelled = await this.sends.cancel(scheduledId, scope)
    if (cancelled) return cancelled
    const send = await this.sends.findById(scheduledId, scope)
    if (!send) throw new NotFoundError(`Scheduled send ${scheduledId} does not exist`)
    if (send.status === 'cancelled') return send
    throw new ScheduledSendStartedError(send.id, send.status)
  }

  /**
   * Makes a claimed send, as an immediate one would be made, under its own idempotency key: if the
   * instance that claimed it before died mid-send, the key's stored progress gives the outcome and
   * Meta is not called again. A template Meta paused or disabled fails it without calling Meta.
   */
  async deliver(send: ScheduledSendRecord): Promise<Delivery> {
    const key: IdempotencyKeyInput = { scope: SCOPE, key: `scheduled-send-${send.id}`, field: 'scheduledId' }
    try {
      const unavailable = await this.templateUnavailable(send)
      if (unavailable) return { outcome: failed(unavailable, null) }
      const request = { kind: send.kind, ...send.request } as SendRequest
      // The number it was checked against when scheduled (a key limited to some numbers may have
      // left `from` out): at its time it goes from there, never from the default number instead.
      if (request.kind !== 'sendInConversation' && send.businessPhoneNumberId)
        request.input = {
          ...(request.input as object),
          from: (request.input as { from?: string }).from ?? send.businessPhoneNumberId,
        }
      switch (request.kind) {
        case 'sendText': {
          const { message } = await this.messaging.sendToNumber(request.input, key, null, send.sentBy)
          return { outcome: { status: 'sent', messageId: message.id, batchId: null, error: null } }
        }
        case 'sendInConversation': {
          const message = await this.messaging.sendInConversation(
            request.conversationId,
            request.input,
            key,
            null,
            send.sentBy,
          )
          return { outcome: { status: 'sent', messageId: message.id, batchId: null, error: null } }
        }
        case 'sendTemplate': {
          const { batchId } = await this.messaging.sendTemplate(request.input, key, null, send.sentBy)
          return { outcome: { status: 'sent', messageId: null, batchId, error: null } }
        }
      }
    } catch (err) {
      const error = domainError(err)
      if (!error) return { retry: 'later', cause: err }
      switch (error.code) {
        case 'DATABASE_UNAVAILABLE':
          return { retry: 'later', cause: err }
        case 'IDEMPOTENCY_KEY_IN_FLIGHT': // a dead predecessor's key, until its lease lapses: expected
          return { retry: 'later', cause: null }
        case 'SERVICE_STOPPING':
        case 'BATCH_INTERRUPTED': {
          // A fan-out stored whole goes on in the background (resumed by the batch service): its
          // batch is the outcome. One that did nothing is due again once an instance runs.
          const batchId = error.details()?.batchId
          if (typeof batchId === 'number') return { outcome: { status: 'sent', messageId: null, batchId, error: null } }
          return { retry: 'unclaim', cause: err }
        }
      }
      // Where it got to (its message or batch) shows the failure too: a refused message is stored.
      const progress = await this.idempotency.progress(key).catch(() => null)
      return { outcome: failed(error, progress) }
    }
  }

  /** The error for a template send whose template Meta paused or disabled (stored status, from its webhook). */
  private async templateUnavailable(send: ScheduledSendRecord): Promise<TemplateUnavailableError | null> {
    if (send.kind !== 'sendTemplate' || !send.templateName || !send.language) return null
    const input = send.request.input as { from?: unknown } | null
    const from = typeof input?.from === 'string' ? input.from : null
    const template = await this.templates.findForNumber(from, send.templateName, send.language)
    const status = template?.status
    if (status !== 'PAUSED' && status !== 'DISABLED') return null
    return new TemplateUnavailableError(
      { name: send.templateName, language: send.language, status },
      template?.statusReason ?? null,
    )
  }
}

function failed(error: AppError, progress: { messageId: number } | { batchId: number } | null): ScheduledOutcome {
  return {
    status: 'failed',
    messageId: progress && 'messageId' in progress ? progress.messageId : null,
    batchId: progress && 'batchId' in progress ? progress.batchId : null,
    error: { code: error.code, message: error.message, details: error.details() ?? null },
  }
}
