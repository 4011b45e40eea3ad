import type { NumberScope } from '../auth/principal.js'
import type { PrismaClient } from '../db/database.js'
import type { DirectSql } from '../db/direct-sql.js'
import type { Prisma } from '../generated/prisma/client.js'
import type { ConversationRecord, MessageDirection, MessageRecord, MessageStatus } from '../messages/message.records.js'
import { CONVERSATIONS } from '../messages/message.sql.js'

export interface ConversationFilter {
  /** Digits to look for in the phone number. */
  phoneDigits?: string
  requestId?: number
  lastMessageDirection?: MessageDirection
  lastMessageStatus?: MessageStatus
  /** Text to find in any message of the conversation (case-insensitive). */
  search?: string
  updatedSince?: Date
  /** Conversations of this business number. */
  businessPhoneNumberId?: string
  /** Only the caller's numbers (null: every number). */
  scope?: NumberScope
}

/** The sort key of a conversation in lists: last message time (ms, or null), then id. */
export type ConversationCursor = [number | null, number]

function conversationWhere(f: ConversationFilter): Prisma.ConversationWhereInput {
  const lastMessage =
    f.lastMessageDirection || f.lastMessageStatus
      ? {
          is: {
            ...(f.lastMessageDirection ? { direction: f.lastMessageDirection } : {}),
            ...(f.lastMessageStatus ? { status: f.lastMessageStatus } : {}),
          },
        }
      : undefined
  return {
    // The number as sent to, or the customer's WhatsApp id when Meta answered with another.
    ...(f.phoneDigits
      ? { OR: [{ phoneNumber: { contains: f.phoneDigits } }, { waId: { contains: f.phoneDigits } }] }
      : {}),
    ...(f.requestId ? { requestId: f.requestId } : {}),
    ...(lastMessage ? { lastMessage } : {}),
    ...(f.search ? { messages: { some: { content: { contains: f.search, mode: 'insensitive' as const } } } } : {}),
    ...(f.updatedSince ? { updatedAt: { gte: f.updatedSince } } : {}),
    ...(f.businessPhoneNumberId || f.scope
      ? {
          AND: [
            ...(f.businessPhoneNumberId ? [{ businessPhoneNumberId: f.businessPhoneNumberId }] : []),
            ...(f.scope ? [inScope(f.scope)] : []),
          ],
        }
      : {}),
  }
}

/** Only conversations of the caller's numbers: a filter in the query, never after it. */
const inScope = (scope: NumberScope) => (scope === null ? {} : { businessPhoneNumberId: { in: scope } })

const CONVERSATION_COLUMNS = CONVERSATIONS.sql()

/** Messages shown as bubbles: a reaction is shown on the message it reacts to instead. */
const BUBBLES = { type: { not: 'reaction' } } as const

/**
 * Conversations: finding a customer's (by hand: every inbound message does), counts for pages. The
 * dashboards' hot reads are ConversationReadRepository's; messages are written by
 * messages/message.repository.ts.
 */
export class ConversationRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: DirectSql,
  ) {}

  /** The conversation, when it exists and belongs to one of the `scope` numbers (null: any). */
  findById(id: number, scope: NumberScope = null): Promise<ConversationRecord | null> {
    // findUnique: Prisma batches those of one tick into one query.
    return this.prisma.conversation.findUnique({ where: { id, ...inScope(scope) } })
  }

  /**
   * The conversation of business number `from` that sends to `phoneNumber` go to: the one with
   * that number, else the one whose customer has that WhatsApp id.
   */
  async findByPhoneNumber(from: string, phoneNumber: string): Promise<ConversationRecord | null> {
    const matches = await this.prisma.conversation.findMany({
      where: { businessPhoneNumberId: from, OR: [{ phoneNumber }, { waId: phoneNumber }] },
    })
    return matches.find((c) => c.phoneNumber === phoneNumber) ?? matches[0] ?? null
  }

  /** How many conversations match `filter`. */
  count(filter: ConversationFilter): Promise<number> {
    return this.prisma.conversation.count({ where: conversationWhere(filter) })
  }

  /** The business number of each conversation, in one query (for DataLoader). */
  async numbersOf(ids: readonly number[]): Promise<Map<number, string | null>> {
    const rows = await this.prisma.conversation.findMany({
      where: { id: { in: [...ids] } },
      select: { id: true, businessPhoneNumberId: true },
    })
    return new Map(rows.map((r) => [r.id, r.businessPhoneNumberId]))
  }

  /** How many messages a conversation has. */
  countMessagesOf(conversationId: number): Promise<number> {
    return this.prisma.message.count({ where: { conversationId, ...BUBBLES } })
  }

  /** Messages by id, in one query (for DataLoader). */
  findMessages(ids: readonly number[]): Promise<MessageRecord[]> {
    return this.prisma.message.findMany({ where: { id: { in: [...ids] } } }) as Promise<MessageRecord[]>
  }

  /** Message counts of conversations, in one query (for DataLoader). */
  async countMessages(conversationIds: readonly number[]): Promise<Map<number, number>> {
    const groups = await this.prisma.message.groupBy({
      by: ['conversationId'],
      where: { conversationId: { in: [...conversationIds] }, ...BUBBLES },
      _count: { _all: true },
    })
    return new Map(groups.map((g) => [g.conversationId, g._count._all]))
  }

  /**
   * The conversation of a customer who wrote to us `from` their WhatsApp id (or, for username-only
   * users, with only a user id): by that WhatsApp id, else a conversation with that number, else
   * by user id; created when there is none. Keeps the latest profile name, and the WhatsApp id and
   * user id the customer wrote with when the conversation has none yet. This runs for every
   * inbound message: hand-written statements, one when nothing changes.
   */
  async findOrCreateForSender(sender: {
    /** The business number written to: each has its own conversation with a customer. */
    businessPhoneNumberId: string
    from: string | null
    waUserId: string | null
    contactName: string | null
  }): Promise<ConversationRecord> {
    const { businessPhoneNumberId: number, from, waUserId, contactName } = sender
    if (!from && !waUserId) throw new Error('an inbound sender has neither a WhatsApp id nor a user id')
    const existing =
      (await this.findSender(number, from, waUserId)) ?? (await this.createForSender(number, from, waUserId))
    // An id another conversation already holds stays there: taking it would fail the unique index
    // and lose the message (e.g. the customer wrote as a username user before we knew their number).
    const free = async (column: 'wa_id' | 'wa_user_id', held: string | null, value: string | null) =>
      value !== null &&
      held === null &&
      (
        await this.sql.rows(
          `SELECT 1 FROM conversations WHERE business_phone_number_id = $1 AND ${column} = $2 LIMIT 1`,
          [number, value],
        )
      ).length === 0
    const set = new Map<string, string>()
    if (contactName && contactName !== existing.contactName) set.set('contact_name', contactName)
    if (await free('wa_id', existing.waId, from)) set.set('wa_id', from!)
    if (await free('wa_user_id', existing.waUserId, waUserId)) set.set('wa_user_id', waUserId!)
    if (set.size === 0) return existing
    const columns = [...set.keys()].map((column, i) => `${column} = $${i + 2}`)
    const [updated] = await this.sql.rows<ConversationRecord>(
      `UPDATE conversations c SET ${columns.join(', ')}, updated_at = now() WHERE c.id = $1 RETURNING ${CONVERSATION_COLUMNS}`,
      [existing.id, ...set.values()],
    )
    return updated
  }

  private async findSender(
    number: string,
    from: string | null,
    waUserId: string | null,
  ): Promise<ConversationRecord | null> {
    // Each of the three is a unique index of its own: at most three rows.
    const matches = await this.sql.rows<ConversationRecord>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c
       WHERE c.business_phone_number_id = $1 AND (c.wa_id = $2 OR c.phone_number = $2 OR c.wa_user_id = $3)`,
      [number, from, waUserId],
    )
    return (
      matches.find((c) => from && c.waId === from) ??
      matches.find((c) => from && c.phoneNumber === from) ??
      matches[0] ??
      null
    )
  }

  /**
   * Creates the conversation of a customer writing for the first time. A read-then-write would race
   * concurrent first messages from one customer; INSERT … ON CONFLICT DO NOTHING cannot, and the
   * conversation is read back either way.
   */
  private async createForSender(
    number: string,
    from: string | null,
    waUserId: string | null,
  ): Promise<ConversationRecord> {
    await this.sql.rows(
      `INSERT INTO conversations (business_phone_number_id, phone_number, wa_id, wa_user_id, updated_at)
       VALUES ($1, $2, $2, $3, now())
       ON CONFLICT DO NOTHING`,
      [number, from, waUserId],
    )
    return (await this.findSender(number, from, waUserId))!
  }

  /** Records that the customer's messages up to `messageId` were read (never moves back). */
  async recordRead(conversationId: number, messageId: number, at: Date): Promise<ConversationRecord> {
    await this.prisma.$executeRaw`
      UPDATE conversations SET last_read_message_id = ${messageId}, last_read_at = ${at}, updated_at = now()
      WHERE id = ${conversationId} AND (last_read_message_id IS NULL OR last_read_message_id <= ${messageId})`
    return this.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } })
  }

  /** Inbound messages newer than the last read one, per conversation, in one query (for DataLoader). */
  async unreadCounts(conversationIds: readonly number[]): Promise<Map<number, number>> {
    const rows = await this.prisma.$queryRaw<{ id: number; unread: number }[]>`
      SELECT c.id, count(m.id)::int AS unread
      FROM conversations c JOIN messages m ON m.conversation_id = c.id AND m.direction = 'inbound'
        AND m.id > COALESCE(c.last_read_message_id, 0) AND m.type <> 'reaction'
      WHERE c.id = ANY(${[...conversationIds]}::int[])
      GROUP BY c.id`
    return new Map(rows.map((r) => [r.id, r.unread]))
  }
}
