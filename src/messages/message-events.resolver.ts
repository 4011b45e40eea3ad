import { Arg, Int, Resolver, Root, Subscription } from 'type-graphql'
import { mayUse } from '../auth/principal.js'
import { EventsMissedError } from '../errors/errors.js'
import type { MessageEvent } from '../events/event-bus.js'
import type { GraphQLContext } from '../graphql/context.js'
import type { MessageRecord } from '../messages/message.records.js'
import type { ConversationService } from '../conversations/conversation.service.js'
import { Message } from './message.type.js'

type SubscribeData = { args: { conversationId?: number | null }; context: GraphQLContext }

/**
 * The events of one type a subscriber may see: for a caller limited to some numbers, only their
 * conversations' (another number's events are never sent, as if they did not happen).
 */
function eventsFor(type: MessageEvent['type'], { args, context }: SubscribeData): AsyncIterable<MessageEvent> {
  const events = context.events.subscribe(type, args.conversationId ?? null)
  const scope = context.principal.phoneNumberIds
  if (scope === null) return events
  return (async function* () {
    for await (const event of events) {
      if (event.type === 'eventsMissed') yield event
      else if (mayUse(scope, await context.loaders.numberOf.load(event.conversationId))) yield event
    }
  })()
}

/**
 * Live updates for dashboards, over graphql-ws at /graphql. Each event is read fresh from the
 * database. When events may have been lost (an instance stopped hearing the others for a while),
 * every subscription gets one result with the error EVENTS_MISSED and goes on: read again what you show.
 */
@Resolver()
export class MessageEventsResolver {
  constructor(private readonly service: ConversationService) {}

  /** The message an event names; EVENTS_MISSED as this event's error when events may have been lost. */
  private messageOf(event: MessageEvent): Promise<MessageRecord> {
    if (event.type === 'eventsMissed') return Promise.reject(new EventsMissedError())
    return this.service.message(event.messageId)
  }

  @Subscription(() => Message, {
    description: 'Every new message, inbound or outbound; optionally of one conversation.',
    subscribe: (data: SubscribeData) => eventsFor('messageAdded', data),
  })
  messageAdded(
    @Root() event: MessageEvent,
    @Arg('conversationId', () => Int, { nullable: true }) _conversationId?: number | null,
  ): Promise<MessageRecord> {
    return this.messageOf(event)
  }

  @Subscription(() => Message, {
    description: 'A message whose delivery status changed (sent, delivered, read, failed).',
    subscribe: (data: SubscribeData) => eventsFor('messageStatusChanged', data),
  })
  messageStatusChanged(
    @Root() event: MessageEvent,
    @Arg('conversationId', () => Int, { nullable: true }) _conversationId?: number | null,
  ): Promise<MessageRecord> {
    return this.messageOf(event)
  }

  @Subscription(() => Message, {
    description:
      'A message that changed otherwise: a reaction was added or removed, or a customer’s file finished ' +
      'downloading (or failed to).',
    subscribe: (data: SubscribeData) => eventsFor('messageUpdated', data),
  })
  messageUpdated(
    @Root() event: MessageEvent,
    @Arg('conversationId', () => Int, { nullable: true }) _conversationId?: number | null,
  ): Promise<MessageRecord> {
    return this.messageOf(event)
  }
}
