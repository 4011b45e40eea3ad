import DataLoader from 'dataloader'
import type { ConversationRepository, MessageRecord } from './conversation.repository.js'

/**
 * Per-request batching, so a list of conversations with their last message and message count
 * costs a constant number of queries, not one per conversation.
 */
export function createConversationLoaders(conversations: ConversationRepository, options: { cache?: boolean } = {}) {
  return {
    message: new DataLoader<number, MessageRecord | null>(async (ids) => {
      const rows = new Map((await conversations.findMessages(ids)).map((m) => [m.id, m]))
      return ids.map((id) => rows.get(id) ?? null)
    }, options),
    messageCount: new DataLoader<number, number>(async (conversationIds) => {
      const counts = await conversations.countMessages(conversationIds)
      return conversationIds.map((id) => counts.get(id) ?? 0)
    }, options),
  }
}

export type ConversationLoaders = ReturnType<typeof createConversationLoaders>
