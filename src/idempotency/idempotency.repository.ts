import type { PrismaClient } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'

/** A key already taken: by which request, and its response once it has one. */
export interface ExistingKey {
  fingerprint: string
  /** Null while the first request is in flight. */
  response: unknown
}

/** What claiming a key found: it was free (or expired), its request died (taken over), or it is held. */
export type Claim =
  { kind: 'new' } | { kind: 'taken-over'; progress: unknown } | { kind: 'held'; existing: ExistingKey }

/** Idempotency keys. The only code that talks to Prisma about them. */
export class IdempotencyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Takes `key` for a request, atomically (one statement, so two instances racing for the same
   * key cannot both win): a new or expired key starts afresh; a key in flight whose lease lapsed
   * (its process died) is taken over by the same request, keeping what that one stored.
   */
  async claim(scope: string, key: string, fingerprint: string, ttlMs: number, leaseMs: number): Promise<Claim> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const [taken] = await this.prisma.$queryRaw<{ fresh: boolean; progress: unknown }[]>`
        INSERT INTO idempotency_keys AS k (scope, key, fingerprint, created_at, expires_at, lease_until)
        VALUES (${scope}, ${key}, ${fingerprint}, now(), now() + ${ttlMs} * interval '1 millisecond',
                now() + ${leaseMs} * interval '1 millisecond')
        ON CONFLICT (scope, key) DO UPDATE
          SET fingerprint = EXCLUDED.fingerprint,
              response = CASE WHEN k.expires_at < now() THEN NULL ELSE k.response END,
              progress = CASE WHEN k.expires_at < now() THEN NULL ELSE k.progress END,
              created_at = CASE WHEN k.expires_at < now() THEN now() ELSE k.created_at END,
              expires_at = GREATEST(k.expires_at, EXCLUDED.expires_at),
              lease_until = EXCLUDED.lease_until
          WHERE k.expires_at < now()
             OR (k.response IS NULL AND k.lease_until < now() AND k.fingerprint = EXCLUDED.fingerprint)
        RETURNING k.created_at = now() AS fresh, k.progress`
      if (taken) return taken.fresh ? { kind: 'new' } : { kind: 'taken-over', progress: taken.progress }
      const existing = await this.prisma.idempotencyKey.findUnique({
        where: { scope_key: { scope, key } },
        select: { fingerprint: true, response: true },
      })
      if (existing) return { kind: 'held', existing }
      // Swept between the two statements: claim again.
    }
    throw new Error('could not claim an idempotency key that keeps disappearing')
  }

  /** The request holding the key is still at work: it keeps the key `leaseMs` longer. */
  async renew(scope: string, key: string, leaseMs: number): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE idempotency_keys SET lease_until = now() + ${leaseMs} * interval '1 millisecond'
      WHERE scope = ${scope} AND key = ${key} AND response IS NULL`
  }

  /** Notes what the request holding the key has stored, before it calls Meta. */
  async note(scope: string, key: string, progress: Prisma.InputJsonValue): Promise<void> {
    await this.prisma.idempotencyKey.update({ where: { scope_key: { scope, key } }, data: { progress } })
  }

  /** What the request holding or having held the key noted it stored; null when nothing. */
  async progress(scope: string, key: string): Promise<unknown> {
    const row = await this.prisma.idempotencyKey.findUnique({
      where: { scope_key: { scope, key } },
      select: { progress: true },
    })
    return row?.progress ?? null
  }

  /** Lets the next request with the key take over at once (its outcome is not settled yet). */
  async lapse(scope: string, key: string): Promise<void> {
    await this.prisma.idempotencyKey.updateMany({
      where: { scope, key, response: { equals: Prisma.DbNull } },
      data: { leaseUntil: new Date(0) },
    })
  }

  /** Keeps the first response for `ttlMs` from now. */
  async complete(scope: string, key: string, response: Prisma.InputJsonValue, ttlMs: number): Promise<void> {
    await this.prisma.idempotencyKey.update({
      where: { scope_key: { scope, key } },
      data: { response, expiresAt: new Date(Date.now() + ttlMs) },
    })
  }

  /** Frees a key whose request changed nothing, so that it can be used again. */
  async release(scope: string, key: string): Promise<void> {
    await this.prisma.idempotencyKey.deleteMany({ where: { scope, key, response: { equals: Prisma.DbNull } } })
  }

  /** Drops expired keys; returns how many. */
  async sweep(): Promise<number> {
    const { count } = await this.prisma.idempotencyKey.deleteMany({ where: { expiresAt: { lt: new Date() } } })
    return count
  }
}
