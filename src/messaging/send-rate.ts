import type { PrismaClient } from '../db/database.js'

/** Milliseconds since the epoch with sub-millisecond precision. */
const nowMs = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Hands out send slots: evenly spaced points in time, never two for the same instant. */
export interface SlotSource {
  /** Reserves `count` consecutive slots `intervalMs` apart; resolves to the first (local clock, ms). */
  reserve(count: number, intervalMs: number): Promise<number>
}

/** Slots for this process alone (the embedded database cannot be shared by several instances). */
export class MemorySlotSource implements SlotSource {
  private next = 0
  async reserve(count: number, intervalMs: number): Promise<number> {
    const first = Math.max(this.next, nowMs())
    this.next = first + count * intervalMs
    return first
  }
}

/**
 * Slots from one row in PostgreSQL, so every instance sharing the database draws from the same
 * sequence. Times are the database's clock, turned into this process's clock on return (no
 * reliance on synchronised clocks between instances).
 */
export class PostgresSlotSource implements SlotSource {
  constructor(
    private readonly prisma: PrismaClient,
    /** What the limit is for: the business phone number id. */
    private readonly key: string,
  ) {}

  async reserve(count: number, intervalMs: number): Promise<number> {
    const span = count * intervalMs
    const [row] = await this.prisma.$queryRaw<{ first: number; now: number }[]>`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now)
      INSERT INTO send_rate_slots AS s (key, next_at)
      SELECT ${this.key}, clock.now + ${span}::float8 FROM clock
      ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(s.next_at, (SELECT now FROM clock)) + ${span}::float8
      RETURNING s.next_at - ${span}::float8 AS first, (SELECT now FROM clock) AS now`
    return nowMs() + (row.first - row.now)
  }
}

/**
 * Keeps sends to Meta under a number per second, over any one-second window, for all instances
 * sharing the slot source. Each send takes the next slot of an evenly spaced sequence (no bursts:
 * a burst followed by even spacing would put more than the limit into some window), slightly
 * wider than 1/rate so that timing jitter between instances cannot crowd a window; and a local
 * log of the last `rate` sends holds back any send that would still make this process exceed it.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput
 */
export class SendRateLimiter {
  readonly intervalMs: number
  /**
   * The window of the local log: a little over one second, because a request reaches Meta some
   * milliseconds after it is let go (event-loop lag), and lags vary.
   */
  private readonly windowMs: number
  private readonly blockSize: number
  private readonly slots: number[] = []
  private reserving: Promise<void> | null = null
  private readonly sent: Float64Array
  private head = 0
  private count = 0

  constructor(
    readonly perSecond: number,
    private readonly source: SlotSource = new MemorySlotSource(),
    /** Headroom on the spacing (1% by default; twice that on the local log's window). */
    margin = 0.01,
  ) {
    this.intervalMs = (1000 / perSecond) * (1 + margin)
    this.windowMs = 1000 * (1 + 2 * margin)
    // Shared slots are fetched ~10 ms' worth at a time: one round trip per block, not per send.
    this.blockSize = Math.max(1, Math.floor(perSecond / 100))
    this.sent = new Float64Array(perSecond)
  }

  /** Resolves when one more send may start now. */
  async acquire(): Promise<void> {
    const slot = await this.nextSlot()
    const wait = slot - nowMs()
    if (wait > 0) await sleep(wait)
    await this.withinWindow()
  }

  private async nextSlot(): Promise<number> {
    for (;;) {
      // A slot left unused for longer than one interval is dropped: using it late would add a
      // send to a window other instances have already filled.
      const stale = nowMs() - this.intervalMs
      while (this.slots.length && this.slots[0] < stale) this.slots.shift()
      const slot = this.slots.shift()
      if (slot !== undefined) return slot
      this.reserving ??= this.source
        .reserve(this.blockSize, this.intervalMs)
        .then((first) => {
          for (let i = 0; i < this.blockSize; i++) this.slots.push(first + i * this.intervalMs)
        })
        .finally(() => {
          this.reserving = null
        })
      await this.reserving
    }
  }

  /** Waits until fewer than `perSecond` of this process's sends fall in the last second, and logs this one. */
  private async withinWindow(): Promise<void> {
    const capacity = this.sent.length
    for (;;) {
      const now = nowMs()
      if (this.count < capacity) {
        this.sent[(this.head + this.count++) % capacity] = now
        return
      }
      const wait = this.sent[this.head] + this.windowMs - now
      if (wait <= 0) {
        this.sent[this.head] = now
        this.head = (this.head + 1) % capacity
        return
      }
      await sleep(wait)
    }
  }
}
