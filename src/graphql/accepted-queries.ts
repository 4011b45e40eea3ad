import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server'
import type { DocumentNode } from 'graphql'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Principal, Scope } from '../auth/principal.js'
import type { CompiledQueries } from './compiled-execution.js'
import type { GraphQLContext } from './context.js'
import { checkScopes, operationScopes } from './scopes.js'

interface Accepted {
  document: DocumentNode
  operationName: string | undefined
  /** Its root fields and the scope each needs (checked against each caller). */
  scopes: [string, Scope][]
}

// Any route's request and reply (Apollo's handler types its reply as a string).
type Handler = (request: FastifyRequest<any>, reply: FastifyReply<any>) => any

/** How many query texts it remembers (a dashboard asks a few dozen). */
const MAX_ACCEPTED = 500
/** Longer texts always go through Apollo: memory stays bounded at ~MAX_ACCEPTED × this. */
const MAX_QUERY_LENGTH = 16_384
/** Accept headers under which Apollo answers `application/json` (any other goes through Apollo). */
const JSON_ACCEPTS = new Set([undefined, '*/*', 'application/json', 'application/json, */*'])

/**
 * Runs a query text Apollo has already accepted without Apollo's per-request pipeline: on a
 * dashboard the same few query texts come again and again, and that pipeline (its request and
 * header maps, the document's hash, six plugins' hooks, the context's clone) cost as much as the
 * SQL (BENCHMARKS.md, "Dashboard reads").
 *
 * Accepted means Apollo parsed and validated the text and every operation check passed: the
 * depth and cost limits (the same for every caller) and the caller's scope. A known text still
 * has, on every request: the gate (token and rate limit), the scope check for this caller, and the
 * context every resolver reads the caller's numbers from. Anything else goes to Apollo as before:
 * GET, a body Apollo would refuse or treat differently (batches, `extensions`, persisted queries,
 * another Accept), mutations, a text not seen yet, and every answer with an error. A query only
 * reads, so running one again on Apollo for its error (its formatting, masking, 400 or 503) is safe.
 * Off while the response cache is on: the cache stands in front of Apollo, and learns from it.
 */
export class AcceptedQueries {
  private readonly accepted = new Map<string, Accepted>()

  constructor(private readonly compiled: CompiledQueries) {}

  /** Learns each query operation Apollo is about to execute (every check before execution passed). */
  plugin(): ApolloServerPlugin<GraphQLContext> {
    const listener: GraphQLRequestListener<GraphQLContext> = {
      executionDidStart: async ({ request, document, operation }) => {
        const text = request.query
        if (operation?.operation !== 'query' || typeof text !== 'string' || text.length > MAX_QUERY_LENGTH) return
        if (request.extensions?.persistedQuery) return
        const key = keyOf(text, request.operationName)
        if (this.accepted.has(key)) return
        if (this.accepted.size >= MAX_ACCEPTED) this.accepted.delete(this.accepted.keys().next().value!)
        this.accepted.set(key, {
          document,
          operationName: request.operationName ?? undefined,
          scopes: operationScopes(document, operation),
        })
      },
    }
    return { requestDidStart: async () => listener }
  }

  /** The /graphql handler: known query texts run here, everything else on `apollo`. */
  handler(
    gate: (request: FastifyRequest) => Promise<Principal>,
    contextOf: (principal: Principal, request: FastifyRequest) => GraphQLContext,
    apollo: Handler,
  ): Handler {
    return async (request, reply) => {
      const known = this.knownQuery(request)
      const answer = known && (await this.answer(known, request, gate, contextOf))
      if (!answer) return apollo(request, reply)
      reply.code(200).type('application/json; charset=utf-8')
      return answer
    }
  }

  private knownQuery(request: FastifyRequest): { accepted: Accepted; variables: Record<string, unknown> } | undefined {
    if (request.method !== 'POST' || this.accepted.size === 0) return undefined
    if (!request.headers['content-type']?.startsWith('application/json')) return undefined
    if (!JSON_ACCEPTS.has(request.headers.accept)) return undefined
    const body = request.body as Record<string, unknown> | null
    if (!body || typeof body !== 'object' || Array.isArray(body) || body.extensions !== undefined) return undefined
    const { query, variables, operationName } = body
    if (typeof query !== 'string') return undefined
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables)))
      return undefined
    const accepted = this.accepted.get(keyOf(query, operationName))
    return accepted && { accepted, variables: (variables as Record<string, unknown>) ?? {} }
  }

  /** The answer's body, or undefined for Apollo to answer instead. */
  private async answer(
    { accepted, variables }: { accepted: Accepted; variables: Record<string, unknown> },
    request: FastifyRequest,
    gate: (request: FastifyRequest) => Promise<Principal>,
    contextOf: (principal: Principal, request: FastifyRequest) => GraphQLContext,
  ): Promise<string | undefined> {
    const query = this.compiled.get(accepted.document, accepted.operationName)
    if (!query) return undefined
    let principal: Principal
    try {
      principal = await gate(request)
      checkScopes(accepted.scopes, principal)
    } catch {
      return undefined // Apollo answers the refusal (gate results are kept per request: counted once)
    }
    const result = await Promise.resolve()
      .then(() => query.query(undefined, contextOf(principal, request), variables))
      .catch(() => undefined)
    if (!result || result.errors?.length) return undefined
    // Byte for byte what Apollo sends for an answer without errors.
    return `${JSON.stringify({ data: result.data })}\n`
  }
}

const keyOf = (query: string, operationName: unknown) => `${operationName ?? ''}\n${query}`
