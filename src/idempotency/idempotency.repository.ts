import type { PrismaClient } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'

/** A key already taken: by which request, and its response once it has one. */
export interface ExistingKey {
  fingerprint: string
  /** Null while the first request is in flight. */
  response: unknown
}

/** Idempotency keys. The only code that talks to Prisma about them. */
export class IdempotencyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Takes `key` for a request, atomically (one statement, so two instances racing for the same
   * key cannot both win). An expired key is taken over. Returns null when taken now, else what
   * holds it.
   */
  async claim(scope: string, key: string, fingerprint: string, ttlMs: number): Promise<ExistingKey | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const taken = await this.prisma.$queryRaw<unknown[]>`
        INSERT INTO idempotency_keys AS k (scope, key, fingerprint, created_at, expires_at)
        VALUES (${scope}, ${key}, ${fingerprint}, now(), now() + ${ttlMs} * interval '1 millisecond')
        ON CONFLICT (scope, key) DO UPDATE
          SET fingerprint = EXCLUDED.fingerprint, response = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
          WHERE k.expires_at < now()
        RETURNING 1`
      if (taken.length) return null
      const existing = await this.prisma.idempotencyKey.findUnique({
        where: { scope_key: { scope, key } },
        select: { fingerprint: true, response: true },
      })
      if (existing) return existing
      // Swept between the two statements: claim again.
    }
    throw new Error('could not claim an idempotency key that keeps disappearing')
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
