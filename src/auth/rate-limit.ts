import { createHash } from 'node:crypto'
import type { PrismaClient } from '../db/database.js'
import { AppError } from '../errors.js'

export class RateLimitedError extends AppError {
  readonly code = 'RATE_LIMITED'
  readonly httpStatus = 429
  override name = 'RateLimitedError'
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many requests for this token: retry in ${retryAfterSeconds} s`)
  }
  override details() {
    return { retryAfterSeconds: this.retryAfterSeconds }
  }
}

/**
 * Per-token request limits in fixed one-minute windows, counted in the database so that every
 * instance sharing it counts together (one upsert per request).
 */
export class RateLimiter {
  private readonly sweeper: NodeJS.Timeout

  constructor(
    private readonly prisma: PrismaClient,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    // Old windows are dropped in the background, so a request always costs one statement.
    this.sweeper = setInterval(() => void this.sweep(), 60_000).unref()
  }

  private async sweep(): Promise<void> {
    const before = new Date(Math.floor(this.now() / 60_000) * 60_000 - 60_000)
    await this.prisma.rateLimitWindow.deleteMany({ where: { windowStart: { lt: before } } }).catch(() => {})
  }

  close(): void {
    clearInterval(this.sweeper)
  }

  /** Counts one request for `token`. @throws RateLimitedError over the limit */
  async hit(token: string): Promise<void> {
    const now = this.now()
    const windowStart = new Date(Math.floor(now / 60_000) * 60_000)
    const key = createHash('sha256').update(token).digest('base64url').slice(0, 22)
    const [row] = await this.prisma.$queryRaw<{ count: number }[]>`
      INSERT INTO rate_limit_windows (key, window_start, count) VALUES (${key}, ${windowStart}, 1)
      ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_windows.count + 1
      RETURNING count`
    if (row.count > this.perMinute) {
      throw new RateLimitedError(Math.max(1, Math.ceil((windowStart.getTime() + 60_000 - now) / 1000)))
    }
  }
}
