import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { z } from 'zod'
import type { ErrorCode } from '../errors/errors.js'

/**
 * What the OpenAPI document says about one REST route. It rides on the route itself
 * (`config.openapi`), names the very zod schemas the services validate with, and types the
 * route's answer: a route cannot be added, nor its answer changed, without its document entry.
 */

/** A request or answer header. */
export interface HeaderDoc {
  description: string
  schema: z.ZodType
  required?: boolean
}

/** One answer: JSON described by a zod schema, or bytes (a file), or nothing (304). */
export interface AnswerDoc {
  description: string
  json?: z.ZodType
  /** The bytes of a file, in its own Content-Type. */
  binary?: true
  headers?: Record<string, HeaderDoc>
}

export interface OperationDoc {
  method: 'GET' | 'POST' | 'DELETE'
  /** Relative to the plugin's prefix, Fastify's syntax (`/conversations/:id/messages`). */
  url: string
  operationId: string
  summary: string
  description?: string
  tag: string
  /** Path parameters, as the services parse them. */
  params?: z.ZodObject
  query?: z.ZodObject
  headers?: Record<string, HeaderDoc>
  /** A JSON body, as the service parses it; `optional` when the route also takes none. */
  body?: { json: z.ZodType; optional?: boolean }
  /** A multipart/form-data body: each part, and the content types a file part may have. */
  multipart?: { schema: z.ZodObject; encoding?: Record<string, { contentType: string }> }
  /** Success answers by status; 200 is the one the handler returns (the others it sends itself). */
  answers: { 200: AnswerDoc } & Partial<Record<number, AnswerDoc>>
  /** The error codes this route answers besides those of every route (see openapi.document.ts). */
  errors: readonly ErrorCode[]
}

/** What the handler of a documented route resolves to: its 200 JSON, or the reply it sent itself. */
type AnswerOf<D extends OperationDoc> = D['answers'][200]['json'] extends z.ZodType
  ? // A route with another success answer (202) sends that one itself.
    z.output<D['answers'][200]['json']> | (D['answers'] extends { 202: AnswerDoc } ? FastifyReply : never)
  : FastifyReply

type ParamsOf<D extends OperationDoc> = D['params'] extends z.ZodObject<infer Shape> ? Record<keyof Shape, string> : {}

type DocumentedRequest<D extends OperationDoc> = FastifyRequest<{
  Params: ParamsOf<D>
  Querystring: Record<string, unknown>
  Body: unknown
}>

/**
 * A route and its document entry in one: `app.route(documented({...}, handler))`. The handler's
 * answer is typed by the documented 200 schema; the request's body and query are left unknown,
 * for the services to validate (their 422 answers are the contract, not Fastify's).
 */
export function documented<const D extends OperationDoc>(
  doc: D,
  // NoInfer: `doc` alone decides D, so the handler's answer is checked against it (`success: true`, not boolean).
  handler: NoInfer<(request: DocumentedRequest<D>, reply: FastifyReply) => Promise<AnswerOf<D>>>,
): RouteOptions {
  return { method: doc.method, url: doc.url, config: { openapi: doc }, handler: handler as RouteOptions['handler'] }
}

/** A documented route as registered: its full path. */
export interface Operation {
  path: string
  doc: OperationDoc
}

/**
 * Collects the documented routes registered under `prefix` from now on, and refuses (at start-up)
 * any route there without a document entry. `done()` stops collecting and answers them.
 */
export function collectOperations(app: FastifyInstance, prefix: string) {
  const operations: Operation[] = []
  let collecting = true
  app.addHook('onRoute', (route) => {
    if (!collecting || !route.url.startsWith(prefix) || route.method === 'HEAD') return
    const doc = route.config?.openapi
    if (!doc)
      throw new Error(`${String(route.method)} ${route.url} has no OpenAPI description: register it with documented()`)
    operations.push({ path: route.url, doc })
  })
  return {
    done(): Operation[] {
      collecting = false
      return operations
    },
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's entry in the OpenAPI document (see documented()). */
    openapi?: OperationDoc
  }
}
