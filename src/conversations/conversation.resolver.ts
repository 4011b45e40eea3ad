import { DateTimeResolver } from 'graphql-scalars'
import { Arg, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql'
import type { ConversationRecord, MessageRecord } from './conversation.repository.js'
import type { ConversationService } from './conversation.service.js'
import { serviceWindowExpiresAt } from './service-window.js'
import { Conversation } from './conversation.type.js'
import { Message, MessageError } from './message.type.js'

@Resolver(() => Conversation)
export class ConversationResolver {
  constructor(private readonly service: ConversationService) {}

  @Query(() => Conversation, { description: 'One conversation. NOT_FOUND for an unknown id.' })
  conversation(@Arg('id', () => Int) id: number): Promise<ConversationRecord> {
    return this.service.get(id)
  }

  @Query(() => [Conversation], { description: 'Conversations, newest activity first.' })
  conversations(@Arg('limit', () => Int, { nullable: true }) limit?: number | null): Promise<ConversationRecord[]> {
    return this.service.list(limit)
  }

  @FieldResolver(() => DateTimeResolver, {
    nullable: true,
    description:
      'When the 24-hour customer-service window closes (last inbound message + 24 h); null if the customer never wrote. Outside it only templates can be sent.',
  })
  serviceWindowExpiresAt(@Root() conversation: ConversationRecord): Date | null {
    return serviceWindowExpiresAt(conversation)
  }

  @FieldResolver(() => [Message], { description: 'The latest messages, oldest first (chat order).' })
  messages(
    @Root() conversation: ConversationRecord,
    @Arg('limit', () => Int, { nullable: true }) limit?: number | null,
  ): Promise<MessageRecord[]> {
    return this.service.messages(conversation.id, limit)
  }
}

@Resolver(() => Message)
export class MessageResolver {
  constructor(private readonly service: ConversationService) {}

  @FieldResolver(() => Conversation)
  conversation(@Root() message: MessageRecord): Promise<ConversationRecord> {
    return this.service.get(message.conversationId)
  }

  @FieldResolver(() => MessageError, { nullable: true })
  error(@Root() message: MessageRecord): MessageError | null {
    if (message.status !== 'failed') return null
    return {
      code: message.errorCode,
      message: message.errorMessage ?? 'Failed',
      details: message.errorDetails,
      fbtraceId: message.errorTraceId,
    }
  }
}
