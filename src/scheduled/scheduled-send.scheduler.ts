import { randomUUID } from 'node:crypto'
import type { EventBus, MessageEvent } from '../events/event-bus.js'
import type { ScheduledSendRecord, ScheduledSendRepository } from './scheduled-send.repository.js'
import type { ScheduledSendService } from './scheduled-send.service.js'

export interface SchedulerOptions {
  /** True when no other process can open the database (embedded): every claim not ours is orphaned. */
  exclusive: boolean
  /** How long a claim holds without renewal: after that its instance counts as dead. */
  leaseMs?: number
  /** How often to look for due sends anyway (a missed wake-up, another instance's claim lapsing). */
  pollMs?: number
  /** A send that goes out more than this after its time says it was late. */
  lateAfterMs?: number
  /** Sends in flight at once in this instance. */
  concurrency?: number
  /** When a send failed on our side (the database), how soon it is tried again. */
  retryMs?: number
  onError?: (err: unknown, context: string) => void
}

/**
 * Sends scheduled sends at their time. Each instance keeps one timer armed for the next due send
 * (database clock), re-armed when a sooner one is scheduled: here directly, on other instances
 * through the event bus (PostgreSQL LISTEN/NOTIFY), with a periodic poll as the safety net. Due
 * sends are claimed on a lease (FOR UPDATE SKIP LOCKED), so exactly one instance sends each; the
 * lease is renewed while the send runs, and one whose instance died is taken over once it lapses.
 */
export class ScheduledSendScheduler {
  readonly instanceId = randomUUID()
  private readonly running = new Map<number, Promise<void>>()
  private timer: NodeJS.Timeout | null = null
  private readonly intervals: NodeJS.Timeout[] = []
  private subscription: AsyncIterableIterator<MessageEvent> | null = null
  private filling: Promise<void> | null = null
  private again = false
  private stopping = false

  constructor(
    private readonly sends: ScheduledSendRepository,
    private readonly service: ScheduledSendService,
    private readonly events: EventBus,
    private readonly options: SchedulerOptions,
  ) {
    service.onScheduled(() => this.wake())
  }

  private get leaseMs() {
    return this.options.leaseMs ?? 30_000
  }

  /** Starts the timers and listening; resolves after the first look (sends due while every instance was down go now). */
  async start(): Promise<void> {
    this.intervals.push(
      setInterval(() => this.wake(), this.options.pollMs ?? 5_000).unref(),
      setInterval(() => {
        this.sends
          .renew([...this.running.keys()], this.instanceId, this.leaseMs)
          .catch((err) => this.options.onError?.(err, 'renewing scheduled send claims'))
      }, this.leaseMs / 3).unref(),
    )
    this.listen()
    this.wake()
    await this.filling
  }

  /** Stops the timers and claiming; sends in flight go on (see {@link drain}). */
  stop(): void {
    this.stopping = true
    if (this.timer) clearTimeout(this.timer)
    for (const interval of this.intervals) clearInterval(interval)
    void this.subscription?.return?.()
  }

  /** Waits for the sends in flight, then gives back any claim left, for another instance or the next start. */
  async drain(): Promise<void> {
    this.stop()
    await this.filling
    await Promise.allSettled(this.running.values())
    await this.sends.releaseAll(this.instanceId)
  }

  /** Looks for due sends now and re-arms the timer (a send was scheduled, or the timer fired). */
  wake(): void {
    if (this.stopping) return
    if (this.filling) {
      this.again = true
      return
    }
    this.filling = this.fill().finally(() => {
      this.filling = null
      if (this.again) {
        this.again = false
        this.wake()
      }
    })
  }

  /** Every `scheduledSendAdded` of any instance (and a missed-events notice) wakes this one. */
  private listen(): void {
    const events = this.events.subscribe('scheduledSendAdded', null)
    this.subscription = events
    void (async () => {
      for await (const _ of events) this.wake()
    })().catch((err) => this.options.onError?.(err, 'scheduled send wake-ups'))
  }

  private async fill(): Promise<void> {
    try {
      for (;;) {
        const free = (this.options.concurrency ?? 8) - this.running.size
        if (free <= 0 || this.stopping) return // a send finishing wakes this again
        const claimed = await this.sends.claimDue(this.instanceId, {
          limit: free,
          leaseMs: this.leaseMs,
          lateAfterMs: this.options.lateAfterMs ?? 5_000,
          exclusive: this.options.exclusive,
        })
        for (const send of claimed) this.run(send)
        if (claimed.length < free) break
      }
      await this.arm()
    } catch (err) {
      this.options.onError?.(err, 'claiming scheduled sends')
    }
  }

  /** Sets the timer for the next due send (the poll covers anything further away). */
  private async arm(): Promise<void> {
    const dueInMs = await this.sends.nextDueInMs()
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (dueInMs === null || this.stopping) return
    // A due one just claimed elsewhere (SKIP LOCKED) is not ours: look again shortly, not in a loop.
    const wait = dueInMs <= 0 ? 20 : Math.min(dueInMs + 2, 2 ** 31 - 1)
    this.timer = setTimeout(() => this.wake(), wait).unref()
  }

  private run(send: ScheduledSendRecord): void {
    const owner = this.instanceId
    const work = (async () => {
      const result = await this.service.deliver(send)
      if ('outcome' in result) return this.sends.complete(send.id, owner, result.outcome)
      if (result.retry === 'unclaim') return this.sends.unclaim(send.id, owner)
      if (result.cause !== null) this.options.onError?.(result.cause, `scheduled send ${send.id}: tried again shortly`)
      await this.sends.retryLater(send.id, owner, this.options.retryMs ?? 2_000)
    })()
      .catch(async (err) => {
        this.options.onError?.(err, `scheduled send ${send.id}`)
        // Given back, not left to lapse: tried again after retryMs.
        await this.sends.retryLater(send.id, owner, this.options.retryMs ?? 2_000).catch(() => {})
      })
      .finally(() => {
        this.running.delete(send.id)
        this.wake()
      })
    this.running.set(send.id, work)
  }
}
