import type { NumberScope } from '../auth/principal.js'
import type { PrismaClient } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'
import { type MessageRecord, NO_PARTS } from '../messages/message.records.js'
import { MESSAGE_STATUSES, type MessageStatus } from '../messages/message-status.js'
import { NO_PARTS_COLUMNS, storeOutbound } from '../messages/message.sql.js'

export type BatchStatus = 'running' | 'completed'

export interface BatchRecord {
  id: number
  /** The business number it sends from (null: older than several numbers, the default one). */
  businessPhoneNumberId: string | null
  templateName: string
  language: string
  template: unknown
  status: BatchStatus
  total: number
  owner: string | null
  heartbeatAt: Date | null
  createdAt: Date
  completedAt: Date | null
}

export interface NewBatchRecipient {
  /** As the request gave it. */
  phoneNumber: string
  /** Digits only. */
  to: string
  requestId: number | null
}

/** A recipient's message, with the number to send to. */
export type BatchMessage = MessageRecord & { to: string }

/** Messages per status in a batch. */
export type BatchProgress = Record<MessageStatus, number>

export const NO_PROGRESS = Object.fromEntries(MESSAGE_STATUSES.map((status) => [status, 0])) as BatchProgress

/** Only batches from the caller's numbers: a filter in the query. */
const inScope = (scope: NumberScope) => (scope === null ? {} : { businessPhoneNumberId: { in: scope } })

/** Template fan-outs and their recipients' messages. The only code that talks to Prisma about them. */
export class BatchRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Stores a batch, owned by `owner`, and a `pending` message for each of its first `storeFirst`
   * recipients (creating conversations as needed), in one statement. The other recipients are
   * kept on the batch row in the same statement, so nothing of the fan-out can be lost; {@link
   * storeRest} gives them their messages. Returns the batch and the stored messages, in request order.
   */
  async create(
    batch: {
      from: string
      templateName: string
      language: string
      template: object
      content: string
      owner: string
      /** The name of the key that asked for it: each of its messages records it. */
      sentBy?: string | null
    },
    recipients: NewBatchRecipient[],
    storeFirst = recipients.length,
  ): Promise<{ batch: BatchRecord; messages: BatchMessage[] }> {
    const template = JSON.stringify(batch.template)
    storeFirst = Math.max(1, storeFirst) // the statement hands the batch back through its messages
    const rest = recipients.slice(storeFirst)
    const unstored = rest.length ? JSON.stringify({ content: batch.content, recipients: toJsonRows(rest) }) : null
    const rows = await this.prisma.$queryRaw<StoredRow[]>(Prisma.sql`
      WITH recipients AS (
        SELECT r->>0 AS phone, r->>1 AS given, (r->>2)::int AS request_id, pos
        FROM jsonb_array_elements(${JSON.stringify(toJsonRows(recipients.slice(0, storeFirst)))}::jsonb)
               WITH ORDINALITY AS e(r, pos)
      ), b AS (
        INSERT INTO template_batches (business_phone_number_id, template_name, language, template, total, owner,
                                      heartbeat_at, unstored, sent_by)
        VALUES (${batch.from}, ${batch.templateName}, ${batch.language}, ${template}::jsonb, ${recipients.length}, ${batch.owner},
                clock_timestamp(), ${unstored}::jsonb, ${batch.sentBy ?? null})
        RETURNING id, business_phone_number_id, created_at, heartbeat_at, sent_by
      ), ${storeMessages(Prisma.sql`${batch.content}`, Prisma.sql`${template}::jsonb`)}`)
    const first = rows[0]
    const created: BatchRecord = {
      id: first.batchId,
      businessPhoneNumberId: batch.from,
      templateName: batch.templateName,
      language: batch.language,
      template: batch.template,
      status: 'running',
      total: recipients.length,
      owner: batch.owner,
      heartbeatAt: first.batchHeartbeatAt,
      createdAt: first.batchCreatedAt,
      completedAt: null,
    }
    return { batch: created, messages: rows.map((row) => toBatchMessage(row, batch.content, batch.template)) }
  }

  /**
   * Stores the messages of the batch's recipients that {@link create} left on the batch row, in
   * one statement that also clears them there; returns those messages (none when another call
   * stored them first). Used right after `create`, and when resuming a batch whose owner stopped.
   */
  async storeRest(batch: Pick<BatchRecord, 'id' | 'template'>): Promise<BatchMessage[]> {
    // The UPDATE locks the batch row: a second caller waits, then finds nothing left to store.
    const rows = await this.prisma.$queryRaw<(StoredRow & { content: string })[]>(Prisma.sql`
      WITH b AS (
        UPDATE template_batches t SET unstored = NULL
        FROM (SELECT id, unstored FROM template_batches WHERE id = ${batch.id} FOR UPDATE) old
        WHERE t.id = old.id AND old.unstored IS NOT NULL
        RETURNING t.id, t.business_phone_number_id, t.created_at, t.heartbeat_at, t.template, t.sent_by, old.unstored
      ), recipients AS (
        SELECT r->>0 AS phone, r->>1 AS given, (r->>2)::int AS request_id, pos
        FROM b, jsonb_array_elements(b.unstored->'recipients') WITH ORDINALITY AS e(r, pos)
      ), ${storeMessages(
        Prisma.sql`(SELECT unstored->>'content' FROM b)`,
        Prisma.sql`(SELECT template FROM b)`,
        Prisma.sql`, b.unstored->>'content' AS content`,
      )}`)
    return rows.map((row) => toBatchMessage(row, row.content, batch.template))
  }

  /** The batch, when it exists and goes out from one of the `scope` numbers (null: any). */
  findById(id: number, scope: NumberScope = null): Promise<BatchRecord | null> {
    return this.prisma.templateBatch.findFirst({
      where: { id, ...inScope(scope) },
      omit: { unstored: true },
    }) as Promise<BatchRecord | null>
  }

  /** Batches by id, in one query (for DataLoader). */
  findMany(ids: readonly number[]): Promise<BatchRecord[]> {
    return this.prisma.templateBatch.findMany({ where: { id: { in: [...ids] } }, omit: { unstored: true } }) as Promise<
      BatchRecord[]
    >
  }

  /** The newest batches first, after batch id `after`. */
  async page(first: number, after: number | null, scope: NumberScope = null): Promise<BatchRecord[]> {
    return (await this.prisma.templateBatch.findMany({
      where: { ...(after ? { id: { lt: after } } : {}), ...inScope(scope) },
      omit: { unstored: true },
      orderBy: { id: 'desc' },
      take: first + 1,
    })) as BatchRecord[]
  }

  count(scope: NumberScope = null): Promise<number> {
    return this.prisma.templateBatch.count({ where: inScope(scope) })
  }

  /** The batch's messages in request order (all, or those Meta was never called for). */
  async messages(batchId: number, only?: 'unattempted'): Promise<BatchMessage[]> {
    const rows = await this.prisma.message.findMany({
      where: { batchId, ...(only ? { status: 'pending', attemptedAt: null } : {}) },
      orderBy: { id: 'asc' },
      include: { conversation: { select: { phoneNumber: true } } },
    })
    return rows.map(({ conversation, ...m }) => ({ ...(m as MessageRecord), to: conversation.phoneNumber! }))
  }

  /** One page of the batch's recipients' messages, in request order, after message id `after`. */
  async messagePage(batchId: number, first: number, after: number | null) {
    const rows = await this.prisma.message.findMany({
      where: { batchId, ...(after ? { id: { gt: after } } : {}) },
      orderBy: { id: 'asc' },
      take: first + 1,
    })
    return rows as MessageRecord[]
  }

  /** Messages per status, for each batch (one query, for DataLoader). */
  async progress(batchIds: readonly number[]): Promise<Map<number, BatchProgress>> {
    const groups = await this.prisma.message.groupBy({
      by: ['batchId', 'status'],
      where: { batchId: { in: [...batchIds] } },
      _count: { _all: true },
    })
    const result = new Map<number, BatchProgress>()
    for (const g of groups) {
      const progress = result.get(g.batchId!) ?? { ...NO_PROGRESS }
      progress[g.status] = g._count._all
      result.set(g.batchId!, progress)
    }
    return result
  }

  /**
   * Keeps this instance's claim on its running batches alive; returns the ids it still owns.
   * Times are the database's clock, like the staleness check of {@link claimOrphans}.
   */
  async heartbeat(ids: number[], owner: string): Promise<number[]> {
    if (!ids.length) return []
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      UPDATE template_batches SET heartbeat_at = now()
      WHERE id = ANY(${ids}::int[]) AND owner = ${owner} AND status = 'running'
      RETURNING id`
    return rows.map((r) => r.id)
  }

  /**
   * Claims running batches nobody works on: released ones, and those whose owner has not
   * heartbeaten for `staleMs` (database clock; null: every running batch not ours, for a database
   * only this process can open). One statement, so two instances never claim the same one.
   */
  async claimOrphans(owner: string, staleMs: number | null): Promise<BatchRecord[]> {
    const stale =
      staleMs === null
        ? Prisma.sql`TRUE`
        : Prisma.sql`(heartbeat_at IS NULL OR heartbeat_at < now() - ${staleMs} * interval '1 millisecond')`
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      UPDATE template_batches SET owner = ${owner}, heartbeat_at = now()
      WHERE id IN (
        SELECT id FROM template_batches
        WHERE status = 'running' AND (owner IS NULL OR owner <> ${owner}) AND ${stale}
        ORDER BY id LIMIT 10
        FOR UPDATE SKIP LOCKED)
      RETURNING id`
    return this.findMany(rows.map((r) => r.id))
  }

  /** Gives up this instance's claim (it is shutting down): another instance, or the next start, resumes it. */
  async release(id: number, owner: string): Promise<void> {
    await this.prisma.templateBatch.updateMany({
      where: { id, owner, status: 'running' },
      data: { owner: null, heartbeatAt: null },
    })
  }

  async complete(id: number): Promise<BatchRecord> {
    return (await this.prisma.templateBatch.update({
      where: { id },
      data: { status: 'completed', completedAt: new Date(), owner: null, heartbeatAt: null },
      omit: { unstored: true },
    })) as BatchRecord
  }
}

/** What {@link storeMessages} gives back for each message: only what the database chose. */
interface StoredRow {
  id: number
  conversationId: number
  requestId: number | null
  createdAt: Date
  to: string
  recipient: string
  batchId: number
  batchCreatedAt: Date
  batchHeartbeatAt: Date
  sentBy: string | null
}

/** Recipients as compact JSON rows for the batch statements: [phone, as given, request id]. */
function toJsonRows(recipients: NewBatchRecipient[]): [string, string, number | null][] {
  return recipients.map((r) => [r.to, r.phoneNumber, r.requestId])
}

/**
 * The rest of a batch statement, after CTEs `recipients` (phone, given, request_id, pos: the
 * recipients to store) and `b` (the batch: id, created_at, heartbeat_at, sent_by): a `pending` template
 * message per recipient, stored as every outbound message is (messages/message.sql.ts).
 *
 * Only what the database chose comes back: the rest of each message is what was just written, and
 * reading full rows back (a copy of the template in each) delayed the first send.
 */
function storeMessages(content: Prisma.Sql, template: Prisma.Sql, also = Prisma.empty): Prisma.Sql {
  return Prisma.sql`src AS (
      SELECT r.pos, b.business_phone_number_id AS number, r.phone, r.request_id, r.given AS recipient, b.id AS batch_id, 'outbound' AS direction,
             'template' AS type, ${content}::text AS content, ${template}::jsonb AS template, 'pending' AS status,
             b.sent_by, ${NO_PARTS_COLUMNS}
      FROM recipients r CROSS JOIN b
    ), ${storeOutbound(Prisma.sql`now()`, Prisma.sql`id, conversation_id, request_id, created_at`)}
    SELECT m.id, m.conversation_id AS "conversationId", m.request_id AS "requestId", m.created_at AS "createdAt",
           u.phone AS "to", u.recipient, b.id AS "batchId", b.created_at AS "batchCreatedAt",
           b.heartbeat_at AS "batchHeartbeatAt", b.sent_by AS "sentBy"${also}
    FROM m JOIN u ON u.id = m.id CROSS JOIN b
    ORDER BY m.id`
}

/** A message just stored by a batch statement, completed with what the statement wrote. */
function toBatchMessage(row: StoredRow, content: string, template: unknown): BatchMessage {
  return {
    id: row.id,
    conversationId: row.conversationId,
    direction: 'outbound',
    type: 'template',
    content,
    template,
    status: 'pending',
    wamid: null,
    requestId: row.requestId,
    payload: null,
    sentByCustomerAt: null,
    sentAt: null,
    deliveredAt: null,
    readAt: null,
    failedAt: null,
    errorCode: null,
    errorMessage: null,
    errorDetails: null,
    errorTraceId: null,
    attemptedAt: null,
    batchId: row.batchId,
    recipient: row.recipient,
    ...NO_PARTS,
    sentBy: row.sentBy,
    createdAt: row.createdAt,
    updatedAt: row.createdAt,
    to: row.to,
  }
}
