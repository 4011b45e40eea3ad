import type { PrismaClient } from '../db/database.js'

export type MessageDirection = 'inbound' | 'outbound'
export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed'

export interface ConversationRecord {
  id: number
  /** Digits only, E.164 without `+`. */
  phoneNumber: string
  requestId: number | null
  lastMessageAt: Date | null
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
  errorCode: number | null
  errorMessage: string | null
  errorDetails: string | null
  errorTraceId: string | null
  createdAt: Date
  updatedAt: Date
}

export interface NewMessage {
  direction: MessageDirection
  type: string
  content: string | null
  template?: object
  status: MessageStatus
  requestId?: number | null
}

export type MessageOutcome =
  | { status: 'sent'; wamid: string }
  | {
      status: 'failed'
      errorCode: number | null
      errorMessage: string
      errorDetails?: string | null
      errorTraceId?: string | null
    }

/** Conversations and their messages. The only code that talks to Prisma about them. */
export class ConversationRepository {
  constructor(private readonly prisma: PrismaClient) {}

  findById(id: number): Promise<ConversationRecord | null> {
    return this.prisma.conversation.findUnique({ where: { id } })
  }

  /** Newest activity first. */
  list(limit: number): Promise<ConversationRecord[]> {
    return this.prisma.conversation.findMany({
      orderBy: [{ lastMessageAt: { sort: 'desc', nulls: 'last' } }, { id: 'desc' }],
      take: limit,
    })
  }

  /**
   * The conversation for `phoneNumber`, created if there is none. A given `requestId` links it to
   * that service request. Race-free: an INSERT … ON CONFLICT on the unique phone number.
   */
  findOrCreate(phoneNumber: string, requestId?: number | null): Promise<ConversationRecord> {
    return this.prisma.conversation.upsert({
      where: { phoneNumber },
      create: { phoneNumber, requestId: requestId ?? null },
      update: requestId != null ? { requestId } : {},
    })
  }

  /** Stores a message and moves the conversation's last activity, atomically. */
  async addMessage(conversationId: number, message: NewMessage): Promise<MessageRecord> {
    const now = new Date()
    const [created] = await this.prisma.$transaction([
      this.prisma.message.create({
        data: {
          conversationId,
          direction: message.direction,
          type: message.type,
          content: message.content,
          template: message.template,
          status: message.status,
          requestId: message.requestId ?? null,
          createdAt: now,
        },
      }),
      this.prisma.conversation.update({ where: { id: conversationId }, data: { lastMessageAt: now } }),
    ])
    return created as MessageRecord
  }

  /** Records what Meta answered for an outbound message. */
  async recordOutcome(messageId: number, outcome: MessageOutcome): Promise<MessageRecord> {
    const data =
      outcome.status === 'sent'
        ? { status: outcome.status, wamid: outcome.wamid }
        : {
            status: outcome.status,
            errorCode: outcome.errorCode,
            errorMessage: outcome.errorMessage,
            errorDetails: outcome.errorDetails ?? null,
            errorTraceId: outcome.errorTraceId ?? null,
          }
    return (await this.prisma.message.update({ where: { id: messageId }, data })) as MessageRecord
  }

  findMessage(id: number): Promise<MessageRecord | null> {
    return this.prisma.message.findUnique({ where: { id } }) as Promise<MessageRecord | null>
  }

  /** The latest `limit` messages of a conversation, oldest first (chat order). */
  async listMessages(conversationId: number, limit: number): Promise<MessageRecord[]> {
    const rows = await this.prisma.message.findMany({
      where: { conversationId },
      orderBy: { id: 'desc' },
      take: limit,
    })
    return rows.reverse() as MessageRecord[]
  }
}
