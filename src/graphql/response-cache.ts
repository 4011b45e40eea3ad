import type { ApolloServerPlugin } from '@apollo/server'
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type DocumentNode, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql'
import { Coalescer } from '../shared/coalescer.js'

/**
 * Root fields whose answers depend on the database alone: no clock, no Meta, not on who asks.
 * (`templates` may sync from Meta first, so it is not one.)
 */
export const CACHEABLE_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'conversation',
  'conversations',
  'message',
  'messageByWamid',
  'templateBatch',
  'templateBatches',
])

/** What the cache notes about one request while Apollo runs it (in the GraphQL context). */
export interface ResponseCacheState {
  /** A query over cacheable root fields only, answered without errors. */
  cacheable: boolean
}

/** An answer as sent. */
interface Shareable {
  body: string
  contentType: string
}

interface Entry extends Shareable {
  /** The database's snapshot read before the answer was computed. */
  version: string
  bytes: number
}

// Any route's request and reply (Apollo's handler types its reply as a string).
type Handler = (request: FastifyRequest<any>, reply: FastifyReply<any>) => any

/** How many distinct operations it remembers as cacheable (as digests: ~100 bytes each). */
const MAX_LEARNED = 10_000
/** What an entry costs besides its key and body (the Map's slot, the object, the snapshot text). */
const ENTRY_OVERHEAD_BYTES = 200

/**
 * Answers a repeated GraphQL query from memory while the database has not changed since the answer
 * was computed: dashboards polling the same conversation list cost one shared, tiny statement
 * instead of a full execution each.
 *
 * Never stale: every lookup reads the database's snapshot (a read that starts after the request
 * arrived, shared by all requests waiting for one) and serves the stored answer only if the
 * snapshot is the one read before that answer was computed, i.e. no transaction has committed
 * since, on any instance. So a write committed before a request arrives is always seen, as
 * without the cache. Authentication and rate limits run first, on every request.
 *
 * Only POSTed queries whose root fields are all in {@link CACHEABLE_ROOT_FIELDS} and whose answer
 * has no errors are kept; an operation is learned on its first run and kept from its second.
 * Memory is bounded by `maxBytes` (least recently used answers go first).
 */
export class GraphQLResponseCache {
  private readonly entries = new Map<string, Entry>()
  private bytes = 0
  /** Digests of the operations (query text and operation name) seen to be cacheable. */
  private readonly learned = new Set<string>()
  private readonly states = new WeakMap<FastifyRequest, ResponseCacheState>()
  /** Answers being computed, per key: the snapshot they are computed at, and the answer once known. */
  private readonly computing = new Map<string, { version: string; answer: Promise<Shareable | null> }>()
  /** A read that started before a request arrived cannot vouch for it: calls made meanwhile share the next. */
  private readonly versions: Coalescer<object, string>

  constructor(
    readVersion: () => Promise<string>,
    private readonly maxBytes: number,
  ) {
    this.versions = new Coalescer(
      async (callers) => {
        const version = await readVersion()
        return callers.map(() => version)
      },
      { key: (caller) => caller, retryAlone: () => false, maxBatch: Number.POSITIVE_INFINITY },
    )
  }

  /** The state Apollo's run of `request` fills in, for the GraphQL context (undefined: not tracked). */
  stateOf(request: FastifyRequest): ResponseCacheState | undefined {
    return this.states.get(request)
  }

  /**
   * Wraps Apollo's route handler. `gate` authenticates and counts the request; it must be the
   * same call the context makes (memoised per request), so a request is counted once.
   */
  handler(gate: (request: FastifyRequest) => Promise<{ phoneNumberIds: string[] | null }>, next: Handler): Handler {
    return async (request, reply) => {
      const op = operationOf(request)
      if (!op) return next(request, reply)
      const state: ResponseCacheState = { cacheable: false }
      this.states.set(request, state)
      if (!this.learned.has(op.operation) && !this.entries.has(op.key)) {
        const body = await next(request, reply)
        if (state.cacheable) this.learn(op.operation)
        return body
      }
      let version: string
      try {
        // A caller limited to some numbers sees less than the answers cached for others: never
        // served from the cache, never stored in it (entries are keyed by the query alone).
        if ((await gate(request)).phoneNumberIds !== null) return next(request, reply)
        version = await this.versions.run({})
      } catch {
        return next(request, reply) // Apollo answers the gate's error (or the database's) its usual way
      }
      const stored = this.entries.get(op.key)
      if (stored?.version === version) {
        this.add(op.key, stored) // now the most recently used
        return send(reply, stored)
      }
      // Requests that read the same snapshot while this answer is computed take it instead of
      // computing it again (after a write, every poller of a list misses at once).
      const computing = this.computing.get(op.key)
      if (computing?.version === version) {
        const shared = await computing.answer
        if (shared) return send(reply, shared)
      }
      let share: (answer: Shareable | null) => void = () => {}
      const mine = { version, answer: new Promise<Shareable | null>((resolve) => (share = resolve)) }
      this.computing.set(op.key, mine)
      let shareable: Shareable | null = null
      try {
        const body = await next(request, reply)
        if (state.cacheable && reply.statusCode === 200 && typeof body === 'string') {
          const contentType = reply.getHeader('content-type')
          shareable = {
            body,
            contentType: typeof contentType === 'string' ? contentType : 'application/json; charset=utf-8',
          }
          this.add(op.key, {
            ...shareable,
            version,
            bytes: 2 * (op.key.length + body.length + version.length) + ENTRY_OVERHEAD_BYTES,
          })
        }
        return body
      } finally {
        if (this.computing.get(op.key) === mine) this.computing.delete(op.key)
        share(shareable) // null (an error, or not cacheable): those waiting compute it themselves
      }
    }
  }

  /** Marks requests whose operation is a query over cacheable root fields, answered without errors. */
  plugin(): ApolloServerPlugin<{ responseCache?: ResponseCacheState }> {
    return {
      async requestDidStart() {
        return {
          async didResolveOperation({ contextValue, document, operation }) {
            if (contextValue.responseCache) {
              contextValue.responseCache.cacheable = operation !== undefined && isCacheable(document, operation)
            }
          },
          async willSendResponse({ contextValue, response }) {
            const state = contextValue.responseCache
            if (!state) return
            const ok = response.body.kind === 'single' && !response.body.singleResult.errors
            if (!ok || (response.http.status ?? 200) !== 200) state.cacheable = false
          },
        }
      },
    }
  }

  private learn(operation: string): void {
    if (this.learned.size >= MAX_LEARNED) this.learned.delete(this.learned.values().next().value as string)
    this.learned.add(operation)
  }

  private add(key: string, entry: Entry): void {
    this.remove(key) // a stale answer for the key, if any; and the new one goes last
    // One large answer must not push out everything else.
    if (entry.bytes > this.maxBytes / 8) return
    this.entries.set(key, entry)
    this.bytes += entry.bytes
    for (const [oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.remove(oldest)
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key)
    if (!entry) return
    this.entries.delete(key)
    this.bytes -= entry.bytes
  }
}

/** Sends an answer computed before, as Apollo sent it. */
function send(reply: FastifyReply, answer: Shareable): string {
  void reply.code(200).header('content-type', answer.contentType)
  return answer.body
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/
const digest = (text: string) => createHash('sha256').update(text).digest('base64url')

/**
 * A POSTed query's identity: `operation` (a digest of its text and name) and `key` (with its
 * variables and the media type asked for); null for anything Apollo must look at itself (a GET,
 * persisted queries or other extensions, a malformed operation name or variables).
 */
function operationOf(request: FastifyRequest): { operation: string; key: string } | null {
  if (request.method !== 'POST') return null
  const body = request.body as { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown }
  if (!body || typeof body.query !== 'string' || body.extensions !== undefined) return null
  const name = body.operationName ?? ''
  if (typeof name !== 'string' || (name !== '' && !NAME.test(name))) return null
  const variables = body.variables ?? null
  if (typeof variables !== 'object' || Array.isArray(variables)) return null
  // JSON has no Infinity or NaN (1e400 parses as Infinity): such variables would share a key
  // with null, which Apollo answers differently. Left to Apollo.
  let finite = true
  const json = JSON.stringify(variables, (_key, value: unknown) => {
    if (typeof value === 'number' && !Number.isFinite(value)) finite = false
    return value
  })
  if (!finite) return null
  const operation = digest(`${name}\n${body.query}`)
  return { operation, key: `${operation}.${digest(`${request.headers.accept ?? ''}\n${json}`)}` }
}

function isCacheable(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'query') return false
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  )
  const onlyCacheable = (set: SelectionSetNode, seen: Set<string>): boolean =>
    set.selections.every((selection) => {
      if (selection.kind === Kind.FIELD) {
        return selection.name.value === '__typename' || CACHEABLE_ROOT_FIELDS.has(selection.name.value)
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) return onlyCacheable(selection.selectionSet, seen)
      const fragment = fragments.get(selection.name.value)
      if (!fragment || seen.has(fragment.name.value)) return false
      return onlyCacheable(fragment.selectionSet, new Set(seen).add(fragment.name.value))
    })
  return onlyCacheable(operation.selectionSet, new Set())
}
