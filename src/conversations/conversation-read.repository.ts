import type { NumberScope } from '../auth/principal.js'
import type { DirectSql } from '../db/direct-sql.js'
import { Columns } from '../db/record-columns.js'
import { MEDIA, type MediaRecord } from '../media/media.repository.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import { CONVERSATIONS, MESSAGES } from '../messages/message.sql.js'
import type { ReactionRecord } from '../messages/reaction.repository.js'
import type { ConversationCursor, ConversationFilter } from './conversation.repository.js'

/** A page's conversation, with its last message and its newest messages when asked for (null: it has none). */
export interface ListedConversation {
  conversation: ConversationRecord
  lastMessage?: MessageRecord | null
  messages?: ListedMessage[]
}

/** A page of each conversation's newest messages, read with them (see latestMessages). */
export interface NewestMessages {
  first: number
  after: number | null
  include: MessageFields
}

/** A page's message, with its file and reactions when asked for. */
export interface ListedMessage {
  message: MessageRecord
  media?: MediaRecord | null
  reactions?: ReactionRecord[]
}

// Files read with their messages (a page's details).
const MEDIA_COLUMNS = MEDIA.sql({ prefix: 'md.' })
const CONVERSATION_COLUMNS = CONVERSATIONS.sql()

/** The fields to read of a page's rows (null: all; a record then holds only those, see RecordColumns). */
export interface ConversationFields {
  conversation: ReadonlySet<string> | null
  /** Of each one's last message; undefined: not read. */
  lastMessage?: ReadonlySet<string> | null
}

/** The fields to read of a page's messages (null: all), and whether with files and reactions. */
export interface MessageFields {
  message: ReadonlySet<string> | null
  media: boolean
  reactions: boolean
}

/** Reactions as JSON (reactedAt a string, made a Date again below), oldest first, removals left out. */
const REACTIONS = `(SELECT json_agg(json_build_object('actor', r.actor, 'emoji', r.emoji, 'reactedAt', r.reacted_at,
  'wamid', r.wamid) ORDER BY r.reacted_at) FROM reactions r WHERE r.target_wamid = m.wamid AND r.emoji IS NOT NULL)`

/**
 * The dashboards' hot reads, one statement each, written by hand for the indexes they use: a page of
 * conversations (with each one's last message joined in), and the latest messages of one or many
 * conversations (with their files and reactions). Plans: BENCHMARKS.md, "Dashboard reads".
 */
export class ConversationReadRepository {
  constructor(private readonly db: DirectSql) {}

  /** The conversation, when it exists and belongs to one of the `scope` numbers (null: any). */
  async conversation(id: number, scope: NumberScope): Promise<ConversationRecord | null> {
    const [row] = await this.db.rows<ConversationRecord>(
      scope === null
        ? `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = $1::int`
        : `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = $1::int AND c.business_phone_number_id = ANY($2::text[])`,
      scope === null ? [id] : [id, scope],
    )
    return row ?? null
  }

  /** Conversations by id, in one statement (for DataLoader). */
  async conversations(ids: readonly number[]): Promise<ConversationRecord[]> {
    return this.db.rows<ConversationRecord>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ANY($1::int[])`,
      [ids],
    )
  }

  /**
   * One page of conversations, newest activity first (last message time, nulls last, then id),
   * after the sort key `after`; `first + 1` rows are read to know whether more follow. The order is
   * that of the index `conversations_last_message_at_id_idx`: PostgreSQL reads only the rows it returns.
   */
  async page(
    filter: ConversationFilter,
    first: number,
    after: ConversationCursor | null,
    fields: ConversationFields,
    messages?: NewestMessages,
  ): Promise<ListedConversation[]> {
    const values: unknown[] = []
    const param = (value: unknown, cast = '') => {
      values.push(value)
      return `$${values.length}${cast}`
    }
    const where: string[] = []
    if (filter.phoneDigits) {
      const digits = param(`%${filter.phoneDigits}%`)
      where.push(`(c.phone_number LIKE ${digits} OR c.wa_id LIKE ${digits})`)
    }
    if (filter.requestId) where.push(`c.request_id = ${param(filter.requestId, '::int')}`)
    if (filter.lastMessageDirection)
      where.push(`lm.direction = ${param(filter.lastMessageDirection, '::"MessageDirection"')}`)
    if (filter.lastMessageStatus) where.push(`lm.status = ${param(filter.lastMessageStatus, '::"MessageStatus"')}`)
    if (filter.search) {
      // `%` and `_` in the text match as in LIKE, as they always have here. With a filter on the
      // last message, the text is looked for only in conversations that pass it: the subquery names
      // the last message's conversation (so runs after it is checked) and stays a subquery (OFFSET
      // 0), so PostgreSQL walks the list in order and reads no conversation's messages for nothing.
      const filtered = filter.lastMessageDirection || filter.lastMessageStatus
      where.push(`EXISTS (SELECT 1 FROM messages s WHERE s.conversation_id = ${filtered ? 'lm.conversation_id' : 'c.id'}
        AND s.content ILIKE ${param(`%${filter.search}%`)}${filtered ? ' OFFSET 0' : ''})`)
    }
    if (filter.updatedSince) where.push(`c.updated_at >= ${param(filter.updatedSince, '::timestamptz')}`)
    if (filter.businessPhoneNumberId) where.push(`c.business_phone_number_id = ${param(filter.businessPhoneNumberId)}`)
    if (filter.scope) where.push(`c.business_phone_number_id = ANY(${param(filter.scope, '::text[]')})`)
    if (after) {
      const [at, id] = after
      const afterId = param(id, '::int')
      if (at === null) where.push(`c.last_message_at IS NULL AND c.id < ${afterId}`)
      else {
        const afterAt = param(new Date(at), '::timestamptz')
        where.push(`(c.last_message_at < ${afterAt} OR (c.last_message_at = ${afterAt} AND c.id < ${afterId})
          OR c.last_message_at IS NULL)`)
      }
    }
    const withLast = fields.lastMessage !== undefined
    const joined = withLast || filter.lastMessageDirection || filter.lastMessageStatus
    const lastMessage = { alias: 'lm', prefix: 'lm.', wanted: fields.lastMessage }
    const sql = `SELECT ${CONVERSATIONS.sql({ wanted: fields.conversation })}${withLast ? `, ${MESSAGES.sql(lastMessage)}` : ''}
       ${messages ? ', c.last_message_at AS "#at"' : ''}
       FROM conversations c${joined ? ' LEFT JOIN messages lm ON lm.id = c.last_message_id' : ''}
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC
       LIMIT ${param(first + 1, '::int')}`
    const listedIn = (columns: Columns) => {
      const conversationIn = CONVERSATIONS.tableReader(columns, { wanted: fields.conversation })
      if (!withLast) return (row: readonly unknown[]): ListedConversation => ({ conversation: conversationIn(row) })
      const messageIn = MESSAGES.tableReader(columns, lastMessage)
      const lastId = columns.at('lm.id')
      return (row: readonly unknown[]): ListedConversation => ({
        conversation: conversationIn(row),
        lastMessage: row[lastId] === null ? null : messageIn(row),
      })
    }
    if (!messages) {
      const { columns, rows } = await this.db.table(sql, values)
      return rows.map(listedIn(new Columns(columns)))
    }

    // With each one's newest messages: the page, then its messages joined to it (several rows per
    // conversation, in the page's order). The conversation's own columns come in its first row
    // only (null after: nothing to send and parse again).
    const read = messagesRead(messages.include, 'm.')
    const olderThan = messages.after === null ? null : param(messages.after, '::int')
    const once = [
      ...CONVERSATIONS.names({ wanted: fields.conversation }),
      ...(withLast ? MESSAGES.names(lastMessage) : []),
    ].map((name) =>
      name === 'id' ? 'page."id"' : `CASE WHEN m."#n" > 1 THEN NULL ELSE page."${name}" END AS "${name}"`,
    )
    const newest = newestMessages('page."id"', olderThan, param(messages.first + 1, '::int'), ROW_NUMBER)
    const table = await this.db.table(
      `SELECT ${once.join(', ')}, ${read.columns} FROM (${sql}) page
       LEFT JOIN LATERAL (${newest}) m ON true${read.joins}
       ORDER BY page."#at" DESC NULLS LAST, page."id" DESC, m.id DESC`,
      values,
    )
    const columns = new Columns(table.columns)
    const listedOf = listedIn(columns)
    const messageOf = read.reader(columns)
    const [id, messageId] = [columns.at('id'), columns.at('m.id')]
    const listed: ListedConversation[] = []
    for (const row of table.rows) {
      let last = listed[listed.length - 1]
      if (last?.conversation.id !== row[id]) listed.push((last = { ...listedOf(row), messages: [] }))
      if (row[messageId] !== null) last.messages!.push(messageOf(row))
    }
    return listed
  }

  /**
   * The newest `first + 1` messages shown as bubbles (reactions are shown on their message) of each
   * of `conversationIds`, older than message `after` when given: one statement for a whole list of
   * conversations (a dashboard's conversations with their latest messages). Newest first.
   */
  async latestMessages(
    conversationIds: readonly number[],
    first: number,
    after: number | null,
    include: MessageFields,
  ): Promise<Map<number, ListedMessage[]>> {
    const read = messagesRead(include)
    const table = await this.db.table(
      `SELECT ${read.columns}
       FROM unnest($1::int[]) AS k(id)
       CROSS JOIN LATERAL (${newestMessages('k.id', after === null ? null : '$3::int', '$2::int')}) m${read.joins}`,
      after === null ? [conversationIds, first + 1] : [conversationIds, first + 1, after],
    )
    const columns = new Columns(table.columns)
    const messageOf = read.reader(columns)
    const conversationId = columns.at('conversationId')
    const byConversation = new Map<number, ListedMessage[]>(conversationIds.map((id) => [id, []]))
    for (const row of table.rows) byConversation.get(row[conversationId] as number)!.push(messageOf(row))
    return byConversation
  }

  /**
   * A conversation (when it exists and belongs to one of the `scope` numbers) with its newest
   * messages as {@link latestMessages} reads them, in one statement: a dashboard's thread.
   */
  async conversationWithMessages(
    id: number,
    scope: NumberScope,
    fields: ReadonlySet<string> | null,
    page: { first: number; after: number | null; include: MessageFields },
  ): Promise<{ conversation: ConversationRecord; messages: ListedMessage[] } | null> {
    const read = messagesRead(page.include)
    const values: unknown[] = [id, page.first + 1]
    const param = (value: unknown, cast: string) => `$${values.push(value)}${cast}`
    const after = page.after === null ? null : param(page.after, '::int')
    const conversation = { prefix: 'c.', wanted: fields }
    // The conversation's columns in the first row only (null after: nothing to send and parse again).
    const once = { ...conversation, onlyWhen: 'COALESCE(m."#n", 1) = 1' }
    const { columns: names, rows } = await this.db.table(
      `SELECT ${CONVERSATIONS.sql(once)}, ${read.columns}
       FROM conversations c
       LEFT JOIN LATERAL (${newestMessages('c.id', after, '$2::int', ROW_NUMBER)}) m ON true${read.joins}
       WHERE c.id = $1::int${scope === null ? '' : ` AND c.business_phone_number_id = ANY(${param(scope, '::text[]')})`}
       ORDER BY m.id DESC`,
      values,
    )
    if (!rows.length) return null
    const columns = new Columns(names)
    return {
      conversation: CONVERSATIONS.tableReader(columns, conversation)(rows[0]),
      messages: rows[0][columns.at('id')] === null ? [] : rows.map(read.reader(columns)),
    }
  }
}

/** Each of {@link newestMessages}'s rows numbered, 1 the newest: `#n`. */
const ROW_NUMBER = ', row_number() OVER (ORDER BY m.id DESC) AS "#n"'

/** The newest messages shown as bubbles of conversation `conversation`, older than `after` if given. */
const newestMessages = (conversation: string, after: string | null, limit: string, extra = '') =>
  `SELECT *${extra} FROM messages m WHERE m.conversation_id = ${conversation} AND m.type <> 'reaction'${
    after === null ? '' : ` AND m.id < ${after}`
  } ORDER BY m.id DESC LIMIT ${limit}`

/** The SELECT list and joins of a page's messages (`m`, columns named `prefix` + field), and its rows made records. */
function messagesRead(include: MessageFields, prefix = '') {
  // What the files and reactions are read by, whatever was asked.
  const wanted =
    include.message &&
    new Set([...include.message, ...(include.media ? ['mediaId'] : []), ...(include.reactions ? ['wamid'] : [])])
  return {
    columns: `${MESSAGES.sql({ wanted, prefix })}${include.media ? `, ${MEDIA_COLUMNS}` : ''}${include.reactions ? `, ${REACTIONS} AS reactions` : ''}`,
    joins: include.media ? ' LEFT JOIN media md ON md.id = m.media_id' : '',
    /** The rows of a table read with these columns made messages. */
    reader(columns: Columns): (row: readonly unknown[]) => ListedMessage {
      const messageIn = MESSAGES.tableReader(columns, { wanted, prefix })
      const mediaIn = include.media ? MEDIA.tableReader(columns, { prefix: 'md.' }) : null
      const mediaId = include.media ? columns.at('md.id') : -1
      const [wamid, reactions] = include.reactions ? [columns.at(`${prefix}wamid`), columns.at('reactions')] : [-1, -1]
      return (row) => {
        const listed: ListedMessage = { message: messageIn(row) }
        if (mediaIn) listed.media = row[mediaId] === null ? null : mediaIn(row)
        if (include.reactions) listed.reactions = reactionsIn(row[wamid] as string, row[reactions])
        return listed
      }
    },
  }
}

function reactionsIn(targetWamid: string, json: unknown): ReactionRecord[] {
  if (!Array.isArray(json)) return []
  return json.map((r: { actor: string; emoji: string; reactedAt: string; wamid: string | null }) => ({
    targetWamid,
    actor: r.actor as ReactionRecord['actor'],
    emoji: r.emoji,
    reactedAt: new Date(r.reactedAt),
    wamid: r.wamid,
  }))
}
