import type { NumberScope } from '../auth/principal.js'
import type { PrismaClient } from '../db/database.js'
import { statementRefused } from '../db/database.js'
import type { DirectSql } from '../db/direct-sql.js'
import { Prisma } from '../generated/prisma/client.js'
import { Coalescer } from '../shared/coalescer.js'
import type { ConversationRecord, MessageRecord, NewInboundMessage, NewMessage } from './message.records.js'
import {
  conversationColumns,
  conversationIn,
  MESSAGE_COLUMNS,
  MESSAGES,
  partsOf,
  storeOutbound,
} from './message.sql.js'

/**
 * An inbound message stored once per wamid, with the conversation's summary moved (see addInbound):
 * $1 conversation id, $2 type, $3 content, $4 payload, $5 wamid, $6 sent at, $7–$13 its parts.
 */
const STORE_INBOUND = `WITH m AS (
    INSERT INTO messages (conversation_id, direction, status, type, content, payload, wamid, sent_by_customer_at,
                          media_id, filename, location, interactive, contacts, reply_to_wamid,
                          reply_to_message_id, created_at, updated_at)
    VALUES ($1::int, 'inbound', 'delivered', $2, $3, $4::jsonb, $5, $6::timestamptz, $7, $8, $9::jsonb,
            $10::jsonb, $11::jsonb, $12, $13::int, now(), now())
    ON CONFLICT DO NOTHING
    RETURNING *
  ), touched AS (
    UPDATE conversations
    SET last_inbound_at = GREATEST(last_inbound_at, $6::timestamptz),
        last_message_at = GREATEST(last_message_at, $6::timestamptz),
        -- A reaction is no conversation's last message; GREATEST ignores the NULL of a duplicate.
        last_message_id = GREATEST(last_message_id, (SELECT id FROM m WHERE m.type <> 'reaction')),
        updated_at = now()
    WHERE id = $1::int
  )
  SELECT ${MESSAGES.sql()} FROM m`

type NumberSend = {
  from: string
  phoneNumber: string
  requestId: number | null
  message: Omit<NewMessage, 'requestId'>
}

/**
 * Messages stored — outbound before their send, inbound once per wamid — with the conversation
 * summary each keeps (last activity, last message), and single messages looked up. What happens to
 * an outbound message after it is stored is delivery.repository.ts's; conversations/ reads lists.
 */
export class MessageRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: DirectSql,
  ) {}

  /**
   * Stores a new outbound message from business number `from` to `phoneNumber` in their conversation — created if there is none,
   * linked to `requestId` when one is given — and moves the conversation's last activity. The
   * message takes the conversation's request id unless it has its own. This runs for every send
   * to a number, so concurrent calls share one statement (one per number at a time).
   */
  addToNumber(
    from: string,
    phoneNumber: string,
    requestId: number | null,
    message: Omit<NewMessage, 'requestId'>,
  ): Promise<{ conversation: ConversationRecord; message: MessageRecord }> {
    return this.numberMessages.run({ from, phoneNumber, requestId, message })
  }

  // Two rows for one number in one upsert would be refused ("cannot affect row a second time").
  private readonly numberMessages = new Coalescer((sends: NumberSend[]) => this.addToNumbers(sends), {
    key: (send) => `${send.from}:${send.phoneNumber}`,
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
        SELECT pos, number, phone, request_id, NULL::text AS recipient, NULL::int AS batch_id, direction, type, content,
               template::jsonb, status, attempted_at::timestamptz, media_id, filename, location::jsonb,
               interactive::jsonb, reply_to_wamid, reply_to_message_id, sent_by
        FROM unnest(${sends.map((_, pos) => pos)}::int[], ${column((s) => s.from)}::text[],
                    ${column((s) => s.phoneNumber)}::text[],
                    ${column((s) => s.requestId)}::int[], ${column((s) => s.message.direction)}::text[],
                    ${column((s) => s.message.type)}::text[], ${column((s) => s.message.content)}::text[],
                    ${column((s) => (s.message.template === undefined ? null : JSON.stringify(s.message.template)))}::text[],
                    ${column((s) => s.message.status)}::text[],
                    ${column((s) => s.message.attemptedAt?.toISOString() ?? null)}::text[],
                    ${part('mediaId')}::text[], ${part('filename')}::text[], ${part('location')}::text[],
                    ${part('interactive')}::text[], ${part('replyToWamid')}::text[], ${part('replyToMessageId')}::int[],
                    ${column((s) => s.message.sentBy ?? null)}::text[])
               AS v(pos, number, phone, request_id, direction, type, content, template, status, attempted_at,
                    media_id, filename, location, interactive, reply_to_wamid, reply_to_message_id, sent_by)
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
                              sent_by, created_at, updated_at)
        VALUES (${conversationId}, ${message.direction}::text::"MessageDirection", ${message.type}, ${message.content},
                ${template}::jsonb, ${message.status}::text::"MessageStatus", ${message.requestId ?? null}::int,
                ${message.attemptedAt ?? null}::timestamptz, ${p.mediaId}, ${p.filename}, ${p.location}::jsonb,
                ${p.interactive}::jsonb, ${p.replyToWamid}, ${p.replyToMessageId}::int, ${message.sentBy ?? null},
                ${now}, ${now})
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

  /**
   * Stores an inbound message once per wamid, whatever the number of deliveries or their
   * concurrency (a unique index, not a read-then-write check), opens the customer-service window
   * and moves the conversation's last activity forward (never back: replays and delayed webhooks
   * arrive out of order). One statement, by hand: this runs for every message a customer sends.
   * Returns the message, or null when it was already stored.
   */
  async addInbound(conversationId: number, message: NewInboundMessage): Promise<MessageRecord | null> {
    const p = partsOf(message)
    const [inserted] = await this.sql.rows<MessageRecord>(STORE_INBOUND, [
      conversationId,
      message.type,
      message.content,
      JSON.stringify(message.payload),
      message.wamid,
      message.sentByCustomerAt.toISOString(),
      p.mediaId,
      p.filename,
      p.location,
      p.interactive,
      p.contacts,
      p.replyToWamid,
      p.replyToMessageId,
    ])
    return inserted ?? null
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

  /** The message, when it exists and its conversation belongs to one of the `scope` numbers (null: any). */
  findByWamid(wamid: string, scope: NumberScope = null): Promise<MessageRecord | null> {
    return (
      scope === null
        ? this.prisma.message.findUnique({ where: { wamid } })
        : this.prisma.message.findFirst({ where: { wamid, conversation: { businessPhoneNumberId: { in: scope } } } })
    ) as Promise<MessageRecord | null>
  }

  /** The message, when it exists and its conversation belongs to one of the `scope` numbers (null: any). */
  findById(id: number, scope: NumberScope = null): Promise<MessageRecord | null> {
    return (
      scope === null
        ? this.prisma.message.findUnique({ where: { id } })
        : this.prisma.message.findFirst({ where: { id, conversation: { businessPhoneNumberId: { in: scope } } } })
    ) as Promise<MessageRecord | null>
  }
}
