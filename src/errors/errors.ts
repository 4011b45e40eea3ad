/**
 * Every error a client can be answered with. Each has a stable `code` that clients can rely on and
 * the HTTP status it is answered with; error.answers.ts turns them into HTTP and GraphQL answers.
 */
export type ErrorCode =
  | 'MALFORMED_REQUEST'
  | 'VALIDATION_FAILED'
  | 'WEBHOOK_URL_REFUSED'
  | 'UNAUTHENTICATED'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'FORBIDDEN'
  | 'MEDIA_NOT_READY'
  | 'RANGE_NOT_SATISFIABLE'
  | 'WINDOW_CLOSED'
  | 'WEBHOOKS_NOT_CONFIGURED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_FLIGHT'
  | 'SERVICE_STOPPING'
  | 'BATCH_INTERRUPTED'
  | 'SCHEDULED_SEND_STARTED'
  | 'TEMPLATE_PAUSED'
  | 'TEMPLATE_DISABLED'
  | 'RATE_LIMITED'
  | 'QUERY_TOO_COMPLEX'
  | 'META_API_ERROR'
  | 'META_TOKEN_INVALID'
  | 'META_UNREACHABLE'
  | 'META_OUTCOME_UNKNOWN'
  | 'DATABASE_UNAVAILABLE'
  | 'EVENTS_MISSED'
  | 'INTERNAL_SERVER_ERROR'

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode
  abstract readonly httpStatus: number
  /** Extra, client-safe detail for the error body (`fields`, `meta`, …). */
  details(): Record<string, unknown> | undefined {
    return undefined
  }
}

/** One invalid field: `path` names it the way the client sent it, e.g. `recipients[1].phoneNumber`. */
export interface FieldIssue {
  path: string
  message: string
}

export class ValidationError extends AppError {
  readonly code = 'VALIDATION_FAILED'
  readonly httpStatus = 422
  constructor(readonly fields: FieldIssue[]) {
    super(fields.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; '))
    this.name = 'ValidationError'
  }
  override details() {
    return { fields: this.fields }
  }
}

/**
 * An event-webhook endpoint URL the service will not call: not https (http only to loopback outside
 * production), or a host that resolves to a private, loopback or link-local address in production.
 */
export class WebhookUrlRefusedError extends AppError {
  readonly code = 'WEBHOOK_URL_REFUSED'
  readonly httpStatus = 422
  override name = 'WebhookUrlRefusedError'
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`)
  }
  override details() {
    return { fields: [{ path: this.field, message: this.message.slice(this.field.length + 2) }] }
  }
}

export class MalformedRequestError extends AppError {
  readonly code = 'MALFORMED_REQUEST'
  readonly httpStatus = 400
  override name = 'MalformedRequestError'
}

export class UnauthenticatedError extends AppError {
  readonly code = 'UNAUTHENTICATED'
  readonly httpStatus = 401
  override name = 'UnauthenticatedError'
  constructor(message = 'A valid "Authorization: Bearer <token>" header is required') {
    super(message)
  }
}

export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND'
  readonly httpStatus = 404
  override name = 'NotFoundError'
}

/** The database cannot be reached: an outage to wait out, not a bug. */
export class DatabaseUnavailableError extends AppError {
  readonly code = 'DATABASE_UNAVAILABLE'
  readonly httpStatus = 503
  override name = 'DatabaseUnavailableError'
  /** Seconds after which asking again makes sense. */
  readonly retryAfterSeconds = 5
  constructor(cause?: unknown) {
    super('The database is unreachable for now: retry shortly', { cause })
  }
}

/** Live events may have been lost while this instance could not hear the others: read again. */
export class EventsMissedError extends AppError {
  readonly code = 'EVENTS_MISSED'
  readonly httpStatus = 503
  override name = 'EventsMissedError'
  constructor() {
    super('Events may have been missed while the event connection was down: read again what you show')
  }
}

/** Too many requests for one API token (REST and GraphQL alike). */
export class RateLimitedError extends AppError {
  readonly code = 'RATE_LIMITED'
  readonly httpStatus = 429
  override name = 'RateLimitedError'
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many requests for this token: retry in ${retryAfterSeconds} s`)
  }
  override details() {
    return { retryAfterSeconds: this.retryAfterSeconds }
  }
}

/** A GraphQL operation nested too deep or costing too much (the numbers say by how much). */
export class QueryTooComplexError extends AppError {
  readonly code = 'QUERY_TOO_COMPLEX'
  readonly httpStatus = 400
  override name = 'QueryTooComplexError'
  constructor(
    message: string,
    private readonly measures: Record<string, number>,
  ) {
    super(message)
  }
  override details() {
    return this.measures
  }
}

/** Something failed on our side. The message shown to clients is generic; the cause is logged. */
export class InternalError extends AppError {
  readonly code = 'INTERNAL_SERVER_ERROR'
  readonly httpStatus = 500
  override name = 'InternalError'
  constructor(cause?: unknown) {
    super('Internal server error', { cause })
  }
}

export class PayloadTooLargeError extends AppError {
  readonly code = 'PAYLOAD_TOO_LARGE'
  readonly httpStatus = 413
  override name = 'PayloadTooLargeError'
}

export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE'
  readonly httpStatus = 415
  override name = 'UnsupportedMediaTypeError'
}

/** A file that is not (yet) here to serve: a customer's file still being fetched from Meta. */
export class MediaNotReadyError extends AppError {
  readonly code = 'MEDIA_NOT_READY'
  readonly httpStatus = 409
  override name = 'MediaNotReadyError'
  constructor(
    message: string,
    /** Seconds after which asking again makes sense. */
    readonly retryAfterSeconds: number,
  ) {
    super(message)
  }
}

/** A `Range` outside the file. */
export class RangeNotSatisfiableError extends AppError {
  readonly code = 'RANGE_NOT_SATISFIABLE'
  readonly httpStatus = 416
  override name = 'RangeNotSatisfiableError'
  constructor(readonly size: number) {
    super(`The requested range is outside the file (${size} bytes)`)
  }
}

/** A free-form message outside the 24-hour customer-service window: only templates may be sent. */
export class WindowClosedError extends AppError {
  readonly code = 'WINDOW_CLOSED'
  readonly httpStatus = 409
  override name = 'WindowClosedError'
  constructor(readonly expiredAt: Date | null) {
    super(
      expiredAt
        ? `The 24-hour customer-service window closed at ${expiredAt.toISOString()}: send an approved template instead`
        : 'The customer has not written yet, so no customer-service window is open: send an approved template instead',
    )
  }
  override details() {
    return { serviceWindowExpiresAt: this.expiredAt?.toISOString() ?? null }
  }
}

/** Refused whoever asks (a failed webhook verification, a development-only operation in production). */
export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN'
  readonly httpStatus = 403
  override name = 'ForbiddenError'
}

/** A webhook arrived but no app secret is configured to check its signature. */
export class WebhooksNotConfiguredError extends AppError {
  readonly code = 'WEBHOOKS_NOT_CONFIGURED'
  readonly httpStatus = 503
  override name = 'WebhooksNotConfiguredError'
  constructor() {
    super('Webhooks are off: set WHATSAPP_APP_SECRET (and WHATSAPP_WEBHOOK_VERIFY_TOKEN) to receive them')
  }
}

/** An idempotency key sent again with a different request. */
export class IdempotencyKeyReusedError extends AppError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED'
  readonly httpStatus = 422
  override name = 'IdempotencyKeyReusedError'
  constructor(readonly field: string) {
    super(`${field}: this key was already used for a different request; use a new key for a new request`)
  }
  override details() {
    return { fields: [{ path: this.field, message: 'already used for a different request' }] }
  }
}

/** An idempotency key whose first request has not finished yet. */
export class IdempotencyKeyInFlightError extends AppError {
  readonly code = 'IDEMPOTENCY_KEY_IN_FLIGHT'
  readonly httpStatus = 409
  override name = 'IdempotencyKeyInFlightError'
  constructor() {
    super('A request with this idempotency key is still being processed: retry later to get its response')
  }
}

/** The service is shutting down; what was left of the work continues after the restart. */
export class ServiceStoppingError extends AppError {
  readonly code = 'SERVICE_STOPPING'
  readonly httpStatus = 503
  override name = 'ServiceStoppingError'
  /** True when the request changed nothing (it may simply be sent again, with the same idempotency key). */
  readonly nothingDone: boolean
  constructor(
    message: string,
    private readonly extra?: Record<string, unknown>,
    options?: { nothingDone?: boolean },
  ) {
    super(message)
    this.nothingDone = options?.nothingDone ?? false
  }
  override details() {
    return this.extra
  }
}

/**
 * A fan-out stopped part-way on a failure of ours (the database); it is stored whole, and what is
 * left of it is sent in the background once the database answers again.
 */
export class BatchInterruptedError extends AppError {
  readonly code = 'BATCH_INTERRUPTED'
  readonly httpStatus = 503
  override name = 'BatchInterruptedError'
  constructor(
    readonly batchId: number,
    cause: unknown,
  ) {
    super(
      `Batch ${batchId} stopped part-way on a failure of ours; the rest of it is sent in the background ` +
        '(query templateBatch to follow it)',
      { cause },
    )
  }
  override details() {
    return { batchId: this.batchId }
  }
}

/** A scheduled send that can no longer be cancelled: it is being sent, or was. */
export class ScheduledSendStartedError extends AppError {
  readonly code = 'SCHEDULED_SEND_STARTED'
  readonly httpStatus = 409
  override name = 'ScheduledSendStartedError'
  constructor(
    readonly scheduledId: number,
    readonly status: string,
  ) {
    super(`Scheduled send ${scheduledId} has already started (it is ${status}): it can no longer be cancelled`)
  }
  override details() {
    return { scheduledId: this.scheduledId, status: this.status }
  }
}

/**
 * A template Meta paused or disabled (its status webhook): a send that uses it is failed before
 * calling Meta, with Meta's reason.
 */
export class TemplateUnavailableError extends AppError {
  readonly code: 'TEMPLATE_PAUSED' | 'TEMPLATE_DISABLED'
  readonly httpStatus = 409
  override name = 'TemplateUnavailableError'
  constructor(
    readonly template: { name: string; language: string; status: 'PAUSED' | 'DISABLED' },
    readonly reason: string | null,
  ) {
    super(
      `Meta ${template.status === 'PAUSED' ? 'paused' : 'disabled'} template ${template.name} (${template.language})` +
        (reason ? `: ${reason}` : ''),
    )
    this.code = template.status === 'PAUSED' ? 'TEMPLATE_PAUSED' : 'TEMPLATE_DISABLED'
  }
  override details() {
    return { templateName: this.template.name, language: this.template.language, reason: this.reason }
  }
}

/**
 * An error given again, as first answered (an idempotent replay): same code, status, message and
 * details.
 */
export class ReplayedError extends AppError {
  override name = 'ReplayedError'
  constructor(
    readonly code: ErrorCode,
    readonly httpStatus: number,
    message: string,
    private readonly extra: Record<string, unknown> | undefined,
  ) {
    super(message)
  }
  override details() {
    return this.extra
  }
}

/** An error as one line for logs and stored failure reasons: its name and message. */
export const describeError = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err))

/** The client-facing form of an error: `{ code, message, ...details }`. Never a stack trace. */
export function errorPayload(err: AppError): { code: ErrorCode; message: string } & Record<string, unknown> {
  return { code: err.code, message: err.message, ...err.details() }
}
