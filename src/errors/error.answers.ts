import { GraphQLError } from 'graphql'
import { databaseUnreachable } from './database-unreachable.js'
import { AppError, DatabaseUnavailableError, errorPayload, RangeNotSatisfiableError } from './errors.js'

/**
 * The two translations of a domain error, used by every edge: to an HTTP answer (the REST error
 * handler, and GraphQL's HTTP status and headers) and to a GraphQL error.
 */

/** A domain error for what was thrown, if it is one: ours, or a database outage. */
export function domainError(thrown: unknown): AppError | null {
  if (thrown instanceof AppError) return thrown
  if (databaseUnreachable(thrown)) return new DatabaseUnavailableError(thrown)
  return null
}

/** Headers of an error's answer: when to ask again (an outage, a rate limit, a file still downloading), a file's size. */
export function errorHeaders(err: AppError): Record<string, string> {
  const headers: Record<string, string> = {}
  if (err instanceof RangeNotSatisfiableError) headers['content-range'] = `bytes */${err.size}`
  const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter)
  return headers
}

/** A domain error as GraphQL's `extensions`: its code and details. */
export function graphqlExtensions(err: AppError): Record<string, unknown> & { code: string } {
  const { code, message: _, ...details } = errorPayload(err)
  return { code, ...details }
}

/**
 * A domain error as an HTTP answer: its status, headers, and body in the REST shape
 * (`{"success":false,"error":{code,message,…}}`) or, for /graphql, in GraphQL's.
 */
export function httpAnswer(err: AppError, shape: 'rest' | 'graphql' = 'rest') {
  const body =
    shape === 'rest'
      ? { success: false, error: errorPayload(err) }
      : { errors: [{ message: err.message, extensions: graphqlExtensions(err) }] }
  return { status: err.httpStatus, headers: errorHeaders(err), body }
}

/**
 * A domain error raised outside a resolver (the gate, the cost limits) as a GraphQL error; with
 * `http`, the status and headers of its HTTP answer. The gate's errors have always repeated the
 * message in `extensions` (`repeatMessage`): kept, so answers stay as clients know them.
 */
export function toGraphQLError(err: AppError, options: { http?: boolean; repeatMessage?: boolean } = {}) {
  const extensions: Record<string, unknown> = options.repeatMessage ? errorPayload(err) : graphqlExtensions(err)
  if (options.http) {
    // No `headers` when there are none: over WebSocket `extensions.http` reaches the client as is.
    const headers = Object.entries(errorHeaders(err))
    extensions.http = headers.length
      ? { status: err.httpStatus, headers: new Map(headers) }
      : { status: err.httpStatus }
  }
  return new GraphQLError(err.message, { extensions })
}
