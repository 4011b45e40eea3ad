import { type PrismaClient, statementRefused } from '../db/database.js'
import { Coalescer } from '../shared/coalescer.js'

export interface WebhookEndpointRecord {
  id: number
  url: string
  events: string[]
  enabled: boolean
  createdAt: Date
  updatedAt: Date
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface WebhookDeliveryRecord {
  id: number
  endpointId: number
  eventId: string
  eventType: string
  conversationId: number | null
  status: WebhookDeliveryStatus
  attempts: number
  nextAttemptAt: Date
  giveUpAt: Date
  lastAttemptAt: Date | null
  lastStatusCode: number | null
  lastError: string | null
  deliveredAt: Date | null
  createdAt: Date
  /** The body as signed and sent. */
  body: string
}

/** An event to record: its body is built by the caller, `key` says what it is about (recorded once). */
export interface NewOutboundEvent {
  id: string
  type: string
  key: string
  conversationId: number | null
  body: string
}

/** A delivery taken for an attempt, with what the attempt needs. The secret never leaves the worker. */
export interface ClaimedDelivery {
  id: number
  endpointId: number
  attempts: number
  giveUpAt: Date
  eventId: string
  eventType: string
  body: string
  url: string
  secret: string
}

const ENDPOINT_COLUMNS = { id: true, url: true, events: true, enabled: true, createdAt: true, updatedAt: true } as const

const DELIVERY_COLUMNS = `d.id, d.endpoint_id AS "endpointId", e.id AS "eventId", e.type AS "eventType",
  d.conversation_id AS "conversationId", d.status::text AS status, d.attempts, d.next_attempt_at AS "nextAttemptAt",
  d.give_up_at AS "giveUpAt", d.last_attempt_at AS "lastAttemptAt", d.last_status_code AS "lastStatusCode",
  d.last_error AS "lastError", d.delivered_at AS "deliveredAt", d.created_at AS "createdAt", e.body`

/** Event-webhook endpoints, the events recorded for them and their deliveries. */
export class EventWebhookRepository {
  constructor(private readonly prisma: PrismaClient) {}

  // --- endpoints ---------------------------------------------------------------------------

  async createEndpoint(data: { url: string; events: string[]; secret: string }): Promise<WebhookEndpointRecord> {
    return this.prisma.webhookEndpoint.create({ data, select: ENDPOINT_COLUMNS })
  }

  endpoints(): Promise<WebhookEndpointRecord[]> {
    return this.prisma.webhookEndpoint.findMany({ orderBy: { id: 'asc' }, select: ENDPOINT_COLUMNS })
  }

  endpoint(id: number): Promise<WebhookEndpointRecord | null> {
    return this.prisma.webhookEndpoint.findUnique({ where: { id }, select: ENDPOINT_COLUMNS })
  }

  /** Null when there is no such endpoint. */
  async updateEndpoint(
    id: number,
    data: { url?: string; events?: string[]; enabled?: boolean },
  ): Promise<WebhookEndpointRecord | null> {
    const { count } = await this.prisma.webhookEndpoint.updateMany({ where: { id }, data })
    return count ? this.endpoint(id) : null
  }

  /** Deletes the endpoint and its deliveries. False when there was none. */
  async deleteEndpoint(id: number): Promise<boolean> {
    const { count } = await this.prisma.webhookEndpoint.deleteMany({ where: { id } })
    return count === 1
  }

  /** The event types some enabled endpoint wants. */
  async wantedTypes(): Promise<Set<string>> {
    const rows = await this.prisma.webhookEndpoint.findMany({ where: { enabled: true }, select: { events: true } })
    return new Set(rows.flatMap((r) => r.events))
  }

  // --- events ------------------------------------------------------------------------------

  /**
   * Records events and a pending delivery for each enabled endpoint that wants its type, in one
   * statement (concurrent calls share one). An event no endpoint wants is not stored; one whose
   * `key` was recorded before is not stored again. Resolves to the endpoints given a delivery.
   */
  record(event: NewOutboundEvent, retryForMs: number): Promise<number[]> {
    return this.recorded.run({ event, retryForMs })
  }

  // One statement at a time: event sequence numbers follow the order events were recorded in.
  private readonly recorded = new Coalescer(
    async (inputs: { event: NewOutboundEvent; retryForMs: number }[]) => {
      const col = <T>(pick: (e: NewOutboundEvent) => T) => inputs.map((i) => pick(i.event))
      const rows = await this.prisma.$queryRaw<{ ord: number; endpoints: number[] }[]>`
        WITH v AS (
          SELECT v.*, nextval(pg_get_serial_sequence('outbound_events', 'seq'))::int AS seq
          FROM (
            SELECT * FROM unnest(${inputs.map((_, i) => i)}::int[], ${col((e) => e.id)}::text[],
                                 ${col((e) => e.type)}::text[], ${col((e) => e.key)}::text[],
                                 ${col((e) => e.conversationId)}::int[], ${col((e) => e.body)}::text[],
                                 ${inputs.map((i) => i.retryForMs)}::float8[])
              AS v(ord, id, type, key, conversation_id, body, retry_for_ms)
            WHERE EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.enabled AND v.type = ANY(w.events))
            ORDER BY ord
          ) v
        ), e AS (
          INSERT INTO outbound_events (seq, id, type, key, conversation_id, body)
          SELECT seq, id, type, key, conversation_id, body FROM v ORDER BY seq
          ON CONFLICT (key) DO NOTHING
          RETURNING seq
        ), d AS (
          INSERT INTO webhook_deliveries (event_seq, endpoint_id, conversation_id, give_up_at)
          SELECT v.seq, w.id, v.conversation_id, now() + v.retry_for_ms * interval '1 millisecond'
          FROM e JOIN v ON v.seq = e.seq JOIN webhook_endpoints w ON w.enabled AND v.type = ANY(w.events)
          ORDER BY v.seq, w.id
          RETURNING event_seq, endpoint_id
        )
        SELECT v.ord, array_agg(d.endpoint_id) AS endpoints FROM v JOIN d ON d.event_seq = v.seq GROUP BY v.ord`
      const byOrd = new Map(rows.map((r) => [r.ord, r.endpoints]))
      return inputs.map((_, i) => byOrd.get(i) ?? [])
    },
    { key: (input) => input.event.key, retryAlone: statementRefused },
  )

  // --- deliveries --------------------------------------------------------------------------

  /**
   * Takes due deliveries for an attempt: at most `limit`, and per endpoint at most `perEndpoint`
   * minus what this instance already has in flight for it (`busy`). A delivery is due when its
   * time came and no earlier event of the same conversation is still pending for its endpoint
   * (events of one conversation go out in order). Taking it pushes `next_attempt_at` out by
   * `leaseMs`: the lease. If this instance dies, the lease lapses and another one takes it.
   * SKIP LOCKED: instances claiming at once take different deliveries.
   */
  async claim(limit: number, perEndpoint: number, busy: Map<number, number>, leaseMs: number) {
    const ids = [...busy.keys()]
    return this.prisma.$queryRaw<ClaimedDelivery[]>`
      UPDATE webhook_deliveries d
      SET attempts = d.attempts + 1, last_attempt_at = now(),
          next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
      FROM (
        SELECT c.id FROM webhook_endpoints w
        CROSS JOIN LATERAL (
          SELECT d2.id FROM webhook_deliveries d2
          WHERE d2.endpoint_id = w.id AND d2.status = 'pending' AND d2.next_attempt_at <= now()
            -- Under OR, a per-row probe of the order index, never an anti-join: before the table's
            -- first ANALYZE (a busy new table) the planner chose a nested-loop anti-join over every
            -- pending row (seconds per claim at 10,000 pending; this form takes 0.2 ms either way).
            AND (d2.conversation_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM webhook_deliveries p
              WHERE p.endpoint_id = d2.endpoint_id AND p.conversation_id = d2.conversation_id
                AND p.status = 'pending' AND p.event_seq < d2.event_seq))
          -- The index's own order, so the scan stops at the limit instead of sorting every due row.
          ORDER BY d2.next_attempt_at
          LIMIT GREATEST(0, ${perEndpoint}::int - COALESCE(
            (SELECT b.n FROM unnest(${ids}::int[], ${ids.map((id) => busy.get(id)!)}::int[]) AS b(id, n)
             WHERE b.id = w.id), 0))
          FOR UPDATE SKIP LOCKED
        ) c
        WHERE w.enabled
        LIMIT ${limit}
      ) picked, outbound_events e, webhook_endpoints w
      WHERE d.id = picked.id AND e.seq = d.event_seq AND w.id = d.endpoint_id
      RETURNING d.id, d.endpoint_id AS "endpointId", d.attempts, d.give_up_at AS "giveUpAt", e.id AS "eventId",
                e.type AS "eventType", e.body, w.url, w.secret`
  }

  /** When the next pending delivery of an enabled endpoint is due (a retry, a lease running out), if any is later than now. */
  async nextDueAt(): Promise<Date | null> {
    const rows = await this.prisma.$queryRaw<{ at: Date | null }[]>`
      SELECT min(n.at) AS at FROM webhook_endpoints w
      CROSS JOIN LATERAL (
        SELECT d.next_attempt_at AS at FROM webhook_deliveries d
        WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at > now()
        ORDER BY d.next_attempt_at LIMIT 1) n
      WHERE w.enabled`
    return rows[0]?.at ?? null
  }

  /** The endpoint answered 2xx. Concurrent calls share one statement. */
  markDelivered(id: number, statusCode: number): Promise<void> {
    return this.delivered.run({ id, statusCode })
  }

  private readonly delivered = new Coalescer(
    async (rows: { id: number; statusCode: number }[]) => {
      const sorted = [...rows].sort((a, b) => a.id - b.id)
      await this.prisma.$executeRaw`
        UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = now(), last_status_code = v.code,
               last_error = NULL, next_attempt_at = now()
        FROM unnest(${sorted.map((r) => r.id)}::int[], ${sorted.map((r) => r.statusCode)}::int[]) AS v(id, code)
        WHERE d.id = v.id AND d.status = 'pending'`
      return rows.map(() => undefined)
    },
    { key: (row) => row.id, retryAlone: statementRefused },
  )

  /**
   * The attempt failed: tried again at `retryAt`, or failed for good (null). Only while the
   * attempt is still the latest (`attempts`): a lease that lapsed belongs to another instance now.
   */
  async markAttemptFailed(
    id: number,
    attempts: number,
    outcome: { statusCode: number | null; error: string },
    retryAt: Date | null,
  ): Promise<void> {
    await this.prisma.webhookDelivery.updateMany({
      where: { id, attempts, status: 'pending' },
      data: {
        lastStatusCode: outcome.statusCode,
        lastError: outcome.error,
        ...(retryAt ? { nextAttemptAt: retryAt } : { status: 'failed', nextAttemptAt: new Date() }),
      },
    })
  }

  /** Gives an attempt in flight back (shutdown): due again at once, for whoever takes it. */
  async release(id: number, attempts: number): Promise<void> {
    await this.prisma.webhookDelivery.updateMany({
      where: { id, attempts, status: 'pending' },
      data: { nextAttemptAt: new Date(), attempts: { decrement: 1 } },
    })
  }

  /**
   * Sends deliveries again (by hand): pending, due now, retried for another `retryForMs`. Those
   * of event `eventId` (optionally to one endpoint), or delivery `deliveryId`. Returns their ids.
   */
  async resend(target: { deliveryId: number } | { eventId: string; endpointId?: number | null }, retryForMs: number) {
    const where =
      'deliveryId' in target
        ? { id: target.deliveryId }
        : { event: { id: target.eventId }, ...(target.endpointId ? { endpointId: target.endpointId } : {}) }
    const found = await this.prisma.webhookDelivery.findMany({ where, select: { id: true } })
    const ids = found.map((d) => d.id)
    if (ids.length)
      await this.prisma.webhookDelivery.updateMany({
        where: { id: { in: ids } },
        data: {
          status: 'pending',
          nextAttemptAt: new Date(),
          giveUpAt: new Date(Date.now() + retryForMs),
          deliveredAt: null,
        },
      })
    return ids
  }

  async delivery(id: number): Promise<WebhookDeliveryRecord | null> {
    const rows = await this.prisma.$queryRawUnsafe<WebhookDeliveryRecord[]>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbound_events e ON e.seq = d.event_seq WHERE d.id = $1`,
      id,
    )
    return rows[0] ?? null
  }

  /** Deliveries newest first, after the delivery `after` (a cursor), `limit` of them. */
  deliveries(
    filter: { endpointId?: number | null; status?: WebhookDeliveryStatus | null },
    limit: number,
    after: number | null,
  ): Promise<WebhookDeliveryRecord[]> {
    return this.prisma.$queryRawUnsafe<WebhookDeliveryRecord[]>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbound_events e ON e.seq = d.event_seq
       WHERE ($1::int IS NULL OR d.endpoint_id = $1) AND ($2::text IS NULL OR d.status::text = $2)
         AND ($3::int IS NULL OR d.id < $3)
       ORDER BY d.id DESC LIMIT $4`,
      filter.endpointId ?? null,
      filter.status ?? null,
      after,
      limit,
    )
  }

  countDeliveries(filter: { endpointId?: number | null; status?: WebhookDeliveryStatus | null }): Promise<number> {
    return this.prisma.webhookDelivery.count({
      where: {
        ...(filter.endpointId ? { endpointId: filter.endpointId } : {}),
        ...(filter.status ? { status: filter.status } : {}),
      },
    })
  }
}
