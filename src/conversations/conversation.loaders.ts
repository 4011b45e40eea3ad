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
 * costs a constant number of queries, not one per conversation.
 */
export function createConversationLoaders(sources: LoaderSources, options: { cache?: boolean } = {}) {
  const { conversations, reads, media, reactions, pages } = sources
  // One loader per page asked for (size, cursor, details): a list's conversations each ask the same.
  const pageLoaders = new Map<string, DataLoader<number, MessagePage>>()
  const counts = (count: (ids: readonly number[]) => Promise<Map<number, number>>) =>
    new DataLoader<number, number>(async (ids) => {
      const found = await count(ids)
      return ids.map((id) => found.get(id) ?? 0)
    }, options)
  // Each made on first use: most operations use one or two of them.
  const loaders = lazily({
    message: () =>
      new DataLoader<number, MessageRecord | null>(async (ids) => {
        const rows = new Map((await conversations.findMessages(ids)).map((m) => [m.id, m]))
        return ids.map((id) => rows.get(id) ?? null)
      }, options),
    /** Conversations by id, without a check of the caller's numbers: for rows read with that check already. */
    conversation: () =>
      new DataLoader<number, ConversationRecord | null>(async (ids) => {
        const rows = new Map((await reads.conversations(ids)).map((c) => [c.id, c]))
        return ids.map((id) => rows.get(id) ?? null)
      }, options),
    /** The business number of each conversation (it never changes, so always cached). */
    numberOf: () =>
      new DataLoader<number, string | null>(async (ids) => {
        const found = await conversations.numbersOf(ids)
        return ids.map((id) => found.get(id) ?? null)
      }),
    messageCount: () => counts((ids) => conversations.countMessages(ids)),
    unreadCount: () => counts((ids) => conversations.unreadCounts(ids)),
    media: () =>
      new DataLoader<string, MediaRecord | null>(async (ids) => {
        const rows = new Map((await media.findMany(ids)).map((m) => [m.id, m]))
        return ids.map((id) => rows.get(id) ?? null)
      }, options),
    /** By the wamid of the message reacted to. */
    reactions: () =>
      new DataLoader<string, ReactionRecord[]>(async (wamids) => {
        const found = await reactions.forMessages(wamids)
        return wamids.map((wamid) => found.get(wamid) ?? [])
      }, options),
  })
  return Object.assign(loaders, {
    /** A page of messages of a conversation already read (so known to be the caller's). */
    messagePage(conversationId: number, args: PageArgs, include: MessageFields): Promise<MessagePage> {
      const fields = include.message && [...include.message].sort()
      const key = JSON.stringify([args.first ?? null, args.after ?? null, fields, include.media, include.reactions])
      let loader = pageLoaders.get(key)
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          const found = await pages.messagePages(ids, args, include)
          return ids.map((id) => found.get(id)!)
        }, options)
        pageLoaders.set(key, loader)
      }
      return loader.load(conversationId)
    },
  })
}

/** An object whose properties are made by `makers`, each on first read. */
function lazily<T extends object>(makers: { [K in keyof T]: () => T[K] }): T {
  const made: Partial<T> = {}
  const target = {} as T
  for (const key of Object.keys(makers) as (keyof T)[]) {
    Object.defineProperty(target, key, { enumerable: true, get: () => (made[key] ??= makers[key]()) })
  }
  return target
}

export type ConversationLoaders = ReturnType<typeof createConversationLoaders>

/** What a page read with its messages' files and reactions, so their fields need no statement of their own. */
export function primeDetails(loaders: ConversationLoaders, page: MessagePage, include: MessageFields): void {
  for (const message of page.nodes) {
    const details = page.details.get(message.id)
    if (!details) continue
    if (include.media && message.mediaId && details.media) loaders.media.prime(message.mediaId, details.media)
    if (include.reactions && message.wamid) loaders.reactions.prime(message.wamid, details.reactions)
  }
}
