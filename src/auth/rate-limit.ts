import { createHash } from 'node:crypto'
import type { PrismaClient } from '../db/database.js'
import { RateLimitedError } from '../errors/errors.js'

/**
 * Per-token request limits in fixed one-minute windows, counted in the database so that every
 * instance sharing it counts together. Not one write per request: an instance reserves a share of
 * what is left of the window (an eighth, down to single requests near the limit) with one
 * atomic increment and spends it locally. The instances together never let more than the limit
 * through; a share reserved and not spent only makes the limit bite a little early.
 */
export class RateLimiter {
  private readonly sweeper: NodeJS.Timeout
  /** Per token digest: the window, requests reserved and not spent yet, and the shared count last seen. */
  private readonly local = new Map<string, LocalWindow>()

  constructor(
    private readonly prisma: PrismaClient,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    // Old windows are dropped in the background, so a request costs at most one statement.
    this.sweeper = setInterval(() => void this.sweep(), 60_000).unref()
  }

  private async sweep(): Promise<void> {
    const current = Math.floor(this.now() / 60_000) * 60_000
    for (const [key, entry] of this.local) if (entry.windowStart < current) this.local.delete(key)
    const before = new Date(current - 60_000)
    await this.prisma.rateLimitWindow.deleteMany({ where: { windowStart: { lt: before } } }).catch(() => {})
  }

  close(): void {
    clearInterval(this.sweeper)
  }

  /** Counts one request for `token`. @throws RateLimitedError over the limit */
  async hit(token: string): Promise<void> {
    const now = this.now()
    const windowStart = Math.floor(now / 60_000) * 60_000
    const key = createHash('sha256').update(token).digest('base64url').slice(0, 22)
    let entry = this.local.get(key)
    if (!entry || entry.windowStart !== windowStart) {
      entry = { windowStart, available: 0, seen: 0, exhausted: false, reserving: null }
      this.local.set(key, entry)
    }
    for (;;) {
      if (entry.available > 0) {
        entry.available--
        return
      }
      if (entry.exhausted) {
        throw new RateLimitedError(Math.max(1, Math.ceil((windowStart + 60_000 - now) / 1000)))
      }
      // One reservation at a time per token: concurrent requests wait for it and share it.
      entry.reserving ??= this.reserve(key, entry).finally(() => {
        entry.reserving = null
      })
      await entry.reserving
    }
  }

  private async reserve(key: string, entry: LocalWindow): Promise<void> {
    const share = Math.max(1, Math.floor((this.perMinute - entry.seen) / 8))
    const [row] = await this.prisma.$queryRaw<{ count: number }[]>`
      INSERT INTO rate_limit_windows (key, window_start, count) VALUES (${key}, ${new Date(entry.windowStart)}, ${share})
      ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_windows.count + ${share}
      RETURNING count`
    entry.seen = row.count
    // What of the share still fits under the limit (others may have taken the rest meanwhile).
    const granted = Math.max(0, Math.min(share, this.perMinute - (row.count - share)))
    entry.available += granted
    if (granted === 0) entry.exhausted = true
  }
}

interface LocalWindow {
  windowStart: number
  /** Requests reserved and not spent yet. */
  available: number
  /** The shared count last seen. */
  seen: number
  /** Nothing left for this window. */
  exhausted: boolean
  reserving: Promise<void> | null
}
