import DataLoader from 'dataloader'
import type { MediaRecord, MediaRepository } from '../media/media.repository.js'
import type { ConversationRepository } from './conversation.repository.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { ConversationReadRepository, MessageFields } from './conversation-read.repository.js'
import type { ReactionRecord, ReactionRepository } from '../messages/reaction.repository.js'
import type { ConversationService, MessagePage } from './conversation.service.js'

export interface LoaderSources {
  conversations: ConversationRepository
  media: MediaRepository
  reactions: ReactionRepository
  reads: ConversationReadRepository
  /** Pages of messages of many conversations at once. */
  pages: Pick<ConversationService, 'messagePages'>
}

type PageArgs = { first?: number | null; after?: string | null }

/**
 * Per-request batching, so a list of conversations with their last message and message count
 * costs a constant number of queries, not one per conversation. Each loader is made on first use:
 * most operations use one or two of them.
 */
export class ConversationLoaders {
  #message?: DataLoader<number, MessageRecord | null>
  #conversation?: DataLoader<number, ConversationRecord | null>
  #numberOf?: DataLoader<number, string | null>
  #messageCount?: DataLoader<number, number>
  #unreadCount?: DataLoader<number, number>
  #media?: DataLoader<string, MediaRecord | null>
  #reactions?: DataLoader<string, ReactionRecord[]>
  /** One loader per page asked for (size, cursor, details): a list's conversations each ask the same. */
  #pages?: Map<string, DataLoader<number, MessagePage>>

  constructor(
    private readonly sources: LoaderSources,
    private readonly options: { cache?: boolean } = {},
  ) {}

  get message() {
    return (this.#message ??= this.byId((ids) => this.sources.conversations.findMessages(ids)))
  }

  /** Conversations by id, without a check of the caller's numbers: for rows read with that check already. */
  get conversation() {
    return (this.#conversation ??= this.byId((ids) => this.sources.reads.conversations(ids)))
  }

  /** The business number of each conversation (it never changes, so always cached). */
  get numberOf() {
    return (this.#numberOf ??= new DataLoader<number, string | null>(async (ids) => {
      const found = await this.sources.conversations.numbersOf(ids)
      return ids.map((id) => found.get(id) ?? null)
    }))
  }

  get messageCount() {
    return (this.#messageCount ??= this.counts((ids) => this.sources.conversations.countMessages(ids)))
  }

  get unreadCount() {
    return (this.#unreadCount ??= this.counts((ids) => this.sources.conversations.unreadCounts(ids)))
  }

  get media() {
    return (this.#media ??= this.byId((ids) => this.sources.media.findMany(ids)))
  }

  /** By the wamid of the message reacted to. */
  get reactions() {
    return (this.#reactions ??= new DataLoader<string, ReactionRecord[]>(async (wamids) => {
      const found = await this.sources.reactions.forMessages(wamids)
      return wamids.map((wamid) => found.get(wamid) ?? [])
    }, this.options))
  }

  /** A page of messages of a conversation already read (so known to be the caller's). */
  messagePage(conversationId: number, args: PageArgs, include: MessageFields): Promise<MessagePage> {
    return this.pageLoader(args, include).load(conversationId)
  }

  private pageLoader(args: PageArgs, include: MessageFields): DataLoader<number, MessagePage> {
    const fields = include.message && [...include.message].sort()
    const key = JSON.stringify([args.first ?? null, args.after ?? null, fields, include.media, include.reactions])
    this.#pages ??= new Map()
    let loader = this.#pages.get(key)
    if (!loader) {
      loader = new DataLoader(async (ids) => {
        const found = await this.sources.pages.messagePages(ids, args, include)
        return ids.map((id) => found.get(id)!)
      }, this.options)
      this.#pages.set(key, loader)
    }
    return loader
  }

  private byId<K, V extends { id: K }>(find: (ids: readonly K[]) => Promise<V[]>) {
    return new DataLoader<K, V | null>(async (ids) => {
      const rows = new Map((await find(ids)).map((row) => [row.id, row]))
      return ids.map((id) => rows.get(id) ?? null)
    }, this.options)
  }

  private counts(count: (ids: readonly number[]) => Promise<Map<number, number>>) {
    return new DataLoader<number, number>(async (ids) => {
      const found = await count(ids)
      return ids.map((id) => found.get(id) ?? 0)
    }, this.options)
  }
}

/** {@link ConversationLoaders} for one operation (`cache: false`: each load reads afresh). */
export function createConversationLoaders(sources: LoaderSources, options: { cache?: boolean } = {}) {
  return new ConversationLoaders(sources, options)
}
