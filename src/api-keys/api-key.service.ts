import { createHash, randomBytes } from 'node:crypto'
import { z } from 'zod'
import { callerOf } from '../auth/auth.js'
import { type Principal, SCOPES } from '../auth/principal.js'
import { ValidationError } from '../errors/errors.js'
import type { EventBus } from '../events/event-bus.js'
import { parseInput, stringError } from '../validation.js'
import type { ApiKeyRecord, ApiKeyRepository } from './api-key.repository.js'

/** What the key itself is not: the hex SHA-256 digest kept in the database instead. */
export const keyDigest = (key: string) => createHash('sha256').update(key).digest('hex')

const createSchema = z.object({
  name: z
    .string({ error: stringError })
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/, 'must be 1 to 64 letters, digits, spaces or . _ @ -'),
  scope: z.enum(SCOPES, { error: 'must be READ, SEND or ADMIN' }),
  phoneNumberIds: z
    .array(z.string({ error: stringError }).regex(/^\d{1,32}$/, 'must be a Meta phone number id (digits)'), {
      error: 'must be a list of phone number ids',
    })
    .min(1, 'must name at least one number (or be null: every number)')
    .max(100)
    .nullish()
    .transform((ids) => (ids ? [...new Set(ids)] : null)),
})

export interface ApiKeyServiceOptions {
  /** How long a key found stays trusted without asking the database (a revocation drops it at once). */
  cacheMs?: number
  /** `last_used_at` is written at most this often per key (and instance): not on every request. */
  lastUsedEveryMs?: number
  onError?: (err: unknown) => void
}

/**
 * API keys stored in the database (hashed), each with a scope and optionally the numbers it may
 * use. Lookups are cached in memory for a short while; a revocation is told to every instance on
 * the event bus, which drops the key from its cache and closes its open subscriptions.
 */
export class ApiKeyService {
  private readonly cache = new Map<string, { key: ApiKeyRecord; until: number }>()
  /** Bumped on each revocation: a lookup that started before one does not cache what it found. */
  private generation = 0
  private readonly lastUsedWritten = new Map<number, number>()
  private readonly writes = new Set<Promise<void>>()
  private readonly revokedListeners = new Set<(keyId: number) => void>()
  private listening: AsyncIterableIterator<unknown> | null = null
  private readonly cacheMs: number
  private readonly lastUsedEveryMs: number

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly events: EventBus,
    private readonly options: ApiKeyServiceOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 30_000
    this.lastUsedEveryMs = options.lastUsedEveryMs ?? 60_000
  }

  /** Starts hearing revocations (of every instance). */
  start(): void {
    const events = this.events.subscribe('apiKeyRevoked', null)
    this.listening = events
    void (async () => {
      for await (const event of events) {
        // eventsMissed: a revocation may have been lost, so trust nothing cached.
        if (event.type === 'eventsMissed') this.forget(null)
        else this.forget(event.messageId)
      }
    })().catch((err) => this.options.onError?.(err))
  }

  async close(): Promise<void> {
    await this.listening?.return?.()
    await Promise.allSettled([...this.writes])
  }

  /** Called with the id of each key revoked (here or on another instance), e.g. to close its subscriptions. */
  onRevoked(listener: (keyId: number) => void): () => void {
    this.revokedListeners.add(listener)
    return () => this.revokedListeners.delete(listener)
  }

  /**
   * Makes a key; answers it (shown only now: only its digest is kept) and what is stored.
   * @throws ValidationError (also for a name already taken)
   */
  async create(input: unknown): Promise<{ key: string; apiKey: ApiKeyRecord }> {
    const { name, scope, phoneNumberIds } = parseInput(createSchema, input, 'input')
    const key = `wag_${randomBytes(32).toString('base64url')}`
    const apiKey = await this.repository.create({ name, scope, phoneNumberIds, keyHash: keyDigest(key) })
    if (!apiKey) throw new ValidationError([{ path: 'input.name', message: 'is already the name of a key' }])
    return { key, apiKey }
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.repository.list()
  }

  /** Revokes the key named `name` on every instance; false when there is none (already revoked?). */
  async revoke(name: unknown): Promise<boolean> {
    const key = await this.repository.deleteByName(parseInput(z.string({ error: stringError }), name, 'name'))
    if (!key) return false
    this.forget(key.id)
    this.events.publish({ type: 'apiKeyRevoked', messageId: key.id, conversationId: 0 })
    return true
  }

  /** Who holds `token` if it is a stored key, else null. */
  async identify(token: string): Promise<Principal | null> {
    const digest = keyDigest(token)
    const now = Date.now()
    let cached = this.cache.get(digest)
    if (!cached || cached.until <= now) {
      const generation = this.generation
      const key = await this.repository.findByHash(digest)
      if (!key) {
        this.cache.delete(digest)
        return null
      }
      cached = { key, until: now + this.cacheMs }
      if (generation === this.generation) this.cache.set(digest, cached)
    }
    this.used(cached.key.id, now)
    const { id, name, scope, phoneNumberIds } = cached.key
    return { name, caller: callerOf(token), scope, phoneNumberIds, keyId: id }
  }

  private used(keyId: number, now: number): void {
    if (now - (this.lastUsedWritten.get(keyId) ?? -Infinity) < this.lastUsedEveryMs) return
    this.lastUsedWritten.set(keyId, now)
    const write = this.repository.touch(keyId, new Date(now)).catch((err) => this.options.onError?.(err))
    this.writes.add(write)
    void write.finally(() => this.writes.delete(write))
  }

  /** Drops a revoked key (null: every key) from the cache, and tells the listeners. */
  private forget(keyId: number | null): void {
    this.generation++
    for (const [digest, { key }] of this.cache) if (keyId === null || key.id === keyId) this.cache.delete(digest)
    if (keyId === null) return
    this.lastUsedWritten.delete(keyId)
    for (const listener of this.revokedListeners) listener(keyId)
  }
}
