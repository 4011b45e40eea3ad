import { AppError } from '../errors/errors.js'
import type { MetaErrorBody } from './meta.types.js'

/**
 * Meta refused a request. Keeps Meta's `code`, `details` and `fbtrace_id` so an operator can look
 * the failure up with Meta.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
 */
export class MetaApiError extends AppError {
  /** META_TOKEN_INVALID for 190 (expired or revoked access token: an operator must act), else META_API_ERROR. */
  readonly code: 'META_API_ERROR' | 'META_TOKEN_INVALID'
  readonly httpStatus = 502
  override name = 'MetaApiError'
  /** Meta's numeric error code, e.g. 131026 (undeliverable), 190 (token expired). */
  readonly metaCode: number
  readonly type: string | undefined
  readonly subcode: number | undefined
  readonly metaDetails: string | undefined
  readonly fbtraceId: string | undefined

  constructor(
    body: MetaErrorBody['error'],
    /** The HTTP status Meta answered with. */
    readonly status: number,
  ) {
    super(body.message)
    this.code = body.code === 190 ? 'META_TOKEN_INVALID' : 'META_API_ERROR'
    this.metaCode = body.code
    this.type = body.type
    this.subcode = body.error_subcode
    this.metaDetails = body.error_data?.details
    this.fbtraceId = body.fbtrace_id
  }

  override details() {
    return {
      meta: {
        code: this.metaCode,
        type: this.type,
        error_subcode: this.subcode,
        details: this.metaDetails,
        fbtrace_id: this.fbtraceId,
      },
    }
  }
}

/** Meta could not be reached or did not answer in time (network error, timeout, non-JSON answer). */
export class MetaUnreachableError extends AppError {
  readonly code = 'META_UNREACHABLE'
  readonly httpStatus = 502
  override name = 'MetaUnreachableError'

  constructor(
    message: string,
    options?: ErrorOptions & {
      /** True when the request certainly never reached Meta (so sending again cannot double it). */
      notSent?: boolean
    },
  ) {
    super(message, options)
    this.notSent = options?.notSent ?? false
  }

  readonly notSent: boolean
}

/**
 * Meta's answer never came (a timeout or a dropped connection after the request was sent): Meta
 * may have accepted the message. It is kept as `unknown`, not re-sent, and settled by its status
 * webhook (which carries our message id in `biz_opaque_callback_data`).
 */
export class DeliveryUnknownError extends AppError {
  readonly code = 'META_OUTCOME_UNKNOWN'
  readonly httpStatus = 504
  override name = 'DeliveryUnknownError'
  constructor(
    readonly messageId: number,
    cause: unknown,
  ) {
    super(
      `Meta did not answer in time: message ${messageId} may have been sent. It is marked unknown and settled ` +
        'by Meta’s status webhook; do not send it again.',
      { cause },
    )
  }
  override details() {
    return { messageId: this.messageId }
  }
}

export function isMetaErrorBody(body: unknown): body is MetaErrorBody {
  const error = (body as MetaErrorBody | null)?.error
  return (
    typeof error === 'object' && error !== null && typeof error.code === 'number' && typeof error.message === 'string'
  )
}
