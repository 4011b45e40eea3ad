import type { PrismaClient } from '../db/database.js'
import { statementRefused } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'
import { Coalescer } from '../shared/coalescer.js'
import type { AcceptedMessage } from '../meta/meta.api.js'
import type { MessageOutcome, MessageRecord, StatusUpdate } from './message.records.js'
import { BEFORE_ANSWER, type MessageStatus, statusesBefore, statusRank, statusRankSql } from './message-status.js'
import { inIdOrder, MESSAGE_COLUMNS } from './message.sql.js'

/** A send Meta accepted, as recordSent takes it. */
interface SentRecord {
  id: number
  wamid: string
  wa_id: string | null
  user_id: string | null
}

/** An early status as stored: see {@link DeliveryRepository.keepEarlyStatus}. */
interface EarlyStatusRow {
  id: number
  status: string
  timestamp: string | Date
  errors: unknown
}

function earlyStatus(wamid: string, row: EarlyStatusRow & { timestamp: Date }): StatusUpdate {
  return {
    wamid,
    status: row.status as StatusUpdate['status'],
    timestamp: row.timestamp,
    error: (row.errors as StatusUpdate['error']) ?? null,
  }
}

/**
 * An outbound message's way to the customer once stored: claims for a call to Meta, Meta's
 * answer, its status webhooks (only ever forward, in the order of message-status.ts) and the
 * early statuses that arrive before their message's wamid is known.
 */
export class DeliveryRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Records what Meta answered for an outbound message. Only moves forward: a status webhook may
   * have settled the message already (a late answer never takes `delivered` back to `sent`, and a
   * timeout never makes a settled message `unknown`).
   */
  async recordOutcome(messageId: number, outcome: MessageOutcome): Promise<MessageRecord> {
    const data =
      outcome.status === 'sent'
        ? { status: outcome.status, wamid: outcome.wamid }
        : outcome.status === 'unknown'
          ? { status: outcome.status, errorMessage: outcome.errorMessage }
          : {
              status: outcome.status,
              errorCode: outcome.errorCode,
              errorMessage: outcome.errorMessage,
              errorDetails: outcome.errorDetails ?? null,
              errorTraceId: outcome.errorTraceId ?? null,
            }
    // A timeout lands only on a message still waiting for its first answer.
    const from: MessageStatus[] = outcome.status === 'unknown' ? statusesBefore('unknown') : [...BEFORE_ANSWER]
    try {
      return (await this.prisma.message.update({
        where: { id: messageId, status: { in: from } },
        data,
      })) as MessageRecord
    } catch (err) {
      if (!(err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025')) throw err
      // Settled meanwhile by a webhook that found it through our callback data.
      if (outcome.status === 'sent') {
        await this.prisma.message.updateMany({ where: { id: messageId, wamid: null }, data: { wamid: outcome.wamid } })
      }
      return (await this.findById(messageId))!
    }
  }

  /**
   * Claims the message for a call to Meta now (see `attemptedAt`). False when it is no longer
   * ours to send: another sender claimed it, or it was settled meanwhile. Runs before every
   * attempt of a fan-out, so concurrent claims share one statement.
   */
  markAttempt(messageId: number, first: boolean): Promise<boolean> {
    return this.claims.run({ id: messageId, first })
  }

  private readonly claims = new Coalescer((claims: { id: number; first: boolean }[]) => this.claimMany(claims), {
    key: (claim) => claim.id,
    retryAlone: statementRefused,
  })

  private async claimMany(claims: { id: number; first: boolean }[]): Promise<boolean[]> {
    // A claim, not a note: only a message still unsent (and, for a first attempt, never tried)
    // may be sent. Two instances that both think they own a batch cannot both send to a
    // recipient; a retry stops once a status webhook has settled the message.
    const now = new Date()
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      UPDATE messages m SET attempted_at = ${now}, updated_at = ${now}
      FROM jsonb_to_recordset(${JSON.stringify(inIdOrder(claims))}::jsonb) AS v(id int, first boolean)
      WHERE m.id = v.id AND m.status = 'pending' AND m.wamid IS NULL AND (NOT v.first OR m.attempted_at IS NULL)
      RETURNING m.id`
    const won = new Set(rows.map((row) => row.id))
    return claims.map((claim) => won.has(claim.id))
  }

  /**
   * Gives a message whose send never learnt its wamid (`pending` or `unknown`) the wamid Meta's
   * status webhook reports for it. True when it did.
   */
  async adoptWamid(messageId: number, wamid: string): Promise<boolean> {
    const { count } = await this.prisma.message.updateMany({
      where: { id: messageId, wamid: null, direction: 'outbound', status: { in: [...BEFORE_ANSWER] } },
      data: { wamid },
    })
    return count === 1
  }

  /**
   * Marks `unknown` the messages whose call to Meta started before `before` and never recorded an
   * answer: their sender died or gave up waiting (only those of `batchId`, when given). Returns them.
   */
  async markStaleAttemptsUnknown(before: Date, batchId?: number): Promise<{ id: number; conversationId: number }[]> {
    const stale = await this.prisma.message.findMany({
      where: { status: 'pending', attemptedAt: { lt: before }, ...(batchId ? { batchId } : {}) },
      select: { id: true, conversationId: true },
    })
    if (!stale.length) return []
    await this.prisma.message.updateMany({
      where: { id: { in: stale.map((m) => m.id) }, status: 'pending' },
      data: {
        status: 'unknown',
        errorMessage: 'The sender stopped before Meta answered; settled by its status webhook',
      },
    })
    return stale
  }

  /**
   * Applies a delivery status to our message with that wamid. Statuses only move forward
   * (pending < sent < delivered < read; failed is final), whatever order they arrive in; the time
   * of each state is kept. Returns null when no message has that wamid, else the message and
   * whether its status changed.
   */
  applyStatus(update: StatusUpdate): Promise<{ message: MessageRecord; changed: boolean } | null> {
    return this.statusUpdates.run(update)
  }

  // Concurrent statuses share one statement (a webhook burst brings thousands); one per wamid at a
  // time, so two statuses of one message apply one after the other.
  private readonly statusUpdates = new Coalescer((updates: StatusUpdate[]) => this.applyStatuses(updates), {
    key: (update) => update.wamid,
    retryAlone: statementRefused,
  })

  private async applyStatuses(updates: StatusUpdate[]) {
    const column = <T>(pick: (update: StatusUpdate) => T) => updates.map(pick)
    const rows = await this.prisma.$queryRaw<(MessageRecord & { ord: number; oldStatus: string })[]>`
      WITH v AS (
        SELECT * FROM unnest(${updates.map((_, ord) => ord)}::int[], ${column((u) => u.wamid)}::text[],
                             ${column((u) => u.status)}::text[], ${column((u) => statusRank(u.status))}::int[],
                             ${column((u) => u.timestamp.toISOString())}::timestamptz[],
                             ${column((u) => u.error?.code ?? null)}::int[],
                             ${column((u) => u.error?.title ?? 'Failed')}::text[],
                             ${column((u) => u.error?.details ?? null)}::text[])
          AS v(ord, wamid, status, rank, at, error_code, error_title, error_details)
      ), current AS (
        -- Locked in id order, as every statement that writes several messages does.
        SELECT m.id, m.status, m.conversation_id, v.ord FROM messages m JOIN v ON v.wamid = m.wamid
        ORDER BY m.id FOR UPDATE OF m
      ), target AS (
        SELECT c.id, c.status AS old_status, v.*,
          CASE WHEN c.status <> 'failed' AND v.rank > ${statusRankSql(Prisma.sql`c.status`)}
               THEN v.status::"MessageStatus" ELSE c.status END AS new_status
        FROM current c JOIN v ON v.ord = c.ord
      ), touched AS (
        UPDATE conversations SET updated_at = now() WHERE id IN (SELECT conversation_id FROM current)
      )
      UPDATE messages m SET
        status = t.new_status,
        sent_at = CASE WHEN t.status = 'sent' THEN COALESCE(m.sent_at, t.at) ELSE m.sent_at END,
        delivered_at = CASE WHEN t.status = 'delivered' THEN COALESCE(m.delivered_at, t.at) ELSE m.delivered_at END,
        read_at = CASE WHEN t.status = 'read' THEN COALESCE(m.read_at, t.at) ELSE m.read_at END,
        failed_at = CASE WHEN t.new_status = 'failed' AND t.old_status <> 'failed' THEN t.at ELSE m.failed_at END,
        error_code = CASE WHEN t.new_status = 'failed' AND t.old_status <> 'failed' THEN t.error_code ELSE m.error_code END,
        error_message = CASE WHEN t.new_status = 'failed' AND t.old_status <> 'failed' THEN t.error_title ELSE m.error_message END,
        error_details = CASE WHEN t.new_status = 'failed' AND t.old_status <> 'failed' THEN t.error_details ELSE m.error_details END,
        updated_at = now()
      FROM target t
      WHERE m.id = t.id
      RETURNING t.ord AS "ord", ${MESSAGE_COLUMNS}, t.old_status::text AS "oldStatus"`
    const byOrd = new Map(rows.map((row) => [row.ord, row]))
    return updates.map((_, ord) => {
      const row = byOrd.get(ord)
      if (!row) return null
      const { ord: _ord, oldStatus, ...message } = row
      return { message, changed: oldStatus !== message.status }
    })
  }

  /**
   * Keeps an early status: one for a wamid no message has yet (its send has not recorded the
   * wamid Meta answered, or the message was sent from elsewhere).
   */
  async keepEarlyStatus(update: StatusUpdate): Promise<void> {
    await this.prisma.earlyStatus.create({
      data: {
        wamid: update.wamid,
        status: update.status,
        timestamp: update.timestamp,
        errors: update.error ?? undefined,
      },
    })
  }

  /** Forgets early statuses older than `before` (for messages sent from elsewhere, they never match). */
  async dropEarlyStatusesBefore(before: Date): Promise<number> {
    const { count } = await this.prisma.earlyStatus.deleteMany({ where: { createdAt: { lt: before } } })
    return count
  }

  /** Removes and returns the early statuses of `wamid` (one statement). */
  async takeEarlyStatuses(wamid: string): Promise<StatusUpdate[]> {
    const rows = await this.prisma.$queryRaw<
      { id: number; wamid: string; status: string; timestamp: Date; errors: unknown }[]
    >`
      DELETE FROM pending_statuses WHERE wamid = ${wamid} RETURNING id, wamid, status, timestamp, errors`
    return rows.sort((a, b) => a.id - b.id).map((r) => earlyStatus(wamid, r))
  }

  /**
   * Records that Meta took message `messageId` as `wamid`, and takes the early statuses of that
   * wamid (they arrived before we knew it). `message` is null when the message had been settled
   * already (by a status webhook that found it through our callback data): then use
   * {@link recordOutcome}. Runs after every send, so concurrent calls share one statement.
   */
  recordSent(
    messageId: number,
    wamid: string,
    recipient: AcceptedMessage['recipient'] = undefined,
  ): Promise<{ message: MessageRecord | null; early: StatusUpdate[] }> {
    return this.sentRecords.run({
      id: messageId,
      wamid,
      wa_id: recipient?.waId ?? null,
      user_id: recipient?.userId ?? null,
    })
  }

  private readonly sentRecords = new Coalescer((sends: SentRecord[]) => this.recordSentMany(sends), {
    key: (send) => send.id,
    // A customer's id taken by two conversations in one statement is refused by its unique index.
    retryAlone: statementRefused,
  })

  private async recordSentMany(sends: SentRecord[]) {
    const rows = await this.prisma.$queryRaw<(MessageRecord & { forId: number; early: EarlyStatusRow[] | null })[]>`
      WITH v AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(inIdOrder(sends))}::jsonb)
          AS v(id int, wamid text, wa_id text, user_id text)
      ), identified AS (
        -- The customer's identity as Meta answered it, on their conversation's first send: the
        -- WhatsApp id they will write from, and their user id (unless another conversation has it).
        UPDATE conversations c SET
          wa_id = COALESCE(c.wa_id, CASE WHEN NOT EXISTS (SELECT 1 FROM conversations o WHERE o.wa_id = v.wa_id)
                                         THEN v.wa_id END),
          wa_user_id = COALESCE(c.wa_user_id, CASE WHEN NOT EXISTS (SELECT 1 FROM conversations o
                                                                    WHERE o.wa_user_id = v.user_id)
                                                   THEN v.user_id END),
          updated_at = now()
        FROM v JOIN messages sent ON sent.id = v.id
        WHERE c.id = sent.conversation_id
          AND ((c.wa_id IS NULL AND v.wa_id IS NOT NULL) OR (c.wa_user_id IS NULL AND v.user_id IS NOT NULL))
      ), taken AS (
        DELETE FROM pending_statuses p USING v WHERE p.wamid = v.wamid
        RETURNING p.id, p.wamid, p.status, p.timestamp, p.errors
      ), m AS (
        UPDATE messages m SET status = 'sent', wamid = v.wamid, updated_at = now()
        FROM v WHERE m.id = v.id AND m.status::text = ANY(${[...BEFORE_ANSWER]}::text[])
        RETURNING m.*
      )
      SELECT v.id AS "forId", ${MESSAGE_COLUMNS},
        (SELECT json_agg(json_build_object('id', t.id, 'status', t.status, 'timestamp', t.timestamp, 'errors', t.errors)
                         ORDER BY t.id) FROM taken t WHERE t.wamid = v.wamid) AS early
      FROM v LEFT JOIN m ON m.id = v.id`
    const byId = new Map(rows.map((row) => [row.forId, row]))
    return sends.map(({ id, wamid }) => {
      const { forId: _, early, ...message } = byId.get(id)!
      return {
        message: message.id === null ? null : (message as MessageRecord),
        early: (early ?? []).map((r) => earlyStatus(wamid, { ...r, timestamp: new Date(r.timestamp) })),
      }
    })
  }

  /** The message as it stands now. */
  async findById(id: number): Promise<MessageRecord | null> {
    return (await this.prisma.message.findUnique({ where: { id } })) as MessageRecord | null
  }
}
