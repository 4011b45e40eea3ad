import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { NotFoundError } from '../errors/errors.js'
import type { EventBus } from '../events/event-bus.js'
import { cursorSchema, firstSchema, type Page, toPage } from '../shared/pagination.js'
import { parseInput } from '../validation.js'
import { type AddressPolicy, checkEndpointUrl } from './endpoint-address.js'
import type {
  EventWebhookRepository,
  WebhookDeliveryRecord,
  WebhookDeliveryStatus,
  WebhookEndpointRecord,
} from './event-webhook.repository.js'

/** The events an endpoint can subscribe to (docs/webhooks-out.md). */
export const EVENT_TYPES = ['message.received', 'message.status', 'batch.completed', 'template.status'] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** An event as its producer describes it; `data` is built only when some endpoint wants the type. */
export interface OutboundEventInput {
  type: EventType
  /** What it is about, once: the same key recorded again (a webhook applied twice) is one event. */
  key: string
  /** Events of one conversation reach each endpoint in the order they were recorded. */
  conversationId: number | null
  data: () => object | Promise<object>
}

export interface EventWebhookOptions extends AddressPolicy {
  /** How long a delivery is retried before it is marked failed. */
  retryForMs: number
  /** How long the set of wanted event types is trusted before it is read again. */
  wantedTtlMs?: number
}

const idSchema = z.number({ error: 'must be an integer' }).int().min(1).max(2_147_483_647)
const eventsSchema = z
  .array(z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` }), {
    error: 'must be a list of event types',
  })
  .min(1, 'must name at least one event type')
  .max(EVENT_TYPES.length * 2)
  .transform((events) => [...new Set(events)])
const urlSchema = z.string({ error: 'must be a string' }).trim().min(1, 'is required').max(2048, 'is too long')
const createSchema = z.object({ url: urlSchema, events: eventsSchema })
const updateSchema = z.object({
  url: urlSchema.nullish(),
  events: eventsSchema.nullish(),
  enabled: z.boolean({ error: 'must be true or false' }).nullish(),
})
const deliveryPageSchema = z.object({
  endpointId: idSchema.nullish(),
  status: z.enum(['pending', 'delivered', 'failed']).nullish(),
  first: firstSchema,
  after: cursorSchema(z.tuple([idSchema])),
})

/** A new endpoint's signing secret: `whsec_` and 32 random bytes, base64url. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`
const newEventId = () => `evt_${randomBytes(16).toString('base64url')}`

/**
 * Event webhooks to the business's own endpoints: the endpoints, and the recording of events for
 * them. Recording is the only part on the paths that produce events (webhook applying, sends): one
 * shared statement, and none at all while no enabled endpoint wants the type. Delivering is the
 * worker's (event-webhook.worker.ts), in the background.
 *
 * Managing endpoints is ADMIN-only (src/auth/scopes.ts).
 */
export class EventWebhookService {
  private wanted: { types: Promise<Set<string>>; at: number } | null = null
  private lastHint = 0

  constructor(
    private readonly repository: EventWebhookRepository,
    private readonly events: EventBus,
    private readonly options: EventWebhookOptions,
    /** Told when deliveries were recorded, for which endpoints (null: any); the worker's wake-up in this instance. */
    private readonly onRecorded: (endpointIds: number[] | null) => void = () => {},
  ) {}

  /**
   * Durably records an event for the endpoints that want it; resolves once stored (or at once when
   * none does). Never waits for a delivery.
   */
  async record(event: OutboundEventInput): Promise<void> {
    if (!(await this.wants(event.type))) return
    const id = newEventId()
    const body = JSON.stringify({
      id,
      type: event.type,
      created_at: new Date().toISOString(),
      data: await event.data(),
    })
    const endpoints = await this.repository.record(
      { id, type: event.type, key: event.key, conversationId: event.conversationId, body },
      this.options.retryForMs,
    )
    if (endpoints.length > 0) this.deliveriesDue(endpoints)
  }

  /** Wakes this instance's worker and, through the event bus (a hint only), the other instances'. */
  deliveriesDue(endpointIds: number[] | null = null): void {
    this.onRecorded(endpointIds)
    const now = Date.now()
    // At most a few hints a second: a burst of events wakes the others once.
    if (now - this.lastHint < 100) return
    this.lastHint = now
    this.events.publish({ type: 'webhookDeliveriesDue', messageId: 0, conversationId: 0 })
  }

  /** Whether an enabled endpoint wants `type` (cached briefly; endpoint changes clear it on every instance). */
  private async wants(type: string): Promise<boolean> {
    const now = Date.now()
    if (!this.wanted || now - this.wanted.at > (this.options.wantedTtlMs ?? 1_000)) {
      const types = this.repository.wantedTypes()
      const entry = { types, at: now }
      this.wanted = entry
      types.catch(() => {
        if (this.wanted === entry) this.wanted = null
      })
    }
    return (await this.wanted.types).has(type)
  }

  /** Forgets which types are wanted (an endpoint changed here or on another instance). */
  endpointsChanged(): void {
    this.wanted = null
  }

  private changed(): void {
    this.endpointsChanged()
    this.events.publish({ type: 'webhookEndpointsChanged', messageId: 0, conversationId: 0 })
  }

  // --- endpoints ---------------------------------------------------------------------------

  /**
   * Registers an endpoint; the secret is returned here and never again.
   * @throws ValidationError, WebhookUrlRefusedError
   */
  async create(input: unknown): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    const { url, events } = parseInput(createSchema, input, 'input')
    const checked = await checkEndpointUrl(url, this.options, 'input.url')
    const secret = newSecret()
    const endpoint = await this.repository.createEndpoint({ url: checked, events, secret })
    this.changed()
    return { endpoint, secret }
  }

  list(): Promise<WebhookEndpointRecord[]> {
    return this.repository.endpoints()
  }

  /** @throws ValidationError, NotFoundError */
  async get(id: unknown): Promise<WebhookEndpointRecord> {
    const endpointId = parseInput(idSchema, id, 'id')
    const endpoint = await this.repository.endpoint(endpointId)
    if (!endpoint) throw new NotFoundError(`Webhook endpoint ${endpointId} does not exist`)
    return endpoint
  }

  /**
   * Changes an endpoint's URL (checked again), events, or whether it is enabled. A disabled
   * endpoint gets no new events; its pending deliveries wait until it is enabled again.
   * @throws ValidationError, WebhookUrlRefusedError, NotFoundError
   */
  async update(id: unknown, input: unknown): Promise<WebhookEndpointRecord> {
    const endpointId = parseInput(idSchema, id, 'id')
    const { url, events, enabled } = parseInput(updateSchema, input ?? {}, 'input')
    const data = {
      ...(url ? { url: await checkEndpointUrl(url, this.options, 'input.url') } : {}),
      ...(events ? { events } : {}),
      ...(enabled === undefined || enabled === null ? {} : { enabled }),
    }
    const endpoint = await this.repository.updateEndpoint(endpointId, data)
    if (!endpoint) throw new NotFoundError(`Webhook endpoint ${endpointId} does not exist`)
    this.changed()
    // Enabled again: its waiting deliveries are due.
    if (enabled) this.deliveriesDue()
    return endpoint
  }

  /** Deletes the endpoint and its deliveries. @throws ValidationError, NotFoundError */
  async delete(id: unknown): Promise<boolean> {
    const endpointId = parseInput(idSchema, id, 'id')
    if (!(await this.repository.deleteEndpoint(endpointId)))
      throw new NotFoundError(`Webhook endpoint ${endpointId} does not exist`)
    this.changed()
    return true
  }

  // --- deliveries --------------------------------------------------------------------------

  /** Deliveries newest first, a page at a time. @throws ValidationError */
  async deliveries(args: {
    endpointId?: unknown
    status?: unknown
    first?: unknown
    after?: unknown
  }): Promise<Page<WebhookDeliveryRecord>> {
    const { endpointId, status, first, after } = parseInput(deliveryPageSchema, args)
    const filter = { endpointId, status: status as WebhookDeliveryStatus | null | undefined }
    const rows = await this.repository.deliveries(filter, first + 1, after?.[0] ?? null)
    return toPage(
      rows,
      first,
      () => this.repository.countDeliveries(filter),
      (d) => [d.id],
    )
  }

  /**
   * Sends a delivery again now (failed, or even delivered), retried as a new one would be.
   * @throws ValidationError, NotFoundError
   */
  async retryDelivery(id: unknown): Promise<WebhookDeliveryRecord> {
    const deliveryId = parseInput(idSchema, id, 'id')
    const ids = await this.repository.resend({ deliveryId }, this.options.retryForMs)
    if (!ids.length) throw new NotFoundError(`Webhook delivery ${deliveryId} does not exist`)
    this.deliveriesDue()
    return (await this.repository.delivery(deliveryId))!
  }

  /**
   * Sends an event again to the endpoints it went to (or to one of them), with the same event id.
   * @throws ValidationError, NotFoundError
   */
  async resendEvent(eventId: unknown, endpointId?: unknown): Promise<WebhookDeliveryRecord[]> {
    const event = parseInput(z.string({ error: 'must be a string' }).min(1).max(100), eventId, 'eventId')
    const endpoint = parseInput(idSchema.nullish(), endpointId, 'endpointId')
    const ids = await this.repository.resend({ eventId: event, endpointId: endpoint }, this.options.retryForMs)
    if (!ids.length)
      throw new NotFoundError(`No delivery of event ${event}${endpoint ? ` to endpoint ${endpoint}` : ''}`)
    this.deliveriesDue()
    return (await Promise.all(ids.map((i) => this.repository.delivery(i)))).filter((d) => d !== null)
  }
}
