import type { NumberScope } from '../auth/principal.js'
import { randomUUID } from 'node:crypto'
import type { DeliveryRepository } from '../messages/delivery.repository.js'
import DataLoader from 'dataloader'
import { z } from 'zod'
import { cursorSchema, firstSchema, type Page, toPage } from '../shared/pagination.js'
import { BatchInterruptedError, InternalError, NotFoundError, ServiceStoppingError } from '../errors/errors.js'
import { parseInput } from '../validation.js'
import type { EventBus } from '../events/event-bus.js'
import type { OutgoingTemplate } from '../meta/meta.api.js'
import type { NumberChannels } from '../business-numbers/number-channels.js'
import { type MessageSender, type SendOutcome, storedFailure } from '../messages/message-sender.js'
import {
  type BatchMessage,
  type BatchProgress,
  type BatchRecord,
  type BatchRepository,
  type NewBatchRecipient,
  NO_PROGRESS,
} from './batch.repository.js'

/** One recipient of a fan-out: as the request named them, and how their send ended. */
export interface BatchRecipientOutcome extends SendOutcome {
  phoneNumber: string
}

export interface BatchServiceOptions {
  /** Sends of one batch in flight at once. */
  concurrency: number
  /**
   * Recipients stored with the batch before the first send; the rest are stored while those are
   * sent (a large batch stored whole first would hold its first send back by tens of milliseconds).
   */
  storeFirst?: number
  /** True when no other instance can open the database (embedded): every running batch not ours is orphaned. */
  exclusive: boolean
  /** A `pending` message whose call to Meta started longer ago than this was left by a dead sender. */
  staleAttemptMs: number
  heartbeatMs?: number
  /** A batch whose owner has not heartbeaten for this long is taken over. */
  staleBatchMs?: number
  /** How often orphaned batches and stale sends are looked for. */
  sweepMs?: number
  onError?: (err: unknown, context: string) => void
  /** Told when a batch completed (the business's event webhooks); awaited, a failure only logged. */
  onCompleted?: (batch: BatchRecord) => Promise<void>
}

/**
 * Template fan-outs. Each is stored whole before anyone is contacted: a batch holding every
 * recipient, with a `pending` message for each of the first ones (the others get theirs while the
 * first are sent; no one is sent to without one). Then it is sent at the configured rate with
 * bounded concurrency; one recipient's failure never holds up the others. The instance running a batch heartbeats it; a batch whose
 * instance stopped or died is resumed — by another instance, or after a restart — sending only to
 * recipients Meta was never called for (those caught mid-call become `unknown`, never re-sent).
 */
export class BatchService {
  readonly instanceId = randomUUID()
  private readonly running = new Map<number, Promise<unknown>>()
  private stopping = false
  private readonly timers: NodeJS.Timeout[] = []
  private sweeping: Promise<void> | null = null
  private beating: Promise<void> | null = null

  constructor(
    private readonly batches: BatchRepository,
    private readonly deliveries: DeliveryRepository,
    private readonly sender: MessageSender,
    private readonly channels: NumberChannels,
    private readonly events: EventBus,
    private readonly options: BatchServiceOptions,
  ) {}

  /** Starts heartbeating and sweeping; resolves after the first sweep (resumes what a previous run left). */
  async start(): Promise<void> {
    const heartbeatMs = this.options.heartbeatMs ?? 2_000
    this.timers.push(
      setInterval(() => {
        this.beating ??= this.batches
          .heartbeat([...this.running.keys()], this.instanceId)
          .then(() => undefined)
          .catch((err) => this.options.onError?.(err, 'batch heartbeat'))
          .finally(() => {
            this.beating = null
          })
      }, heartbeatMs).unref(),
      setInterval(() => void this.sweep(), this.options.sweepMs ?? 5_000).unref(),
    )
    await this.sweep()
  }

  /** Stops taking recipients, lets sends in flight finish, and releases unfinished batches for a later resume. */
  async stop(): Promise<void> {
    this.stopping = true
    for (const timer of this.timers) clearInterval(timer)
    await Promise.all([this.sweeping, this.beating])
    await Promise.allSettled(this.running.values())
  }

  /**
   * Stores the fan-out and sends it; resolves when every recipient has an outcome, in request order.
   * @throws ServiceStoppingError when the service began shutting down first (the batch resumes after);
   *   BatchInterruptedError when the batch's last recipients could not be stored (they are sent later)
   */
  async run(
    /** The business number it sends from. */
    from: string,
    template: OutgoingTemplate,
    content: string,
    recipients: NewBatchRecipient[],
    /** Told the batch's id once it is stored, before anyone is contacted. */
    onStored: (batchId: number) => Promise<void> = async () => {},
    /** The name of the key that asked for it (each message records it). */
    sentBy: string | null = null,
  ): Promise<{ batch: BatchRecord; outcomes: BatchRecipientOutcome[] }> {
    if (this.stopping) {
      throw new ServiceStoppingError('The service is shutting down: send the template again shortly', undefined, {
        nothingDone: true,
      })
    }
    const { batch, messages: first } = await this.batches.create(
      {
        from,
        templateName: template.name,
        language: template.language,
        template,
        content,
        owner: this.instanceId,
        sentBy,
      },
      recipients,
      this.options.storeFirst,
    )
    await onStored(batch.id)
    const rest = first.length < recipients.length ? this.batches.storeRest(batch) : null
    this.publishAdded(first)
    const work = this.process(batch, first, rest && { stored: rest, expected: recipients.length - first.length })
    this.running.set(batch.id, work)
    // Its heartbeat was taken when the statement began: say again, now that it is visible, that
    // it is ours (a slow store must not look like a stale batch to other instances). Beside the
    // first sends, not before them; a failure is retried by the periodic heartbeat.
    this.batches
      .heartbeat([batch.id], this.instanceId)
      .catch((err) => this.options.onError?.(err, `batch ${batch.id}: heartbeat`))
    try {
      const { messages, outcomes, finished, stopped, interrupted } = await work
      if (interrupted) throw new BatchInterruptedError(batch.id, interrupted.cause)
      if (stopped) {
        throw new ServiceStoppingError(
          `The service is shutting down: batch ${batch.id} stopped after ${outcomes.size} of ${recipients.length} ` +
            'recipients and resumes when it is back (query templateBatch to follow it)',
          { batchId: batch.id },
        )
      }
      return {
        batch: finished ?? batch,
        outcomes: messages.map((m) => ({ phoneNumber: m.recipient ?? m.to, ...outcomes.get(m.id)! })),
      }
    } finally {
      if (this.running.get(batch.id) === work) this.running.delete(batch.id)
    }
  }

  /**
   * Sends to each message's recipient, then to those of `rest` (messages still being stored, and
   * how many); completes the batch, or releases it when stopping or when the rest was not stored.
   */
  private async process(
    batch: BatchRecord,
    first: BatchMessage[],
    rest: { stored: Promise<BatchMessage[]>; expected: number } | null = null,
  ): Promise<{
    messages: BatchMessage[]
    outcomes: Map<number, SendOutcome>
    finished: BatchRecord | null
    stopped: boolean
    /** Why the rest was not stored by us (it stays on the batch row for a resume, or another instance took it). */
    interrupted: { cause: unknown } | null
  }> {
    const template = batch.template as OutgoingTemplate
    // A batch goes out from its own number, also when another instance resumes it.
    const channel = await this.channels.channel(batch.businessPhoneNumberId ?? this.channels.defaultNumber)
    if (!channel) throw new Error(`batch ${batch.id}: business number ${batch.businessPhoneNumberId} is not added`)
    const outcomes = new Map<number, SendOutcome>()
    let oursFailed = false
    let interrupted: { cause: unknown } | null = null
    const more = rest?.stored.then(
      (stored) => {
        this.publishAdded(stored)
        // None: an instance that took the batch over (our store was too slow to look alive)
        // stored them first. It sends them; completing the batch here would cut them off.
        if (stored.length !== rest.expected) {
          interrupted = { cause: new Error(`batch ${batch.id}: its last recipients were stored by another instance`) }
        }
        return stored
      },
      (err) => {
        this.options.onError?.(err, `batch ${batch.id}: storing its recipients`)
        interrupted = { cause: err }
        return []
      },
    )
    await forEachConcurrently(
      first,
      this.options.concurrency,
      async (m) => {
        if (this.stopping) return false
        try {
          outcomes.set(
            m.id,
            await this.sender.send(m, (o) => channel.meta.sendTemplate(m.to, template, o), channel.rate),
          )
        } catch (err) {
          // A failure of ours (database) for one recipient must not stop the others.
          this.options.onError?.(err, `batch ${batch.id}: message ${m.id}`)
          outcomes.set(m.id, { message: m, error: new InternalError(err) })
          oursFailed = true
        }
        return true
      },
      more,
    )
    // When stopping, the workers may have quit before the rest was stored: it still counts.
    const messages = more ? [...first, ...(await more)] : first
    const stopped = outcomes.size < messages.length
    if (stopped || oursFailed || interrupted) {
      // Left running and released: the sweep resumes it for whoever Meta was never called for.
      await this.batches.release(batch.id, this.instanceId)
      return { messages, outcomes, finished: null, stopped, interrupted }
    }
    const finished = await this.batches.complete(batch.id)
    await this.options
      .onCompleted?.(finished)
      .catch((err) => this.options.onError?.(err, `batch ${batch.id}: its event`))
    return { messages, outcomes, finished, stopped, interrupted }
  }

  /** Marks abandoned sends `unknown` and resumes orphaned batches. */
  private sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        if (this.stopping) return
        const stale = await this.deliveries.markStaleAttemptsUnknown(new Date(Date.now() - this.options.staleAttemptMs))
        this.publishChanged(stale)
        const orphans = await this.batches.claimOrphans(
          this.instanceId,
          this.options.exclusive ? null : (this.options.staleBatchMs ?? 6_000),
        )
        for (const batch of orphans) this.resume(batch)
      } catch (err) {
        this.options.onError?.(err, 'batch sweep')
      } finally {
        this.sweeping = null
      }
    })()
    return this.sweeping
  }

  private resume(batch: BatchRecord): void {
    const work = (async () => {
      // Its previous owner is gone: a call it had started may have reached Meta.
      this.publishChanged(await this.deliveries.markStaleAttemptsUnknown(new Date(), batch.id))
      // Its owner may have stopped before the batch's last recipients had their messages.
      this.publishAdded(await this.batches.storeRest(batch))
      await this.process(batch, await this.batches.messages(batch.id, 'unattempted'))
    })()
      .catch(async (err) => {
        this.options.onError?.(err, `resuming batch ${batch.id}`)
        // Given back at once, not left to go stale: the next sweep tries again.
        await this.batches.release(batch.id, this.instanceId).catch(() => {})
      })
      .finally(() => {
        if (this.running.get(batch.id) === work) this.running.delete(batch.id)
      })
    this.running.set(batch.id, work)
  }

  private publishAdded(messages: { id: number; conversationId: number }[]): void {
    for (const m of messages)
      this.events.publish({ type: 'messageAdded', messageId: m.id, conversationId: m.conversationId })
  }

  private publishChanged(messages: { id: number; conversationId: number }[]): void {
    for (const m of messages) {
      this.events.publish({ type: 'messageStatusChanged', messageId: m.id, conversationId: m.conversationId })
    }
  }

  /** Each recipient's outcome as stored, in request order, once the batch completed; null before. */
  async outcomesIfCompleted(batchId: number): Promise<BatchRecipientOutcome[] | null> {
    const batch = await this.batches.findById(batchId)
    if (batch?.status !== 'completed') return null
    return (await this.batches.messages(batchId)).map((message) => ({
      phoneNumber: message.recipient ?? message.to,
      message,
      error: storedFailure(message),
    }))
  }

  /** @throws ValidationError, NotFoundError */
  async get(id: unknown, scope: NumberScope = null): Promise<BatchRecord> {
    const batchId = parseInput(idSchema, id, 'id')
    // Another number's batch answers exactly as a missing one.
    const batch = await this.batches.findById(batchId, scope)
    if (!batch) throw new NotFoundError(`Template batch ${batchId} does not exist`)
    return batch
  }

  /** Batches, newest first, a page at a time. @throws ValidationError */
  async page(args: { first?: unknown; after?: unknown }, scope: NumberScope = null): Promise<Page<BatchRecord>> {
    const { first, after } = parseInput(pageSchema, args)
    const rows = await this.batches.page(first, after?.[0] ?? null, scope)
    return toPage(
      rows,
      first,
      () => this.batches.count(scope),
      (b) => [b.id],
    )
  }

  /** A batch's recipients in request order, a page at a time. @throws ValidationError */
  async recipients(batch: BatchRecord, args: { first?: unknown; after?: unknown }) {
    const { first, after } = parseInput(pageSchema, args)
    const rows = await this.batches.messagePage(batch.id, first, after?.[0] ?? null)
    const page = toPage(
      rows,
      first,
      async () => batch.total,
      (m) => [m.id],
    )
    return {
      ...page,
      nodes: page.nodes.map((message) => ({ phoneNumber: message.recipient ?? '', status: message.status, message })),
    }
  }

  /** Per-request batching of progress counts (one query for a page of batches). */
  progressLoader() {
    return new DataLoader<number, BatchProgress>(async (ids) => {
      const progress = await this.batches.progress(ids)
      return ids.map((id) => progress.get(id) ?? { ...NO_PROGRESS })
    })
  }
}

const idSchema = z.number({ error: 'must be an integer' }).int().min(1).max(2_147_483_647)
const pageSchema = z.object({ first: firstSchema, after: cursorSchema(z.tuple([idSchema])) })

/**
 * Runs `fn` over `items`, at most `limit` at a time, in order; stops taking items once `fn`
 * returns false. The items `more` resolves to run after them.
 */
export async function forEachConcurrently<T>(
  given: readonly T[],
  limit: number,
  fn: (item: T) => Promise<boolean>,
  more?: Promise<T[]>,
): Promise<void> {
  const items = [...given] // ours to append to
  let next = 0
  let stop = false
  let pending = more
  const worker = async () => {
    while (!stop) {
      if (next < items.length) {
        if (!(await fn(items[next++]))) stop = true
        continue
      }
      const waitingFor = pending
      if (!waitingFor) return
      const extra = await waitingFor
      // Every idle worker waits for the same promise: the first to wake appends its items.
      if (pending === waitingFor) {
        pending = undefined
        items.push(...extra)
      }
    }
  }
  // With more to come, every worker starts: the items already there may be fewer than `limit`.
  await Promise.all(Array.from({ length: more ? limit : Math.min(limit, items.length) }, worker))
}
