import { Coalescer } from '../shared/coalescer.js'
import { type PrismaClient, statementRefused } from '../db/database.js'
import type { DirectSql } from '../db/direct-sql.js'

export interface WebhookEventRecord {
  id: number
  body: string
  status: 'received' | 'applied' | 'failed' | 'unknown_number'
  error: string | null
  attempts: number
  receivedAt: Date
  appliedAt: Date | null
  phoneNumberId: string | null
}

/**
 * Webhook deliveries as received, and what became of them. Storing one and marking it applied run
 * for every delivery: by hand (see direct-sql.ts).
 */
export class WebhookRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: DirectSql,
  ) {}

  /** Stores a delivery as received; resolves to its id. Concurrent deliveries share one statement. */
  store(body: string): Promise<number> {
    return this.stored.run(body)
  }

  private readonly stored = new Coalescer(
    async (bodies: string[]) => {
      // Ids drawn in arrival order, so the apply queue's order is the order Meta's calls came in.
      const rows = await this.sql.rows<{ ord: number; id: number }>(
        `WITH v AS (
          SELECT v.ord::int AS ord, v.body, nextval(pg_get_serial_sequence('webhook_events', 'id'))::int AS id
          FROM (SELECT * FROM unnest($1::text[]) WITH ORDINALITY AS v(body, ord) ORDER BY ord) v
        ), i AS (
          INSERT INTO webhook_events (id, body) SELECT id, body FROM v
        )
        SELECT ord, id FROM v`,
        [bodies],
      )
      const ids = new Map(rows.map((r) => [r.ord, r.id]))
      return bodies.map((_, i) => ids.get(i + 1)!)
    },
    // Every delivery is its own row, even the same body twice (Meta retries; applying is idempotent).
    { key: () => Symbol(), retryAlone: statementRefused },
  )

  find(id: number): Promise<WebhookEventRecord | null> {
    return this.prisma.webhookEvent.findUnique({ where: { id } })
  }

  /** Ids of deliveries not applied yet (after a crash or restart), oldest first. */
  async unapplied(limit: number): Promise<number[]> {
    const rows = await this.prisma.webhookEvent.findMany({
      where: { status: 'received' },
      orderBy: { id: 'asc' },
      take: limit,
      select: { id: true },
    })
    return rows.map((r) => r.id)
  }

  /** Concurrent calls share one statement. */
  markApplied(id: number): Promise<void> {
    return this.applied.run(id)
  }

  private readonly applied = new Coalescer(
    async (ids: number[]) => {
      await this.sql.rows(
        `UPDATE webhook_events SET status = 'applied', applied_at = now(), error = NULL, attempts = attempts + 1
         WHERE id = ANY($1::int[])`,
        [[...ids].sort((a, b) => a - b)],
      )
      return ids.map(() => undefined)
    },
    { key: (id) => id, retryAlone: statementRefused },
  )

  /** Leaves the delivery to be applied again (a transient failure), counting the attempt. */
  async markForRetry(id: number, error: string): Promise<number> {
    const { attempts } = await this.prisma.webhookEvent.update({
      where: { id },
      data: { status: 'received', error, attempts: { increment: 1 } },
      select: { attempts: true },
    })
    return attempts
  }

  /** Keeps a delivery for a business number we do not know, until it is added. */
  async markUnknownNumber(id: number, phoneNumberId: string): Promise<void> {
    await this.prisma.webhookEvent.update({ where: { id }, data: { status: 'unknown_number', phoneNumberId } })
  }

  /** Hands the deliveries kept for a number just added back to be applied; their ids, oldest first. */
  async releaseForNumber(phoneNumberId: string): Promise<number[]> {
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      UPDATE webhook_events SET status = 'received' WHERE status = 'unknown_number' AND phone_number_id = ${phoneNumberId}
      RETURNING id`
    return rows.map((r) => r.id).sort((a, b) => a - b)
  }

  async markFailed(id: number, error: string): Promise<void> {
    await this.prisma.webhookEvent.update({
      where: { id },
      data: { status: 'failed', error, attempts: { increment: 1 } },
    })
  }
}
