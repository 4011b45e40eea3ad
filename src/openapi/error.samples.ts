import {
  type AppError,
  BatchInterruptedError,
  DatabaseUnavailableError,
  type ErrorCode,
  EventsMissedError,
  ForbiddenError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  InternalError,
  MalformedRequestError,
  MediaNotReadyError,
  NotFoundError,
  PayloadTooLargeError,
  QueryTooComplexError,
  RangeNotSatisfiableError,
  RateLimitedError,
  ScheduledSendStartedError,
  TemplateUnavailableError,
  WebhookUrlRefusedError,
  ServiceStoppingError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
  WebhooksNotConfiguredError,
  WindowClosedError,
} from '../errors/errors.js'
import { DeliveryUnknownError, MetaApiError, MetaUnreachableError } from '../meta/meta.errors.js'
import { PHONE_NUMBER_FORMAT } from '../shared/phone.js'

/**
 * One error of each code, built by the real classes: the document takes each code's HTTP status
 * and its example body from these, so neither is written down a second time.
 */
const SAMPLES = [
  new MalformedRequestError('The body is not valid JSON: Unexpected end of JSON input'),
  new ValidationError([{ path: 'recipients[1].phoneNumber', message: PHONE_NUMBER_FORMAT }]),
  new UnauthenticatedError(),
  new NotFoundError('Conversation 42 does not exist'),
  new PayloadTooLargeError('The request body is too large'),
  new UnsupportedMediaTypeError('Send the body as application/json'),
  new ForbiddenError("This key's scope is READ: POST /api/whatsapp/send needs SEND"),
  new MediaNotReadyError('Media med_Xk2vR8pQ3nT5 is still being fetched from Meta', 2),
  new RangeNotSatisfiableError(48213),
  new WindowClosedError(new Date('2026-03-03T10:30:00.000Z')),
  new WebhooksNotConfiguredError(),
  new IdempotencyKeyReusedError('Idempotency-Key'),
  new IdempotencyKeyInFlightError(),
  new ServiceStoppingError('The service is shutting down: send the template again shortly', undefined, {
    nothingDone: true,
  }),
  new BatchInterruptedError(7, null),
  new RateLimitedError(12),
  new QueryTooComplexError('The operation costs 25000, more than the limit of 20000', { cost: 25000, maxCost: 20000 }),
  new MetaApiError(
    {
      message: '(#131026) Message Undeliverable',
      type: 'OAuthException',
      code: 131026,
      error_data: { messaging_product: 'whatsapp', details: 'Message Undeliverable.' },
      fbtrace_id: 'AbCdEf123',
    },
    400,
  ),
  new MetaApiError(
    { message: 'Error validating access token', type: 'OAuthException', code: 190, fbtrace_id: 'AbCdEf124' },
    401,
  ),
  new MetaUnreachableError('Meta could not be reached: connect ECONNREFUSED', { notSent: true }),
  new DeliveryUnknownError(57, null),
  new ScheduledSendStartedError(12, 'sent'),
  new TemplateUnavailableError({ name: 'recordatorio_cita', language: 'es', status: 'PAUSED' }, 'Low quality'),
  new TemplateUnavailableError({ name: 'recordatorio_cita', language: 'es', status: 'DISABLED' }, null),
  new WebhookUrlRefusedError('input.url', 'must not resolve to a private or loopback address'),
  new DatabaseUnavailableError(),
  new EventsMissedError(),
  new InternalError(),
] satisfies AppError[]

// Every code has a sample (a new code without one fails the type check here).
type Missing = Exclude<ErrorCode, (typeof SAMPLES)[number]['code']>
const everyCode: Missing extends never ? true : Missing = true
void everyCode

export const errorSample = (code: ErrorCode): AppError => SAMPLES.find((e) => e.code === code)!
