import { z } from 'zod'
import { NotFoundError } from '../errors.js'
import { conversationIdSchema } from '../messaging/messaging.schemas.js'
import { parseInput } from '../validation.js'
import type { ConversationRecord, ConversationRepository, MessageRecord } from './conversation.repository.js'

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200

const limitSchema = z
  .number({ error: 'limit must be an integer' })
  .int('limit must be an integer')
  .min(1, 'limit must be at least 1')
  .max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`)

function pageSize(limit: number | undefined | null): number {
  return limit == null ? DEFAULT_PAGE_SIZE : parseInput(limitSchema, limit, 'limit')
}

/** Reads for dashboards. */
export class ConversationService {
  constructor(private readonly conversations: ConversationRepository) {}

  /** @throws NotFoundError for an unknown id. */
  async get(id: unknown): Promise<ConversationRecord> {
    const conversationId = parseInput(conversationIdSchema, id, 'id')
    const conversation = await this.conversations.findById(conversationId)
    if (!conversation) throw new NotFoundError(`Conversation ${conversationId} does not exist`)
    return conversation
  }

  /** @throws NotFoundError */
  async message(id: number): Promise<MessageRecord> {
    const message = await this.conversations.findMessage(id)
    if (!message) throw new NotFoundError(`Message ${id} does not exist`)
    return message
  }

  list(limit?: number | null): Promise<ConversationRecord[]> {
    return this.conversations.list(pageSize(limit))
  }

  messages(conversationId: number, limit?: number | null): Promise<MessageRecord[]> {
    return this.conversations.listMessages(conversationId, pageSize(limit))
  }
}
