import { Arg, Int, Resolver, Root, Subscription } from 'type-graphql'
import type { MessageEvent } from '../events/event-bus.js'
import type { GraphQLContext } from '../graphql/schema.js'
import type { MessageRecord } from './conversation.repository.js'
import type { ConversationService } from './conversation.service.js'
import { Message } from './message.type.js'

type SubscribeData = { args: { conversationId?: number | null }; context: GraphQLContext }

/** Live updates for dashboards, over graphql-ws at /graphql. Each event is read fresh from the database. */
@Resolver()
export class MessageEventsResolver {
  constructor(private readonly service: ConversationService) {}

  @Subscription(() => Message, {
    description: 'Every new message, inbound or outbound; optionally of one conversation.',
    subscribe: ({ args, context }: SubscribeData) =>
      context.events.subscribe('messageAdded', args.conversationId ?? null),
  })
  messageAdded(
    @Root() event: MessageEvent,
    @Arg('conversationId', () => Int, { nullable: true }) _conversationId?: number | null,
  ): Promise<MessageRecord> {
    return this.service.message(event.messageId)
  }

  @Subscription(() => Message, {
    description: 'A message whose delivery status changed (sent, delivered, read, failed).',
    subscribe: ({ args, context }: SubscribeData) =>
      context.events.subscribe('messageStatusChanged', args.conversationId ?? null),
  })
  messageStatusChanged(
    @Root() event: MessageEvent,
    @Arg('conversationId', () => Int, { nullable: true }) _conversationId?: number | null,
  ): Promise<MessageRecord> {
    return this.service.message(event.messageId)
  }

  @Subscription(() => Message, {
    description:
      'A message that changed otherwise: a reaction was added or removed, or a customer’s file finished ' +
      'downloading (or failed to).',
    subscribe: ({ args, context }: SubscribeData) =>
      context.events.subscribe('messageUpdated', args.conversationId ?? null),
  })
  messageUpdated(
    @Root() event: MessageEvent,
    @Arg('conversationId', () => Int, { nullable: true }) _conversationId?: number | null,
  ): Promise<MessageRecord> {
    return this.service.message(event.messageId)
  }
}
