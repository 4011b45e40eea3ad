import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { domainError, httpAnswer } from '../errors/error.answers.js'
import {
  type AppError,
  DatabaseUnavailableError,
  InternalError,
  MalformedRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../errors/errors.js'

/** Fastify's own request errors (bad JSON, too large, wrong content type) as domain errors. */
export function toAppError(err: unknown, url = ''): AppError {
  const known = domainError(err)
  if (known) return known
  const fastifyError = err as Partial<FastifyError>
  const status = fastifyError.statusCode ?? 500
  if (status === 413) return new PayloadTooLargeError('The request body is too large')
  if (status === 415) {
    return new UnsupportedMediaTypeError(
      url.split('?')[0].endsWith('/media')
        ? 'Send the file as multipart/form-data, in a field named "file"'
        : 'Send the body as application/json',
    )
  }
  if (status >= 400 && status < 500) {
    const message =
      fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'The JSON body is empty'
        : err instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
          ? `The body is not valid JSON: ${fastifyError.message}`
          : (fastifyError.message ?? 'Bad request')
    return new MalformedRequestError(message)
  }
  return new InternalError(err)
}

/**
 * The one REST error handler: `{"success":false,"error":{"code","message",…}}` with the error's
 * HTTP status. For /graphql (errors before Apollo runs, such as unparsable JSON) the same error in
 * GraphQL's shape.
 */
export function handleHttpError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const appError = toAppError(err, request.url)
  if (appError instanceof InternalError) request.log.error({ err }, 'internal error')
  if (appError instanceof DatabaseUnavailableError) request.log.warn({ err }, 'database unavailable')
  const answer = httpAnswer(appError, request.url.startsWith('/graphql') ? 'graphql' : 'rest')
  return reply.status(answer.status).headers(answer.headers).send(answer.body)
}
