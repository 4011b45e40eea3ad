import { randomUUID } from 'node:crypto'
import type { PrismaClient } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'
import { nowMs, type SlotBlock, type SlotSource } from './send-rate.js'

/**
 * How late an instance drawing alone may use its slots. An instance that starts drawing after one
 * that was told it drew alone begins `TAKEOVER_GUARD_MS` after the last slot handed out: a send of
 * that slot, up to this late (its window wait included: see SendRateLimiter), has reached Meta by
 * then, clock and transit jitter (15 ms each way) included.
 */
export const EXCLUSIVE_LATE_MS = 100
export const TAKEOVER_GUARD_MS = EXCLUSIVE_LATE_MS + 2 * 15

/** A draw in the database's clock (ms since the epoch): the first slot, when it was drawn, and whether it is ours alone. */
export interface RawSlotBlock {
  first: number
  now: number
  exclusive: boolean
}

/**
 * Slots from one row in PostgreSQL, so every instance sharing the database draws from the same
 * sequence. Times are the database's clock, turned into this process's clock on return (no
 * reliance on synchronised clocks between instances).
 *
 * The row also says who drew last, and whether it was told its slots were its alone: that is so
 * while it alone has drawn since `holdMs` after another instance's last draw. Then a slot the
 * event loop reaches late is still used instead of being given up (at 1,000 sends/s a busy
 * process gives up hundreds). Another instance's draw (of any version: it changes `next_at`
 * behind the owner's back) makes them shared again; if that draw comes right after a lone
 * drawer's, its slots start `TAKEOVER_GUARD_MS` later. An instance of a version before owners
 * does not wait out the guard: during a rolling deploy from one, a second may briefly take more
 * than the limit (Meta answers 130429, and those sends are retried).
 */
export class PostgresSlotSource implements SlotSource {
  readonly exclusiveLateMs = EXCLUSIVE_LATE_MS
  private readonly instanceId: string
  private readonly holdMs: number

  constructor(
    private readonly prisma: PrismaClient,
    /** What the limit is for: the business phone number id. */
    private readonly key: string,
    options: { instanceId?: string; holdMs?: number } = {},
  ) {
    this.instanceId = options.instanceId ?? randomUUID()
    this.holdMs = options.holdMs ?? 5_000
  }

  async reserve(count: number, intervalMs: number): Promise<SlotBlock> {
    const block = await this.draw(count, intervalMs)
    // The database's clock to ours: the smallest difference seen lately is the one least
    // inflated by the time the answer took to reach us (as NTP does); each answer's own
    // difference would shift slots by that time, which varies, and crowd some seconds.
    this.offsets.push(nowMs() - block.now)
    if (this.offsets.length > 64) this.offsets.shift()
    return { first: block.first + Math.min(...this.offsets), exclusive: block.exclusive }
  }

  /** Draws `count` slots `intervalMs` apart, in the database's clock. */
  async draw(count: number, intervalMs: number): Promise<RawSlotBlock> {
    const span = count * intervalMs
    const me = this.instanceId
    // Read when the statement starts, before it waits for the row: so never used to tell whether
    // the previous drawer was alone (that drawer's own decision is stored with the row).
    const now = Prisma.sql`(SELECT now FROM clock)`
    const drawnByOther = Prisma.sql`(s.owner IS DISTINCT FROM ${me} OR s.owner_next_at IS DISTINCT FROM s.next_at)`
    const afterLoneDrawer = Prisma.sql`(s.owner IS DISTINCT FROM ${me} AND s.owner_next_at = s.next_at AND s.owner_exclusive)`
    const nextAt = Prisma.sql`GREATEST(s.next_at + CASE WHEN ${afterLoneDrawer} THEN ${TAKEOVER_GUARD_MS}::float8 ELSE 0 END, ${now}) + ${span}::float8`
    const [row] = await this.prisma.$queryRaw<RawSlotBlock[]>`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now)
      INSERT INTO send_rate_slots AS s (key, next_at, owner, owner_next_at, owner_exclusive)
      SELECT ${this.key}, clock.now + ${span}::float8, ${me}, clock.now + ${span}::float8, true FROM clock
      ON CONFLICT (key) DO UPDATE SET
        next_at = ${nextAt},
        owner = ${me},
        owner_next_at = ${nextAt},
        owner_exclusive = NOT ${drawnByOther} AND s.shared_until <= ${now},
        shared_until = CASE WHEN ${drawnByOther} THEN ${now} + ${this.holdMs}::float8 ELSE s.shared_until END
      RETURNING s.next_at - ${span}::float8 AS first, ${now} AS now, s.owner_exclusive AS exclusive`
    return row
  }

  private readonly offsets: number[] = []
}
