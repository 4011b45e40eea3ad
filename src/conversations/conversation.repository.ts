import type { PrismaClient } from '../db/database.js'
import type { InteractiveContent, LocationContent } from '../meta/meta.outgoing.js'
import type { InboundInteractiveReply } from '../meta/meta.webhooks.js'
import { Prisma } from '../generated/prisma/client.js'
import { Coalescer } from '../shared/coalescer.js'
import { statementRefused } from '../db/database.js'

export type MessageDirection = 'inbound' | 'outbound'
export type MessageStatus = 'pending' | 'unknown' | 'sent' | 'delivered' | 'read' | 'failed'

export interface ConversationRecord {
  id: number
  /** Digits only, E.164 without `+`; null for customers Meta only knows by user id. */
  phoneNumber: string | null
  waUserId: string | null
  contactName: string | null
  requestId: number | null
  lastMessageAt: Date | null
  lastInboundAt: Date | null
  lastMessageId: number | null
  lastReadMessageId: number | null
  lastReadAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface MessageRecord {
  id: number
  conversationId: number
  direction: MessageDirection
  type: string
  content: string | null
  template: unknown
  status: MessageStatus
  wamid: string | null
  requestId: number | null
  payload: unknown
  sentByCustomerAt: Date | null
  sentAt: Date | null
  deliveredAt: Date | null
  readAt: Date | null
  failedAt: Date | null
  errorCode: number | null
  errorMessage: string | null
  errorDetails: string | null
  errorTraceId: string | null
  attemptedAt: Date | null
  batchId: number | null
  recipient: string | null
  mediaId: string | null
  filename: string | null
  location: LocationContent | null
  /** Sent: our buttons or list. Received: the customer's answer. */
  interactive: InteractiveContent | InboundInteractiveReply | null
  contacts: Record<string, unknown>[] | null
  replyToWamid: string | null
  replyToMessageId: number | null
  createdAt: Date
  updatedAt: Date
}

/** What a message carries besides its text (all optional). */
export interface MessageParts {
  mediaId?: string | null
  filename?: string | null
  location?: LocationContent | null
  interactive?: InteractiveContent | InboundInteractiveReply | null
  contacts?: Record<string, unknown>[] | null
  /** The message it quotes, answers or reacts to. */
  replyToWamid?: string | null
  replyToMessageId?: number | null
}

export interface NewMessage extends MessageParts {
  direction: MessageDirection
  type: string
  content: string | null
  template?: object
  status: MessageStatus
  requestId?: number | null
  /** Outbound: set when Meta is about to be called for it. */
  attemptedAt?: Date | null
}

export interface NewInboundMessage extends MessageParts {
  wamid: string
  type: string
  content: string | null
  payload: object
  sentByCustomerAt: Date
}

export interface StatusUpdate {
  wamid: string
  status: 'sent' | 'delivered' | 'read' | 'failed'
  timestamp: Date
  error: { code: number | null; title: string; details: string | null } | null
  /** Our message id, when Meta echoed the callback data we sent with it. */
  messageId?: number | null
}

export type MessageOutcome =
  | { status: 'sent'; wamid: string }
  | { status: 'unknown'; errorMessage: string }
  | {
      status: 'failed'
      errorCode: number | null
      errorMessage: string
      errorDetails?: string | null
      errorTraceId?: string | null
    }

export interface ConversationFilter {
  /** Digits to look for in the phone number. */
  phoneDigits?: string
  requestId?: number
  lastMessageDirection?: MessageDirection
  lastMessageStatus?: MessageStatus
  /** Text to find in any message of the conversation (case-insensitive). */
  search?: string
  updatedSince?: Date
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
    ...(f.phoneDigits ? { phoneNumber: { contains: f.phoneDigits } } : {}),
    ...(f.requestId ? { requestId: f.requestId } : {}),
    ...(lastMessage ? { lastMessage } : {}),
    ...(f.search ? { messages: { some: { content: { contains: f.search, mode: 'insensitive' as const } } } } : {}),
    ...(f.updatedSince ? { updatedAt: { gte: f.updatedSince } } : {}),
  }
}

const CONVERSATION_FIELDS = [
  ['id', 'id'],
  ['phone_number', 'phoneNumber'],
  ['wa_user_id', 'waUserId'],
  ['contact_name', 'contactName'],
  ['request_id', 'requestId'],
  ['last_message_at', 'lastMessageAt'],
  ['last_inbound_at', 'lastInboundAt'],
  ['last_message_id', 'lastMessageId'],
  ['last_read_message_id', 'lastReadMessageId'],
  ['last_read_at', 'lastReadAt'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
] as const

/** A `conversations` row (alias `c`) as a {@link ConversationRecord}, for raw statements; `prefix` names its fields. */
const conversationColumns = (prefix = '') =>
  Prisma.raw(CONVERSATION_FIELDS.map(([column, field]) => `c.${column} AS "${prefix}${field}"`).join(', '))

/** The conversation in a row whose fields for it are named `conversation.<field>` (see conversationColumns). */
function conversationIn(row: Record<string, unknown>): ConversationRecord {
  return Object.fromEntries(
    CONVERSATION_FIELDS.map(([, field]) => [field, row[`conversation.${field}`]]),
  ) as unknown as ConversationRecord
}

/** A `messages` row (alias `m`) as a {@link MessageRecord}, for raw statements. */
const MESSAGE_COLUMNS = Prisma.raw(`m.id, m.conversation_id AS "conversationId", m.direction::text AS direction, m.type,
  m.content, m.template, m.status::text AS status, m.wamid, m.request_id AS "requestId", m.payload,
  m.sent_by_customer_at AS "sentByCustomerAt", m.sent_at AS "sentAt", m.delivered_at AS "deliveredAt",
  m.read_at AS "readAt", m.failed_at AS "failedAt", m.error_code AS "errorCode", m.error_message AS "errorMessage",
  m.error_details AS "errorDetails", m.error_trace_id AS "errorTraceId", m.attempted_at AS "attemptedAt",
  m.batch_id AS "batchId", m.recipient, m.media_id AS "mediaId", m.filename, m.location, m.interactive, m.contacts,
  m.reply_to_wamid AS "replyToWamid", m.reply_to_message_id AS "replyToMessageId",
  m.created_at AS "createdAt", m.updated_at AS "updatedAt"`)

/** A message's optional parts as statement parameters (JSON as text: see addMessagesToNumbers). */
function partsOf(m: MessageParts) {
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v))
  return {
    mediaId: m.mediaId ?? null,
    filename: m.filename ?? null,
    location: json(m.location),
    interactive: json(m.interactive),
    contacts: json(m.contacts),
    replyToWamid: m.replyToWamid ?? null,
    replyToMessageId: m.replyToMessageId ?? null,
  }
}

/** The parts of a message that carries only text (a template). */
export const NO_PARTS = {
  mediaId: null,
  filename: null,
  location: null,
  interactive: null,
  contacts: null,
  replyToWamid: null,
  replyToMessageId: null,
} as const satisfies Required<MessageParts>

/** Messages shown as bubbles: a reaction is shown on the message it reacts to instead. */
const BUBBLES = { type: { not: 'reaction' } } as const

/**
 * In id order: rows of one statement are then most likely locked in that order, as by the other
 * instances' (a deadlock is still possible; PostgreSQL then refuses one, and each is retried alone).
 */
const inIdOrder = <T extends { id: number }>(items: T[]) => [...items].sort((a, b) => a.id - b.id)

interface KeptStatusRow {
  id: number
  status: string
  timestamp: string | Date
  errors: unknown
}

function keptStatus(wamid: string, row: KeptStatusRow & { timestamp: Date }): StatusUpdate {
  return {
    wamid,
    status: row.status as StatusUpdate['status'],
    timestamp: row.timestamp,
    error: (row.errors as StatusUpdate['error']) ?? null,
  }
}

/** The order statuses move in; `failed` is final. */
const STATUS_RANK = { pending: 0, unknown: 1, sent: 2, delivered: 3, read: 4, failed: 5 } as const

/** Conversations and their messages. The only code that talks to Prisma about them. */
export class ConversationRepository {
  constructor(private readonly prisma: PrismaClient) {}

  findById(id: number): Promise<ConversationRecord | null> {
    return this.prisma.conversation.findUnique({ where: { id } })
  }

  findByPhoneNumber(phoneNumber: string): Promise<ConversationRecord | null> {
    return this.prisma.conversation.findUnique({ where: { phoneNumber } })
  }

  /**
   * One page of conversations, newest activity first (last message time, then id), after the
   * sort key `after`; `first + 1` rows are read to know whether more follow.
   */
  async page(
    filter: ConversationFilter,
    first: number,
    after: ConversationCursor | null,
  ): Promise<ConversationRecord[]> {
    const where = conversationWhere(filter)
    const keyset: Prisma.ConversationWhereInput | undefined = after
      ? after[0] === null
        ? { lastMessageAt: null, id: { lt: after[1] } }
        : {
            OR: [
              { lastMessageAt: { lt: new Date(after[0]) } },
              { lastMessageAt: new Date(after[0]), id: { lt: after[1] } },
              { lastMessageAt: null },
            ],
          }
      : undefined
    return this.prisma.conversation.findMany({
      where: keyset ? { AND: [where, keyset] } : where,
      orderBy: [{ lastMessageAt: { sort: 'desc', nulls: 'last' } }, { id: 'desc' }],
      take: first + 1,
    })
  }

  /** How many conversations match `filter`. */
  count(filter: ConversationFilter): Promise<number> {
    return this.prisma.conversation.count({ where: conversationWhere(filter) })
  }

  /** One page of a conversation's messages, newest first, after message id `after`. */
  async messagePage(conversationId: number, first: number, after: number | null): Promise<MessageRecord[]> {
    return (await this.prisma.message.findMany({
      where: { conversationId, ...BUBBLES, ...(after ? { id: { lt: after } } : {}) },
      orderBy: { id: 'desc' },
      take: first + 1,
    })) as MessageRecord[]
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
   * Stores a new outbound message to `phoneNumber` in its conversation — created if there is none,
   * linked to `requestId` when one is given — and moves the conversation's last activity. The
   * message takes the conversation's request id unless it has its own. This runs for every send
   * to a number, so concurrent calls share one statement (one per number at a time).
   */
  addMessageToNumber(
    phoneNumber: string,
    requestId: number | null,
    message: Omit<NewMessage, 'requestId'>,
  ): Promise<{ conversation: ConversationRecord; message: MessageRecord }> {
    return this.numberMessages.run({ phoneNumber, requestId, message })
  }

  private readonly numberMessages = new Coalescer(
    (sends: { phoneNumber: string; requestId: number | null; message: Omit<NewMessage, 'requestId'> }[]) =>
      this.addMessagesToNumbers(sends),
    // Two rows for one number in one upsert would be refused ("cannot affect row a second time").
    { key: (send) => send.phoneNumber, retryAlone: statementRefused },
  )

  private async addMessagesToNumbers(
    sends: { phoneNumber: string; requestId: number | null; message: Omit<NewMessage, 'requestId'> }[],
  ): Promise<{ conversation: ConversationRecord; message: MessageRecord }[]> {
    const now = new Date()
    // Text goes in as text arrays, not inside JSON: PostgreSQL's JSON refuses a lone UTF-16
    // surrogate that a text parameter stores (as U+FFFD), and one such text must not fail a send.
    const column = <T>(pick: (send: (typeof sends)[number]) => T) => sends.map(pick)
    const ords = sends.map((_, ord) => ord)
    const phones = column((s) => s.phoneNumber)
    const requestIds = column((s) => s.requestId)
    const directions = column((s) => s.message.direction)
    const types = column((s) => s.message.type)
    const contents = column((s) => s.message.content)
    const templates = column((s) => (s.message.template === undefined ? null : JSON.stringify(s.message.template)))
    const statuses = column((s) => s.message.status)
    const attemptedAts = column((s) => s.message.attemptedAt?.toISOString() ?? null)
    const parts = sends.map((s) => partsOf(s.message))
    const part = <K extends keyof ReturnType<typeof partsOf>>(key: K) => parts.map((p) => p[key])
    // Message ids are drawn first so that each conversation row is written once, already pointing
    // at its new last message (a second UPDATE of an upserted row in the same statement would be
    // ignored). Foreign keys are checked at the end of the statement. Conversations are written in
    // phone number order, as by every statement that writes several (no deadlocks between them).
    const rows = await this.prisma.$queryRaw<Record<string, unknown>[]>`
      WITH v AS (
        SELECT v.*, nextval(pg_get_serial_sequence('messages', 'id'))::int AS id,
               -- A reaction shows on the message it reacts to: it is no conversation's last message.
               v.type <> 'reaction' AS bubble
        FROM unnest(${ords}::int[], ${phones}::text[], ${requestIds}::int[], ${directions}::text[], ${types}::text[],
                    ${contents}::text[], ${templates}::text[], ${statuses}::text[], ${attemptedAts}::text[],
                    ${part('mediaId')}::text[], ${part('filename')}::text[], ${part('location')}::text[],
                    ${part('interactive')}::text[], ${part('replyToWamid')}::text[], ${part('replyToMessageId')}::int[])
               AS v(ord, phone, request_id, direction, type, content, template, status, attempted_at,
                    media_id, filename, location, interactive, reply_to_wamid, reply_to_message_id)
      ), c AS (
        INSERT INTO conversations AS c (phone_number, request_id, last_message_at, last_message_id, updated_at)
        SELECT v.phone, v.request_id, CASE WHEN v.bubble THEN ${now}::timestamptz END,
               CASE WHEN v.bubble THEN v.id END, now()
        FROM v ORDER BY v.phone
        ON CONFLICT (phone_number) DO UPDATE
          SET request_id = COALESCE(EXCLUDED.request_id, c.request_id),
              last_message_at = GREATEST(c.last_message_at, EXCLUDED.last_message_at),
              last_message_id = GREATEST(c.last_message_id, EXCLUDED.last_message_id),
              updated_at = now()
        RETURNING c.*
      ), m AS (
        INSERT INTO messages (id, conversation_id, direction, type, content, template, status, request_id,
                              attempted_at, media_id, filename, location, interactive, reply_to_wamid,
                              reply_to_message_id, created_at, updated_at)
        SELECT v.id, c.id, v.direction::"MessageDirection", v.type, v.content, v.template::jsonb,
               v.status::"MessageStatus", COALESCE(v.request_id, c.request_id), v.attempted_at::timestamptz,
               v.media_id, v.filename, v.location::jsonb, v.interactive::jsonb, v.reply_to_wamid,
               v.reply_to_message_id, ${now}, ${now}
        FROM v JOIN c ON c.phone_number = v.phone
        RETURNING *
      )
      SELECT v.ord AS "ord", ${MESSAGE_COLUMNS}, ${conversationColumns('conversation.')}
      FROM m JOIN c ON c.id = m.conversation_id JOIN v ON v.id = m.id`
    const byOrd = new Map(rows.map((row) => [row.ord as number, row]))
    return sends.map((_, ord) => {
      const row = byOrd.get(ord)!
      const message = Object.fromEntries(
        Object.entries(row).filter(([key]) => key !== 'ord' && !key.startsWith('conversation.')),
      ) as unknown as MessageRecord
      return { conversation: conversationIn(row), message }
    })
  }

  /**
   * Creates the conversation unless one has this phone number or user id. Prisma's upsert is a
   * read-then-write here, which concurrent first messages from one customer race; INSERT … ON
   * CONFLICT DO NOTHING cannot race.
   */
  private async ensureConversation(phoneNumber: string | null, waUserId: string | null): Promise<void> {
    await this.prisma.$executeRaw`
      INSERT INTO conversations (phone_number, wa_user_id, updated_at)
      VALUES (${phoneNumber}, ${waUserId}, now())
      ON CONFLICT DO NOTHING`
  }

  /**
   * Stores a message and moves the conversation's last activity, in one statement (this runs for
   * every send: one round trip, not a four-statement transaction).
   */
  async addMessage(conversationId: number, message: NewMessage): Promise<MessageRecord> {
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
    const from: MessageStatus[] = outcome.status === 'unknown' ? ['pending'] : ['pending', 'unknown']
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
      return (await this.findMessage(messageId))!
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
      where: { id: messageId, wamid: null, direction: 'outbound', status: { in: ['pending', 'unknown'] } },
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
   * The conversation of a customer who wrote to us: by phone number, else by Meta's user id (for
   * username-only users). Keeps the latest profile name and user id.
   */
  async findOrCreateForSender(sender: {
    phoneNumber: string | null
    waUserId: string | null
    contactName: string | null
  }): Promise<ConversationRecord> {
    const { phoneNumber, waUserId, contactName } = sender
    if (!phoneNumber && !waUserId) throw new Error('an inbound sender has neither a phone number nor a user id')
    await this.ensureConversation(phoneNumber, waUserId)
    const existing =
      (phoneNumber && (await this.prisma.conversation.findUnique({ where: { phoneNumber } }))) ||
      (await this.prisma.conversation.findUniqueOrThrow({ where: { waUserId: waUserId! } }))
    // A user id another conversation already holds (the customer wrote as a username user before
    // we knew their number) stays there: taking it would fail the unique index and lose the message.
    const userIdFree =
      waUserId && !existing.waUserId && !(await this.prisma.conversation.findUnique({ where: { waUserId } }))
    const data = {
      ...(contactName && contactName !== existing.contactName ? { contactName } : {}),
      ...(userIdFree ? { waUserId } : {}),
    }
    return Object.keys(data).length ? this.prisma.conversation.update({ where: { id: existing.id }, data }) : existing
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
                             ${column((u) => u.status)}::text[], ${column((u) => STATUS_RANK[u.status])}::int[],
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
          CASE WHEN c.status <> 'failed'
                AND v.rank > (CASE c.status WHEN 'pending' THEN 0 WHEN 'unknown' THEN 1
                                            WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 ELSE 5 END)
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

  /** Keeps a status for a wamid no message has yet. */
  async savePendingStatus(update: StatusUpdate): Promise<void> {
    await this.prisma.pendingStatus.create({
      data: {
        wamid: update.wamid,
        status: update.status,
        timestamp: update.timestamp,
        errors: update.error ?? undefined,
      },
    })
  }

  /** Forgets kept statuses older than `before` (for messages sent from elsewhere, they never match). */
  async dropPendingStatusesBefore(before: Date): Promise<number> {
    const { count } = await this.prisma.pendingStatus.deleteMany({ where: { createdAt: { lt: before } } })
    return count
  }

  /** Removes and returns the statuses kept for `wamid` (one statement). */
  async takePendingStatuses(wamid: string): Promise<StatusUpdate[]> {
    const rows = await this.prisma.$queryRaw<
      { id: number; wamid: string; status: string; timestamp: Date; errors: unknown }[]
    >`
      DELETE FROM pending_statuses WHERE wamid = ${wamid} RETURNING id, wamid, status, timestamp, errors`
    return rows.sort((a, b) => a.id - b.id).map((r) => keptStatus(wamid, r))
  }

  /**
   * Records that Meta took message `messageId` as `wamid`, and takes the statuses kept for that
   * wamid (they arrived before we knew it). `message` is null when the message had been settled
   * already (by a status webhook that found it through our callback data): then use
   * {@link recordOutcome}. Runs after every send, so concurrent calls share one statement.
   */
  recordSent(messageId: number, wamid: string): Promise<{ message: MessageRecord | null; kept: StatusUpdate[] }> {
    return this.sentRecords.run({ id: messageId, wamid })
  }

  private readonly sentRecords = new Coalescer((sends: { id: number; wamid: string }[]) => this.recordSentMany(sends), {
    key: (send) => send.id,
    retryAlone: statementRefused,
  })

  private async recordSentMany(sends: { id: number; wamid: string }[]) {
    const rows = await this.prisma.$queryRaw<(MessageRecord & { forId: number; kept: KeptStatusRow[] | null })[]>`
      WITH v AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(inIdOrder(sends))}::jsonb) AS v(id int, wamid text)
      ), taken AS (
        DELETE FROM pending_statuses p USING v WHERE p.wamid = v.wamid
        RETURNING p.id, p.wamid, p.status, p.timestamp, p.errors
      ), m AS (
        UPDATE messages m SET status = 'sent', wamid = v.wamid, updated_at = now()
        FROM v WHERE m.id = v.id AND m.status IN ('pending', 'unknown')
        RETURNING m.*
      )
      SELECT v.id AS "forId", ${MESSAGE_COLUMNS},
        (SELECT json_agg(json_build_object('id', t.id, 'status', t.status, 'timestamp', t.timestamp, 'errors', t.errors)
                         ORDER BY t.id) FROM taken t WHERE t.wamid = v.wamid) AS kept
      FROM v LEFT JOIN m ON m.id = v.id`
    const byId = new Map(rows.map((row) => [row.forId, row]))
    return sends.map(({ id, wamid }) => {
      const { forId: _, kept, ...message } = byId.get(id)!
      return {
        message: message.id === null ? null : (message as MessageRecord),
        kept: (kept ?? []).map((r) => keptStatus(wamid, { ...r, timestamp: new Date(r.timestamp) })),
      }
    })
  }

  /** The messages carrying a file. */
  messagesWithMedia(mediaId: string): Promise<{ id: number; conversationId: number }[]> {
    return this.prisma.message.findMany({ where: { mediaId }, select: { id: true, conversationId: true } })
  }

  /** The customer's latest message in a conversation. */
  async latestInbound(conversationId: number): Promise<MessageRecord | null> {
    return (await this.prisma.message.findFirst({
      where: { conversationId, direction: 'inbound', wamid: { not: null } },
      orderBy: { id: 'desc' },
    })) as MessageRecord | null
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

  findMessageByWamid(wamid: string): Promise<MessageRecord | null> {
    return this.prisma.message.findUnique({ where: { wamid } }) as Promise<MessageRecord | null>
  }

  findMessage(id: number): Promise<MessageRecord | null> {
    return this.prisma.message.findUnique({ where: { id } }) as Promise<MessageRecord | null>
  }
}
