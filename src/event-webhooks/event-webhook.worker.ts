import type { EventBus, MessageEvent } from '../events/event-bus.js'
import type { ClaimedDelivery, EventWebhookRepository } from './event-webhook.repository.js'
import type { AttemptOutcome, EventWebhookSender } from './event-webhook.sender.js'

export interface EventWebhookWorkerOptions {
  /** Attempts in flight in this instance, in all, and per endpoint. */
  concurrency: number
  endpointConcurrency: number
  /** One attempt's limit; the lease is twice that plus a second, so a live attempt never loses it. */
  timeoutMs: number
  /** The first retry's wait; doubled per attempt up to `retryMaxDelayMs`, ±50 % jitter. */
  retryBaseMs: number
  retryMaxDelayMs: number
  /** How often due deliveries are looked for besides wake-ups (other instances' retries, lapsed leases). */
  pollMs: number
  /** How long stopping waits for attempts in flight before it abandons them (they are given back). */
  stopGraceMs?: number
  onError?: (err: unknown) => void
  /** Told after each attempt (tests, logs): never the secret. */
  onAttempt?: (delivery: { id: number; endpointId: number; eventId: string }, outcome: AttemptOutcome) => void
}

/** How long a wake-up waits for others to share its claim. */
const CLAIM_GATHER_MS = 5

/** The wait before attempt `attempts + 1`: exponential, capped, with jitter so retries do not bunch up. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number, random = Math.random()): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempts - 1), maxMs) * (0.5 + random)
}

/**
 * Delivers recorded events in the background. The state is in the database: deliveries are
 * claimed with a lease (FOR UPDATE SKIP LOCKED, see EventWebhookRepository.claim), so instances
 * sharing PostgreSQL take each delivery once, and one that dies mid-attempt lets its lease lapse
 * for another instance (or itself after a restart) to try again. The event bus only wakes it.
 * Attempts are bounded per endpoint, so a slow or dead endpoint holds only its own slots.
 */
export class EventWebhookWorker {
  private stopped = true
  private running = 0
  private readonly busy = new Map<number, number>()
  private readonly inFlight = new Map<number, { abort: AbortController; done: Promise<void> }>()
  private filling: Promise<void> | null = null
  private again = false
  private timer: NodeJS.Timeout | null = null
  private poller: NodeJS.Timeout | null = null
  private hints: AsyncIterableIterator<MessageEvent>[] = []

  constructor(
    private readonly repository: EventWebhookRepository,
    private readonly sender: EventWebhookSender,
    private readonly events: EventBus,
    private readonly options: EventWebhookWorkerOptions,
    /** Told when another instance changed the endpoints. */
    private readonly onEndpointsChanged: () => void = () => {},
  ) {}

  private get leaseMs() {
    return this.options.timeoutMs * 2 + 1_000
  }

  start(): void {
    this.stopped = false
    this.listen('webhookDeliveriesDue', () => this.kick())
    this.listen('webhookEndpointsChanged', () => {
      this.onEndpointsChanged()
      this.kick()
    })
    this.poller = setInterval(() => this.kick(), this.options.pollMs).unref()
    this.kick()
  }

  private listen(type: MessageEvent['type'], then: () => void): void {
    const iterator = this.events.subscribe(type, null)
    this.hints.push(iterator)
    void (async () => {
      for await (const _ of iterator) then()
    })().catch((err) => this.options.onError?.(err))
  }

  /**
   * Stops claiming; waits a little for attempts in flight, then abandons the rest (aborted, their
   * lease given back so another instance takes them at once).
   */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.poller) clearInterval(this.poller)
    if (this.timer) clearTimeout(this.timer)
    await Promise.all(this.hints.map((h) => h.return?.()))
    await this.filling
    const inFlight = () => [...this.inFlight.values()].map((a) => a.done)
    const grace = this.options.stopGraceMs ?? Math.min(2_000, this.options.timeoutMs)
    await Promise.race([Promise.allSettled(inFlight()), new Promise((r) => setTimeout(r, grace).unref())])
    for (const attempt of this.inFlight.values()) attempt.abort.abort()
    await Promise.allSettled(inFlight())
    this.sender.close()
  }

  /**
   * Looks for due deliveries shortly: kicks within a few milliseconds (attempts ending, events
   * recorded) share one claim, which keeps the worker's statements few under load.
   */
  kick(): void {
    if (this.stopped) return
    if (this.filling) {
      this.again = true
      return
    }
    this.filling = (async () => {
      await new Promise((resolve) => setTimeout(resolve, CLAIM_GATHER_MS))
      do {
        this.again = false
        await this.fill()
      } while (this.again && !this.stopped)
    })()
      .catch((err) => this.options.onError?.(err))
      .finally(() => {
        this.filling = null
      })
  }

  /**
   * Deliveries were recorded here for these endpoints (null: any). Looks for them only when one of
   * the endpoints has a free slot: under load every applied message records an event, and an
   * endpoint whose slots are all taken (a dead one, or one behind) would otherwise cost a claim
   * that finds nothing, and a look for the next retry, per event. Its slot freeing looks again.
   */
  deliveriesRecorded(endpointIds: number[] | null): void {
    const { concurrency, endpointConcurrency } = this.options
    if (this.running >= concurrency) return
    if (endpointIds && endpointIds.every((id) => (this.busy.get(id) ?? 0) >= endpointConcurrency)) return
    this.kick()
  }

  /** Resolves when nothing is in flight or being claimed here (tests). */
  async idle(): Promise<void> {
    while (this.filling || this.inFlight.size) {
      await this.filling
      await Promise.allSettled([...this.inFlight.values()].map((a) => a.done))
    }
  }

  private async fill(): Promise<void> {
    for (;;) {
      const free = this.options.concurrency - this.running
      if (free <= 0 || this.stopped) return
      const claimed = await this.repository.claim(free, this.options.endpointConcurrency, this.busy, this.leaseMs)
      for (const delivery of claimed) this.begin(delivery)
      // Nothing due here now: sleep until the next retry. Otherwise the attempts' ends look again.
      if (claimed.length === 0) return this.wakeForNext()
      if (claimed.length < free) return
    }
  }

  /** Sleeps until the next retry (or lapsed lease) is due; what is due but waiting its turn is woken by attempts ending. */
  private async wakeForNext(): Promise<void> {
    const next = await this.repository.nextDueAt()
    if (!next || this.stopped) return
    const wait = next.getTime() - Date.now()
    if (wait <= 0) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.kick(), Math.min(wait + 5, 2 ** 31 - 1)).unref()
  }

  private begin(delivery: ClaimedDelivery): void {
    this.running++
    this.busy.set(delivery.endpointId, (this.busy.get(delivery.endpointId) ?? 0) + 1)
    const abort = new AbortController()
    let freed = false
    // The slot is free once the endpoint answered: recording the outcome needs no slot (the lease
    // still holds the delivery, and its conversation's next event waits until it is recorded).
    const free = () => {
      if (freed) return
      freed = true
      this.running--
      const left = (this.busy.get(delivery.endpointId) ?? 1) - 1
      if (left) this.busy.set(delivery.endpointId, left)
      else this.busy.delete(delivery.endpointId)
      this.kick()
    }
    const done = this.attempt(delivery, abort.signal, free)
      .catch((err) => this.options.onError?.(err))
      .finally(() => {
        this.inFlight.delete(delivery.id)
        free()
        // Its conversation's next event may go now.
        this.kick()
      })
    this.inFlight.set(delivery.id, { abort, done })
  }

  private async attempt(delivery: ClaimedDelivery, signal: AbortSignal, answered: () => void): Promise<void> {
    const outcome = await this.sender.send(delivery, signal)
    answered()
    if (signal.aborted) {
      // Abandoned while stopping: due again at once, for whoever takes it (the endpoint may have it: at least once).
      return this.repository.release(delivery.id, delivery.attempts)
    }
    this.options.onAttempt?.(delivery, outcome)
    if (outcome.ok) {
      return this.repository.markDelivered(delivery.id, outcome.statusCode)
    }
    const now = Date.now()
    const giveUpAt = delivery.giveUpAt.getTime()
    const retryAt =
      now >= giveUpAt
        ? null
        : new Date(
            Math.min(
              now + retryDelay(delivery.attempts, this.options.retryBaseMs, this.options.retryMaxDelayMs),
              giveUpAt,
            ),
          )
    await this.repository.markAttemptFailed(delivery.id, delivery.attempts, outcome, retryAt)
  }
}
