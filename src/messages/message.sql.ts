import { RecordColumns } from '../db/record-columns.js'
import { Prisma } from '../generated/prisma/client.js'
import type { ConversationRecord, MessageParts, MessageRecord } from './message.records.js'

// SQL pieces shared by the repositories that store and read messages (messages, batches, the
// dashboards' reads). Only repositories import this file.

const CONVERSATION_FIELDS = [
  ['id', 'id'],
  ['business_phone_number_id', 'businessPhoneNumberId'],
  ['phone_number', 'phoneNumber'],
  ['wa_id', 'waId'],
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

/** Conversations read by hand: their id and place in lists are read whatever is asked. */
export const CONVERSATIONS = new RecordColumns<ConversationRecord>(CONVERSATION_FIELDS, 'c', ['id', 'lastMessageAt'])

/** A `conversations` row (alias `c`) for Prisma's raw statements, each field named `prefix` + field. */
export const conversationColumns = (prefix = '') => Prisma.raw(CONVERSATIONS.sql({ prefix }))

/** The conversation in a row whose fields for it are named `conversation.<field>` (see conversationColumns). */
export const conversationIn = CONVERSATIONS.reader({ prefix: 'conversation.' })

/** A `messages` column (`::text` for enums) and the MessageRecord field it fills. */
const MESSAGE_FIELDS = [
  ['id', 'id'],
  ['conversation_id', 'conversationId'],
  ['direction::text', 'direction'],
  ['type', 'type'],
  ['content', 'content'],
  ['template', 'template'],
  ['status::text', 'status'],
  ['wamid', 'wamid'],
  ['request_id', 'requestId'],
  ['payload', 'payload'],
  ['sent_by_customer_at', 'sentByCustomerAt'],
  ['sent_at', 'sentAt'],
  ['delivered_at', 'deliveredAt'],
  ['read_at', 'readAt'],
  ['failed_at', 'failedAt'],
  ['error_code', 'errorCode'],
  ['error_message', 'errorMessage'],
  ['error_details', 'errorDetails'],
  ['error_trace_id', 'errorTraceId'],
  ['attempted_at', 'attemptedAt'],
  ['batch_id', 'batchId'],
  ['recipient', 'recipient'],
  ['media_id', 'mediaId'],
  ['filename', 'filename'],
  ['location', 'location'],
  ['interactive', 'interactive'],
  ['contacts', 'contacts'],
  ['reply_to_wamid', 'replyToWamid'],
  ['reply_to_message_id', 'replyToMessageId'],
  ['sent_by', 'sentBy'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
] as const

/** Messages read by hand: their id (their place in pages) and conversation are read whatever is asked. */
export const MESSAGES = new RecordColumns<MessageRecord>(MESSAGE_FIELDS, 'm', ['id', 'conversationId'])

/** A `messages` row (alias `m`) as a MessageRecord, for Prisma's raw statements. */
export const MESSAGE_COLUMNS = Prisma.raw(MESSAGES.sql())

/** A message's optional parts as statement parameters (JSON as text: see MessageRepository.addToNumbers). */
export function partsOf(m: MessageParts) {
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

/** The columns of {@link storeOutbound}'s `src` for messages that carry only text (templates). */
export const NO_PARTS_COLUMNS = Prisma.raw(
  `NULL::timestamptz AS attempted_at, NULL::text AS media_id, NULL::text AS filename, NULL::jsonb AS location,
   NULL::jsonb AS interactive, NULL::text AS reply_to_wamid, NULL::int AS reply_to_message_id`,
)

/**
 * In id order: rows of one statement are then most likely locked in that order, as by the other
 * instances' (a deadlock is still possible; PostgreSQL then refuses one, and each is retried alone).
 */
export const inIdOrder = <T extends { id: number }>(items: T[]) => [...items].sort((a, b) => a.id - b.id)

/**
 * The rest of the one statement that stores outbound messages (a send, a fan-out's recipients),
 * after a CTE `src` with a row per message: pos (request order), number (the business number it goes
 * from: each has its own conversations), phone (digits), request_id,
 * recipient (as the request gave it), batch_id, direction, type, content, template (jsonb), status,
 * sent_by (the key's name), and the parts (see NO_PARTS_COLUMNS). It creates each number's conversation when there is none
 * and moves its last activity to `at`; messages take their conversation's request id unless they
 * have their own. Defines CTEs `u` (src with the message ids), `c` (the conversations, `c.*`) and
 * `m` (the messages, returning `returning`) for the caller's final SELECT.
 *
 * Message ids are drawn first, in request order, so that each conversation row is written once,
 * already pointing at its newest message (a second UPDATE of an upserted row in one statement
 * would be ignored); foreign keys are checked at the end of the statement. Conversations are
 * upserted in phone number order, as by every statement that writes several: concurrent writers
 * lock them in one order, so they cannot deadlock.
 */
export function storeOutbound(at: Prisma.Sql, returning: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`u AS (
      SELECT src.*, nextval(pg_get_serial_sequence('messages', 'id'))::int AS id,
             -- A reaction shows on the message it reacts to: it is no conversation's last message.
             src.type <> 'reaction' AS bubble,
             -- The conversation's number: the one sent to, else that of the conversation whose
             -- customer has this WhatsApp id (Meta answered an earlier send to another number with it).
             CASE WHEN EXISTS (SELECT 1 FROM conversations k
                               WHERE k.business_phone_number_id = src.number AND k.phone_number = src.phone) THEN src.phone
                  ELSE COALESCE((SELECT k.phone_number FROM conversations k
                                 WHERE k.business_phone_number_id = src.number AND k.wa_id = src.phone), src.phone)
             END AS conversation_phone
      FROM (SELECT * FROM src ORDER BY pos) src
    ), latest AS (
      -- Per conversation: the last request id the request gave it, and its newest message.
      SELECT number, conversation_phone AS phone,
             (array_agg(request_id ORDER BY pos DESC) FILTER (WHERE request_id IS NOT NULL))[1] AS request_id,
             max(id) FILTER (WHERE bubble) AS last_id
      FROM u GROUP BY number, conversation_phone
    ), c AS (
      INSERT INTO conversations AS c (business_phone_number_id, phone_number, request_id, last_message_at,
                                      last_message_id, updated_at)
      SELECT number, phone, request_id, CASE WHEN last_id IS NOT NULL THEN ${at}::timestamptz END, last_id, now()
      FROM latest ORDER BY number, phone
      ON CONFLICT (business_phone_number_id, phone_number) DO UPDATE
        SET request_id = COALESCE(EXCLUDED.request_id, c.request_id),
            last_message_at = GREATEST(c.last_message_at, EXCLUDED.last_message_at),
            last_message_id = GREATEST(c.last_message_id, EXCLUDED.last_message_id),
            updated_at = now()
      RETURNING c.*
    ), m AS (
      INSERT INTO messages (id, conversation_id, direction, type, content, template, status, request_id, batch_id,
                            recipient, attempted_at, media_id, filename, location, interactive, reply_to_wamid,
                            reply_to_message_id, sent_by, created_at, updated_at)
      SELECT u.id, c.id, u.direction::"MessageDirection", u.type, u.content, u.template, u.status::"MessageStatus",
             COALESCE(u.request_id, c.request_id), u.batch_id, u.recipient, u.attempted_at, u.media_id, u.filename,
             u.location, u.interactive, u.reply_to_wamid, u.reply_to_message_id, u.sent_by, ${at}::timestamptz,
             ${at}::timestamptz
      FROM u JOIN c ON c.business_phone_number_id = u.number AND c.phone_number = u.conversation_phone
      RETURNING ${returning}
    )`
}
