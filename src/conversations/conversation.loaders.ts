import DataLoader from 'dataloader'
import type { MediaRecord, MediaRepository } from '../media/media.repository.js'
import type { ConversationRepository } from './conversation.repository.js'
import type { MessageRecord } from '../messages/message.records.js'
import type { ReactionRecord, ReactionRepository } from '../messages/reaction.repository.js'

export interface LoaderSources {
  conversations: ConversationRepository
  media: MediaRepository
  reactions: ReactionRepository
}

/**
 * Per-request batching, so a list of conversations with their last message and message count
 * costs a constant number of queries, not one per conversation.
 */
export function createConversationLoaders(sources: LoaderSources, options: { cache?: boolean } = {}) {
  const { conversations, media, reactions } = sources
  const counts = (count: (ids: readonly number[]) => Promise<Map<number, number>>) =>
    new DataLoader<number, number>(async (ids) => {
      const found = await count(ids)
      return ids.map((id) => found.get(id) ?? 0)
    }, options)
  return {
    message: new DataLoader<number, MessageRecord | null>(async (ids) => {
      const rows = new Map((await conversations.findMessages(ids)).map((m) => [m.id, m]))
      return ids.map((id) => rows.get(id) ?? null)
    }, options),
    /** The business number of each conversation (it never changes, so always cached). */
    numberOf: new DataLoader<number, string | null>(async (ids) => {
      const found = await conversations.numbersOf(ids)
      return ids.map((id) => found.get(id) ?? null)
    }),
    messageCount: counts((ids) => conversations.countMessages(ids)),
    unreadCount: counts((ids) => conversations.unreadCounts(ids)),
    media: new DataLoader<string, MediaRecord | null>(async (ids) => {
      const rows = new Map((await media.findMany(ids)).map((m) => [m.id, m]))
      return ids.map((id) => rows.get(id) ?? null)
    }, options),
    /** By the wamid of the message reacted to. */
    reactions: new DataLoader<string, ReactionRecord[]>(async (wamids) => {
      const found = await reactions.forMessages(wamids)
      return wamids.map((wamid) => found.get(wamid) ?? [])
    }, options),
  }
}

export type ConversationLoaders = ReturnType<typeof createConversationLoaders>
