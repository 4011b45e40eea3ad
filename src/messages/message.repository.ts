import type { PrismaClient } from '../db/database.js'
import { statementRefused } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'
import { Coalescer } from '../shared/coalescer.js'
import type {
  ConversationRecord,
  MessageOutcome,
  MessageRecord,
  NewInboundMessage,
  NewMessage,
  StatusUpdate,
} from './message.records.js'
import { BEFORE_ANSWER, type MessageStatus, statusesBefore, statusRank, statusRankSql } from './message-status.js'
import {
  conversationColumns,
  conversationIn,
  inIdOrder,
  MESSAGE_COLUMNS,
  partsOf,
  storeOutbound,
} from './message.sql.js'

/** An early status as stored: see {@link MessageRepository.keepEarlyStatus}. */
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

type NumberSend = { phoneNumber: string; requestId: number | null; message: Omit<NewMessage, 'requestId'> }

/**
 * Messages' whole write path — stored before a send, the send's outcome, inbound messages,
 * delivery statuses — and the conversation summary each write keeps (last activity, last
 * message). The only code that talks to Prisma about messages; conversations/ reads them.
 */
export class MessageRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Stores a new outbound message to `phoneNumber` in its conversation — created if there is none,
   * linked to `requestId` when one is given — and moves the conversation's last activity. The
   * message takes the conversation's request id unless it has its own. This runs for every send
   * to a number, so concurrent calls share one statement (one per number at a time).
   */
  addToNumber(
    phoneNumber: string,
    requestId: number | null,
    message: Omit<NewMessage, 'requestId'>,
  ): Promise<{ conversation: ConversationRecord; message: MessageRecord }> {
    return this.numberMessages.run({ phoneNumber, requestId, message })
  }

  // Two rows for one number in one upsert would be refused ("cannot affect row a second time").
  private readonly numberMessages = new Coalescer((sends: NumberSend[]) => this.addToNumbers(sends), {
    key: (send) => send.phoneNumber,
    retryAlone: statementRefused,
  })

  private async addToNumbers(
    sends: NumberSend[],
  ): Promise<{ conversation: ConversationRecord; message: MessageRecord }[]> {
    const now = new Date()
    // Text goes in as text arrays, not inside JSON: PostgreSQL's JSON refuses a lone UTF-16
    // surrogate that a text parameter stores (as U+FFFD), and one such text must not fail a send.
    const column = <T>(pick: (send: NumberSend) => T) => sends.map(pick)
    const parts = sends.map((s) => partsOf(s.message))
    const part = <K extends keyof ReturnType<typeof partsOf>>(key: K) => parts.map((p) => p[key])
    const rows = await this.prisma.$queryRaw<Record<string, unknown>[]>`
      WITH src AS (
        SELECT pos, phone, request_id, NULL::text AS recipient, NULL::int AS batch_id, direction, type, content,
               template::jsonb, status, attempted_at::timestamptz, media_id, filename, location::jsonb,
               interactive::jsonb, reply_to_wamid, reply_to_message_id
        FROM unnest(${sends.map((_, pos) => pos)}::int[], ${column((s) => s.phoneNumber)}::text[],
                    ${column((s) => s.requestId)}::int[], ${column((s) => s.message.direction)}::text[],
                    ${column((s) => s.message.type)}::text[], ${column((s) => s.message.content)}::text[],
                    ${column((s) => (s.message.template === undefined ? null : JSON.stringify(s.message.template)))}::text[],
                    ${column((s) => s.message.status)}::text[],
                    ${column((s) => s.message.attemptedAt?.toISOString() ?? null)}::text[],
                    ${part('mediaId')}::text[], ${part('filename')}::text[], ${part('location')}::text[],
                    ${part('interactive')}::text[], ${part('replyToWamid')}::text[], ${part('replyToMessageId')}::int[])
               AS v(pos, phone, request_id, direction, type, content, template, status, attempted_at,
                    media_id, filename, location, interactive, reply_to_wamid, reply_to_message_id)
      ), ${storeOutbound(Prisma.sql`${now}`, Prisma.sql`*`)}
      SELECT u.pos AS "pos", ${MESSAGE_COLUMNS}, ${conversationColumns('conversation.')}
      FROM m JOIN c ON c.id = m.conversation_id JOIN u ON u.id = m.id`
    const byPos = new Map(rows.map((row) => [row.pos as number, row]))
    return sends.map((_, pos) => {
      const row = byPos.get(pos)!
      const message = Object.fromEntries(
        Object.entries(row).filter(([key]) => key !== 'pos' && !key.startsWith('conversation.')),
      ) as unknown as MessageRecord
      return { conversation: conversationIn(row), message }
    })
  }

  /**
   * Stores a message and moves the conversation's last activity, in one statement (this runs for
   * every send: one round trip, not a four-statement transaction).
   */
  async add(conversationId: number, message: NewMessage): Promise<MessageRecord> {
    const now = new Date()
    const template = message.template === undefined ? null : JSON.stringify(message.template)
    const p = partsOf(message)
    const [created] = await this.prisma.$queryRaw<MessageRecord[]>`
      WITH m AS (
        INSERT INTO messages (conversation_id, direction, type, content, template, status, request_id, attempted_at,
                              media_id, filename, location, interactive, reply_to_wamid, reply_to_message_id,
                              created_at, updated_at)
        VALUES (${conversationId}, ${message.direction}::text::"MessageDirection", ${message.type}, ${message.content},
                ${template}::jsonb, ${message.status}::text::"MessageStatus", ${message.requestId ?? null}::int,
                ${message.attemptedAt ?? null}::timestamptz, ${p.mediaId}, ${p.filename}, ${p.location}::jsonb,
                ${p.interactive}::jsonb, ${p.replyToWamid}, ${p.replyToMessageId}::int, ${now}, ${now})
        RETURNING *
      ), touched AS (
        UPDATE conversations
        SET last_message_at = GREATEST(last_message_at, (SELECT ${now}::timestamptz FROM m WHERE m.type <> 'reaction')),
            last_message_id = GREATEST(last_message_id, (SELECT id FROM m WHERE m.type <> 'reaction')),
            updated_at = now()
        WHERE id = ${conversationId}
      )
      SELECT ${MESSAGE_COLUMNS} FROM m`
    return created
  }

  /**
   * The customer reacted at `at`: the customer-service window runs from there, but a reaction is
   * no conversation's last message.
   */
  async touchInbound(conversationId: number, at: Date): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE conversations SET last_inbound_at = GREATEST(last_inbound_at, ${at}), updated_at = now()
      WHERE id = ${conversationId}`
  }

  /** Moves last activity forward (never back: replays and delayed webhooks arrive out of order). */
  private touchConversation(conversationId: number, at: Date, inbound = false) {
    const inboundSql = inbound ? Prisma.sql`last_inbound_at = GREATEST(last_inbound_at, ${at}),` : Prisma.empty
    return this.prisma.$executeRaw`
      UPDATE conversations
      SET ${inboundSql}
          last_message_at = GREATEST(last_message_at, ${at}),
          -- The subquery is evaluated before this statement waits for the row lock: never go back.
          last_message_id = GREATEST(last_message_id, (SELECT max(id) FROM messages WHERE conversation_id = ${conversationId} AND type <> 'reaction')),
          updated_at = now()
      WHERE id = ${conversationId}`
  }

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
   * Stores an inbound message once per wamid, whatever the number of deliveries or their
   * concurrency (a unique index, not a read-then-write check), and opens the customer-service
   * window. Returns the message, or null when it was already stored.
   */
  async addInbound(conversationId: number, message: NewInboundMessage): Promise<MessageRecord | null> {
    const [inserted] = await this.prisma.$transaction([
      this.prisma.message.createManyAndReturn({
        data: [
          {
            conversationId,
            direction: 'inbound',
            status: 'delivered',
            type: message.type,
            content: message.content,
            payload: message.payload,
            wamid: message.wamid,
            sentByCustomerAt: message.sentByCustomerAt,
            mediaId: message.mediaId ?? null,
            filename: message.filename ?? null,
            location: (message.location ?? undefined) as object | undefined,
            interactive: (message.interactive ?? undefined) as object | undefined,
            contacts: (message.contacts ?? undefined) as object[] | undefined,
            replyToWamid: message.replyToWamid ?? null,
            replyToMessageId: message.replyToMessageId ?? null,
          },
        ],
        skipDuplicates: true,
      }),
      this.touchConversation(conversationId, message.sentByCustomerAt, true),
    ])
    return (inserted?.[0] as MessageRecord | undefined) ?? null
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
  recordSent(messageId: number, wamid: string): Promise<{ message: MessageRecord | null; early: StatusUpdate[] }> {
    return this.sentRecords.run({ id: messageId, wamid })
  }

  private readonly sentRecords = new Coalescer((sends: { id: number; wamid: string }[]) => this.recordSentMany(sends), {
    key: (send) => send.id,
    retryAlone: statementRefused,
  })

  private async recordSentMany(sends: { id: number; wamid: string }[]) {
    const rows = await this.prisma.$queryRaw<(MessageRecord & { forId: number; early: EarlyStatusRow[] | null })[]>`
      WITH v AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(inIdOrder(sends))}::jsonb) AS v(id int, wamid text)
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

  /** The messages carrying a file. */
  withMedia(mediaId: string): Promise<{ id: number; conversationId: number }[]> {
    return this.prisma.message.findMany({ where: { mediaId }, select: { id: true, conversationId: true } })
  }

  /** The customer's latest message in a conversation. */
  async latestInbound(conversationId: number): Promise<MessageRecord | null> {
    return (await this.prisma.message.findFirst({
      where: { conversationId, direction: 'inbound', wamid: { not: null } },
      orderBy: { id: 'desc' },
    })) as MessageRecord | null
  }

  findByWamid(wamid: string): Promise<MessageRecord | null> {
    return this.prisma.message.findUnique({ where: { wamid } }) as Promise<MessageRecord | null>
  }

  findById(id: number): Promise<MessageRecord | null> {
    return this.prisma.message.findUnique({ where: { id } }) as Promise<MessageRecord | null>
  }
}
