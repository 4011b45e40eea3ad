import type { NumberScope } from '../auth/principal.js'
import { z } from 'zod'
import { NotFoundError } from '../errors/errors.js'
import { idSchema } from '../shared/ids.js'
import { parseInput } from '../validation.js'
import type {
  ConversationFields,
  ConversationReadRepository,
  ListedMessage,
  MessageFields,
  NewestMessages,
} from './conversation-read.repository.js'
import type { ConversationCursor, ConversationRepository } from './conversation.repository.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { MessageRepository } from '../messages/message.repository.js'
import { MESSAGE_STATUSES } from '../messages/message-status.js'
import { cursorSchema, firstSchema, type Page, toPage } from '../shared/pagination.js'
import type { MediaRecord, MediaRepository } from '../media/media.repository.js'
import type { ReactionRecord, ReactionRepository } from '../messages/reaction.repository.js'

/** A row id inside a cursor: PostgreSQL `integer`. */
const dbId = z.number().int().min(1).max(2_147_483_647)

const lowercase = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v)

export const conversationFilterSchema = z
  .object(
    {
      // Any format a person types: +502 5555-0101, 55550101, (502) 5555…
      phoneNumber: z
        .string({ error: 'must be a string' })
        .transform((v) => v.replace(/\D/g, '').replace(/^00/, ''))
        .refine((digits) => digits.length >= 3, 'must have at least 3 digits'),
      requestId: idSchema,
      lastMessageDirection: z.preprocess(
        lowercase,
        z.enum(['inbound', 'outbound'], { error: 'must be INBOUND or OUTBOUND' }),
      ),
      lastMessageStatus: z.preprocess(
        lowercase,
        z.enum(MESSAGE_STATUSES, {
          error: `must be one of ${MESSAGE_STATUSES.map((s) => s.toUpperCase()).join(', ')}`,
        }),
      ),
      search: z.string({ error: 'must be a string' }).trim().min(2, 'must be at least 2 characters').max(200),
      businessPhoneNumberId: z
        .string({ error: 'must be a phone number id (digits)' })
        .regex(/^\d{1,32}$/, 'must be a phone number id (digits)'),
      updatedSince: z.coerce
        .date({ error: 'must be a date-time, e.g. 2026-03-03T10:30:00Z' })
        .min(new Date('2000-01-01T00:00:00Z'), 'must be a date-time after 2000')
        .max(new Date('9999-12-31T00:00:00Z'), 'must be a date-time before 9999'),
    },
    { error: 'must be an object' },
  )
  .partial()

export const conversationPageSchema = z.object({
  first: firstSchema,
  after: cursorSchema(z.tuple([z.number().int().min(0).max(8.64e15).nullable(), dbId])),
  filter: conversationFilterSchema.nullish(),
})

export const messagePageSchema = z.object({ first: firstSchema, after: cursorSchema(z.tuple([dbId])) })

/** What a message shows besides its own row: its file and its reactions. */
export interface MessageDetails {
  media: MediaRecord | null
  reactions: ReactionRecord[]
}

/** A page of messages, with each one's file and reactions when asked for. */
/** (Details not included are null / empty.) */
export type MessagePage = Page<MessageRecord> & { details: Map<number, MessageDetails> }

/** A page of conversations, with their last messages when asked for (by conversation id). */
export type ConversationPage = Page<ConversationRecord> & {
  lastMessages: Map<number, MessageRecord | null>
  /** Each one's page of messages, when they were read with the conversations. */
  messagePages?: Map<number, MessagePage>
}

/** A page of messages to read along with its conversations; undefined when its arguments are not valid. */
function newestMessages(
  args: { first?: unknown; after?: unknown },
  include: MessageFields,
): NewestMessages | undefined {
  const parsed = messagePageSchema.safeParse(args)
  if (!parsed.success) return undefined
  return { first: parsed.data.first, after: parsed.data.after?.[0] ?? null, include }
}

/** Reads for dashboards. */
export class ConversationService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly reads: ConversationReadRepository,
    private readonly messages: MessageRepository,
    private readonly media: MediaRepository,
    private readonly reactions: ReactionRepository,
  ) {}

  /** Each message's file and reactions, in two queries for any number of messages. */
  async details(messages: readonly MessageRecord[]): Promise<Map<number, MessageDetails>> {
    const mediaIds = [...new Set(messages.flatMap((m) => (m.mediaId ? [m.mediaId] : [])))]
    const wamids = messages.flatMap((m) => (m.wamid ? [m.wamid] : []))
    const [media, reactions] = await Promise.all([
      mediaIds.length ? this.media.findMany(mediaIds) : [],
      wamids.length ? this.reactions.forMessages(wamids) : new Map<string, ReactionRecord[]>(),
    ])
    const byId = new Map(media.map((m) => [m.id, m]))
    return new Map(
      messages.map((m) => [
        m.id,
        {
          media: (m.mediaId && byId.get(m.mediaId)) || null,
          reactions: (m.wamid && reactions.get(m.wamid)) || [],
        },
      ]),
    )
  }

  /** Unread inbound messages per conversation, in one query. */
  unreadCounts(conversationIds: readonly number[]): Promise<Map<number, number>> {
    return conversationIds.length ? this.conversations.unreadCounts(conversationIds) : Promise.resolve(new Map())
  }

  /** @throws NotFoundError for an unknown id. */
  async get(id: unknown, scope: NumberScope = null): Promise<ConversationRecord> {
    const conversationId = parseInput(idSchema, id, 'id')
    // Another number's conversation answers exactly as a missing one: no existence leak.
    const conversation = await this.reads.conversation(conversationId, scope)
    if (!conversation) throw new NotFoundError(`Conversation ${conversationId} does not exist`)
    return conversation
  }

  /**
   * Conversations, newest activity first, a page at a time (`first`, `after` a cursor), filtered;
   * reading the `fields` asked for (all by default), with each one's last message in the same
   * statement when they include it, and a page of each one's messages too when `messages` says
   * which (unless its arguments are not valid: its own field answers that).
   * @throws ValidationError for a bad page size, cursor or filter
   */
  async page(
    args: { first?: unknown; after?: unknown; filter?: unknown },
    scope: NumberScope = null,
    fields: ConversationFields = { conversation: null },
    messages?: { args: { first?: unknown; after?: unknown }; include: MessageFields },
  ): Promise<ConversationPage> {
    const { first, after, filter } = parseInput(conversationPageSchema, args)
    const f = filter ?? {}
    const filterBy = { ...f, phoneDigits: f.phoneNumber, scope }
    const newest = messages && newestMessages(messages.args, messages.include)
    const rows = await this.reads.page(
      filterBy,
      first,
      (after as ConversationCursor | null | undefined) ?? null,
      fields,
      newest,
    )
    const page = toPage(
      rows.map((r) => r.conversation),
      first,
      () => this.conversations.count(filterBy),
      (c) => [c.lastMessageAt?.getTime() ?? null, c.id],
    )
    const lastMessages = new Map(rows.map((r) => [r.conversation.id, r.lastMessage ?? null]))
    const messagePages =
      newest &&
      new Map(page.nodes.map((c, i) => [c.id, this.messagePageOf(c.id, rows[i].messages ?? [], newest.first)] as const))
    // (Object.assign: a spread would make the page's cursor, which is made only when asked for.)
    return Object.assign(page, { lastMessages, ...(messagePages && { messagePages }) })
  }

  /**
   * A conversation's messages, newest first, a page at a time, with their files and reactions
   * (all fields, files and reactions by default).
   * @throws ValidationError, NotFoundError (also for another number's conversation)
   */
  async messagePage(
    conversationId: unknown,
    args: { first?: unknown; after?: unknown },
    scope: NumberScope = null,
    include: MessageFields = { message: null, media: true, reactions: true },
  ): Promise<MessagePage> {
    const id = parseInput(idSchema, conversationId, 'conversationId')
    if (!(await this.reads.conversation(id, scope))) throw new NotFoundError(`Conversation ${id} does not exist`)
    return (await this.messagePages([id], args, include)).get(id)!
  }

  /**
   * A page of messages of each of `conversationIds` (already read, so known to exist and be the
   * caller's), in one statement: a list of conversations with their latest messages.
   * @throws ValidationError
   */
  async messagePages(
    conversationIds: readonly number[],
    args: { first?: unknown; after?: unknown },
    include: MessageFields,
  ): Promise<Map<number, MessagePage>> {
    const { first, after } = parseInput(messagePageSchema, args)
    const found = await this.reads.latestMessages(conversationIds, first, after?.[0] ?? null, include)
    return new Map([...found].map(([id, rows]) => [id, this.messagePageOf(id, rows, first)]))
  }

  /**
   * A conversation with a page of its messages, in one statement (a thread): the conversation's
   * `fields` (null: all), and the page as {@link messagePages} reads it, or null when the page's
   * arguments are not valid (its own field answers that, as without the conversation).
   * @throws NotFoundError
   */
  async thread(
    id: unknown,
    scope: NumberScope,
    fields: ReadonlySet<string> | null,
    args: { first?: unknown; after?: unknown },
    include: MessageFields,
  ): Promise<{ conversation: ConversationRecord; page: MessagePage | null }> {
    const conversationId = parseInput(idSchema, id, 'id')
    const page = newestMessages(args, include)
    if (!page) return { conversation: await this.get(conversationId, scope), page: null }
    const found = await this.reads.conversationWithMessages(conversationId, scope, fields, page)
    if (!found) throw new NotFoundError(`Conversation ${conversationId} does not exist`)
    return { conversation: found.conversation, page: this.messagePageOf(conversationId, found.messages, page.first) }
  }

  private messagePageOf(conversationId: number, rows: ListedMessage[], first: number): MessagePage {
    const page = toPage(
      rows.map((r) => r.message),
      first,
      () => this.conversations.countMessagesOf(conversationId),
      (m) => [m.id],
    )
    // Only when its files or reactions were read (a list's newest messages seldom ask).
    const detailed = rows.length > 0 && (rows[0].media !== undefined || rows[0].reactions !== undefined)
    const details = detailed
      ? new Map(
          rows.slice(0, first).map((r) => [r.message.id, { media: r.media ?? null, reactions: r.reactions ?? [] }]),
        )
      : new Map<number, MessageDetails>()
    return Object.assign(page, { details })
  }

  /** @throws NotFoundError */
  async message(id: unknown, scope: NumberScope = null): Promise<MessageRecord> {
    const messageId = parseInput(idSchema, id, 'id')
    const message = await this.messages.findById(messageId, scope)
    if (!message) throw new NotFoundError(`Message ${messageId} does not exist`)
    return message
  }

  /** @throws NotFoundError */
  async messageByWamid(wamid: unknown, scope: NumberScope = null): Promise<MessageRecord> {
    const value = parseInput(z.string({ error: 'must be a string' }).min(1).max(512), wamid, 'wamid')
    const message = await this.messages.findByWamid(value, scope)
    if (!message) throw new NotFoundError(`No message has wamid ${value}`)
    return message
  }
}
