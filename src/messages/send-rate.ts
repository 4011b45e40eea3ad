/** Milliseconds since the epoch with sub-millisecond precision. */
export const nowMs = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Slots drawn together: the first (local clock, ms), and whether anyone else draws from the sequence. */
export interface SlotBlock {
  first: number
  /**
   * True when no other instance draws from the sequence lately: a slot used late crowds no one
   * else's window (this process's own window still holds it to the rate), up to `exclusiveLateMs`.
   */
  exclusive: boolean
}

/** Hands out send slots: evenly spaced points in time, never two for the same instant. */
export interface SlotSource {
  /** Reserves `count` consecutive slots `intervalMs` apart. */
  reserve(count: number, intervalMs: number): Promise<SlotBlock>
  /** How late a slot of an exclusive block may still be used. */
  readonly exclusiveLateMs: number
}

/** Slots for this process alone (the embedded database cannot be shared by several instances). */
export class MemorySlotSource implements SlotSource {
  readonly exclusiveLateMs = Infinity
  private next = 0
  async reserve(count: number, intervalMs: number): Promise<SlotBlock> {
    const first = Math.max(this.next, nowMs())
    this.next = first + count * intervalMs
    return { first, exclusive: true }
  }
}

/** One send let through: say when its request has been written out (at the latest, when it ended). */
export interface SendTicket {
  written(): void
}

/**
 * Keeps sends to Meta under a number per second, over any one-second window, for all instances
 * sharing the slot source.
 *
 * Each send takes the next slot of an evenly spaced sequence (no bursts: a burst followed by even
 * spacing would put more than the limit into some window), slightly wider than 1/rate so that
 * timing jitter between instances cannot crowd a window. And locally, a send may start only while
 * fewer than `perSecond` of this process's sends are in flight or were written out within the last
 * window: a request reaches Meta after it is written, so however late the event loop lets it go,
 * any one-second window at Meta holds at most `perSecond` of them (transit jitter up to the margin).
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput
 */
export class SendRateLimiter {
  readonly intervalMs: number
  private readonly windowMs: number
  /** How late a shared slot may still be used: the headroom the spacing leaves in a second. */
  private readonly sharedLateMs: number
  private readonly blockSize: number
  /** Slots fetched and not used yet, each with how late it may still be used. */
  private readonly slots: { at: number; lateMs: number }[] = []
  private reserving: Promise<void> | null = null
  /** Sends let through whose request is not written out yet. */
  private inFlight = 0
  /** When the last sends were written out, oldest first (a ring; times only ever grow). */
  private readonly written: Float64Array
  private head = 0
  private count = 0

  constructor(
    readonly perSecond: number,
    private readonly source: SlotSource = new MemorySlotSource(),
    /** Headroom on the spacing (2% by default: 1,000 sends take 1.02 s of slots). */
    margin = 0.02,
  ) {
    this.intervalMs = (1000 / perSecond) * (1 + margin)
    // 25 ms over a second by default: how much the time from "written" to "arrived" may vary (a
    // busy machine deschedules threads for tens of milliseconds) without crowding a second at Meta.
    this.windowMs = 1000 * (1 + 1.25 * margin)
    // A quarter of the headroom: the rest absorbs the jitter between instances' requests. Slots
    // nobody else draws from may be used later (see SlotBlock.exclusive).
    this.sharedLateMs = 250 * margin
    // Shared slots are fetched ~50 ms' worth at a time (one round trip per block, not per send),
    // and the next block is fetched while half of this one is left: under load the round trip
    // overlaps the sends instead of leaving a gap in the sequence after every block.
    this.blockSize = Math.max(1, Math.ceil(perSecond / 20))
    this.written = new Float64Array(perSecond)
  }

  /** Resolves when one more send may start now. */
  async acquire(): Promise<SendTicket> {
    return (await this.reserve()).go()
  }

  /**
   * Takes the next slot; `go()` waits for it and lets the send start. Work done between the two
   * (a database write) overlaps the wait instead of delaying the request past its slot.
   */
  async reserve(): Promise<{ go(): Promise<SendTicket> }> {
    let slot = await this.nextSlot()
    return {
      go: async () => {
        for (let tries = 0; ; tries++) {
          const wait = slot.at - nowMs()
          if (wait > 0) await sleep(wait)
          // Room in this process's window first: waiting for it makes the send later still.
          const ticket = await this.withinWindow()
          // A slot used too late lands in a window other instances may have filled on time:
          // take a fresh one (a few times at most: under heavy load everything is late).
          if (nowMs() - slot.at <= slot.lateMs || tries === 3) return ticket
          ticket.release()
          slot = await this.nextSlot()
        }
      },
    }
  }

  private async nextSlot(): Promise<{ at: number; lateMs: number }> {
    for (;;) {
      // A slot already too far past is dropped: using it would add a send to a window other
      // instances have already filled.
      const now = nowMs()
      while (this.slots.length && this.slots[0].at < now - this.slots[0].lateMs) this.slots.shift()
      const slot = this.slots.shift()
      if (slot !== undefined) {
        // Ahead of need only when blocks hold several slots: at a few sends per second a slot
        // fetched ahead would mostly go stale, a round trip and a shared slot wasted per send.
        if (this.blockSize > 1 && this.slots.length < this.blockSize / 2) this.refill()
        return slot
      }
      this.refill()
      await this.reserving
    }
  }

  private refill(): void {
    if (this.reserving) return
    this.reserving = this.source
      .reserve(this.blockSize, this.intervalMs)
      .then(({ first, exclusive }) => {
        const lateMs = exclusive ? this.source.exclusiveLateMs : this.sharedLateMs
        for (let i = 0; i < this.blockSize; i++) this.slots.push({ at: first + i * this.intervalMs, lateMs })
      })
      .finally(() => {
        this.reserving = null
      })
    // A fetch ahead of need may fail with nobody waiting: the next send that needs a slot retries.
    this.reserving.catch(() => {})
  }

  private async withinWindow(): Promise<SendTicket & { release(): void }> {
    const capacity = this.written.length
    for (;;) {
      const now = nowMs()
      while (this.count && this.written[this.head] <= now - this.windowMs) {
        this.head = (this.head + 1) % capacity
        this.count--
      }
      if (this.inFlight + this.count < capacity) break
      // Wait for the oldest to leave the window, or for an in-flight one to be written.
      await sleep(this.count ? this.written[this.head] + this.windowMs - now : 1)
    }
    this.inFlight++
    let done = false
    return {
      written: () => {
        if (done) return
        done = true
        this.inFlight--
        this.written[(this.head + this.count++) % capacity] = nowMs()
      },
      /** Not used after all: nothing was sent. */
      release: () => {
        if (done) return
        done = true
        this.inFlight--
      },
    }
  }
}
