import { createHash } from 'node:crypto'
import {
  AppError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  ReplayedError,
  ServiceStoppingError,
  ValidationError,
} from '../errors/errors.js'
import type { Prisma } from '../generated/prisma/client.js'
import type { IdempotencyRepository } from './idempotency.repository.js'

/** How long a key and its response are kept. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/** How long a request holds its key without renewing it: after that its process counts as dead. */
export const IDEMPOTENCY_LEASE_MS = 30_000

/** What a request stored before calling Meta, for another to take over from if its process dies. */
export type Progress = { messageId: number } | { batchId: number }

/**
 * The outcome of a request whose process died, read from what it stored: its result or its error.
 * `settled: false`: not final yet (Meta's answer still unknown, a fan-out still running): answered,
 * not kept, so the next request with the key reads it again.
 */
export type Resumed<T> = { settled: boolean } & ({ value: T } | { error: AppError })

/** The idempotency key of one call, and where it came from. */
export interface IdempotencyKeyInput {
  /** Whose key it is (a digest of the API token): keys of different clients never collide. */
  scope: string
  /** As the client sent it; absent: no idempotency. */
  key: string | undefined | null
  /** How the client sent it, for errors: `Idempotency-Key` (header) or `idempotencyKey`. */
  field: string
}

export const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/**
 * Idempotent sends, with the semantics of Stripe and the IETF draft: the first request with a key
 * runs and its response — result or error — is kept; the same key with the same request gets that
 * response again without running anything; with a different request it is refused (422); while
 * the first is still running, 409. Keys live 24 hours, in the database, so every instance sharing
 * it agrees.
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 */
export class IdempotencyService {
  private readonly sweeper: NodeJS.Timeout

  constructor(
    private readonly repository: IdempotencyRepository,
    private readonly options: { ttlMs?: number; leaseMs?: number } = {},
  ) {
    this.sweeper = setInterval(() => void this.repository.sweep().catch(() => {}), 10 * 60_000).unref()
  }

  private get ttlMs() {
    return this.options.ttlMs ?? IDEMPOTENCY_TTL_MS
  }

  private get leaseMs() {
    return this.options.leaseMs ?? IDEMPOTENCY_LEASE_MS
  }

  close(): void {
    clearInterval(this.sweeper)
  }

  /**
   * Runs `fn` once per key: `operation` and `request` (the validated input) identify the request.
   * While it runs it holds the key on a lease, renewed as it goes; `fn` notes what it stored before
   * calling Meta (`track`). If its process dies, the lease lapses and the next request with the key
   * takes over: with nothing noted, nothing was sent and `fn` runs; otherwise `resume` reads the
   * outcome from what was stored, so nothing Meta may have taken is sent again.
   * @throws ValidationError for a malformed key, IdempotencyKeyReusedError, IdempotencyKeyInFlightError,
   *   or the first call's error again
   */
  async run<T>(
    idempotency: IdempotencyKeyInput | undefined,
    operation: string,
    request: unknown,
    fn: (track: (progress: Progress) => Promise<void>) => Promise<T>,
    resume?: (progress: Progress) => Promise<Resumed<T>>,
  ): Promise<T> {
    const key = idempotency?.key
    if (key === undefined || key === null) return fn(async () => {})
    if (!KEY_PATTERN.test(key)) {
      throw new ValidationError([
        { path: idempotency!.field, message: 'must be 1 to 255 visible ASCII characters (a UUID is a good key)' },
      ])
    }
    const { scope, field } = idempotency!
    const fingerprint = createHash('sha256').update(operation).update('\n').update(stableJson(request)).digest('hex')
    const claim = await this.repository.claim(scope, key, fingerprint, this.ttlMs, this.leaseMs)
    if (claim.kind === 'held') {
      if (claim.existing.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError(field)
      if (claim.existing.response === null) throw new IdempotencyKeyInFlightError()
      return replay(claim.existing.response as Stored) as T
    }
    const progress = claim.kind === 'taken-over' ? (claim.progress as Progress | null) : null
    if (progress && resume) return this.resume(scope, key, progress, resume)
    const renewal = setInterval(
      () => void this.repository.renew(scope, key, this.leaseMs).catch(() => {}),
      this.leaseMs / 3,
    ).unref()
    let stored: Stored
    let outcome: { value: T } | { error: unknown }
    try {
      const value = await fn((p) => this.repository.note(scope, key, p as Prisma.InputJsonValue))
      outcome = { value }
      stored = { ok: encode(value) }
    } catch (error) {
      if (error instanceof ServiceStoppingError && error.nothingDone) {
        // Nothing happened: the same key may be sent again once the service is back.
        clearInterval(renewal)
        await this.repository.release(scope, key)
        throw error
      }
      outcome = { error }
      // Every outcome of a request that started is kept, failures of ours included: the send may
      // have reached Meta before them, and running it again could double it.
      stored = { error: encodeError(error instanceof AppError ? error : null) }
    } finally {
      clearInterval(renewal)
    }
    await this.repository.complete(scope, key, stored as Prisma.InputJsonValue, this.ttlMs)
    if ('error' in outcome) throw outcome.error
    return outcome.value
  }

  /**
   * What the request with this key noted it stored before calling Meta (its message or batch),
   * also when it failed: where to read its outcome.
   */
  async progress(idempotency: IdempotencyKeyInput): Promise<Progress | null> {
    if (!idempotency.key) return null
    return (await this.repository.progress(idempotency.scope, idempotency.key)) as Progress | null
  }

  /** Answers a taken-over request from what its dead predecessor stored; keeps the answer once settled. */
  private async resume<T>(
    scope: string,
    key: string,
    progress: Progress,
    resume: (progress: Progress) => Promise<Resumed<T>>,
  ): Promise<T> {
    let resumed: Resumed<T>
    try {
      resumed = await resume(progress)
    } catch (err) {
      await this.repository.lapse(scope, key)
      throw err
    }
    if (!resumed.settled) await this.repository.lapse(scope, key)
    else {
      const stored: Stored = 'value' in resumed ? { ok: encode(resumed.value) } : { error: encodeError(resumed.error) }
      await this.repository.complete(scope, key, stored as Prisma.InputJsonValue, this.ttlMs)
    }
    if ('error' in resumed) throw resumed.error
    return resumed.value
  }
}

type Stored = { ok: unknown } | { error: EncodedError }
interface EncodedError {
  code: AppError['code']
  httpStatus: number
  message: string
  details?: Record<string, unknown>
}

function encodeError(err: AppError | null): EncodedError {
  if (!err) return { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, message: 'Internal server error' }
  return { code: err.code, httpStatus: err.httpStatus, message: err.message, details: err.details() }
}

function replay(stored: Stored): unknown {
  if ('error' in stored) {
    const e = stored.error
    throw new ReplayedError(e.code, e.httpStatus, e.message, e.details)
  }
  return decode(stored.ok)
}

/** JSON with dates and errors kept (`{"$date": …}`, `{"$error": …}`), so a replay has the same types. */
function encode(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
      const raw = this[key]
      if (raw instanceof Date) return { $date: raw.toISOString() }
      if (raw instanceof AppError) return { $error: encodeError(raw) }
      return v
    }) ?? 'null',
  )
}

function decode(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof v.$date === 'string' && Object.keys(v).length === 1) return new Date(v.$date)
      if (v.$error && Object.keys(v).length === 1) {
        const e = v.$error as EncodedError
        return new ReplayedError(e.code, e.httpStatus, e.message, e.details)
      }
    }
    return v
  })
}

/** JSON with object keys sorted, so equal requests give equal text whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  )
}
