import 'reflect-metadata'
import { BatchResolver } from '../batches/batch.resolver.js'
import type { GraphQLSchema } from 'graphql'
import { buildSchema } from 'type-graphql'
import type { GraphQLContext } from './context.js'
import { ConversationResolver, MessageResolver } from '../conversations/conversation.resolver.js'
import { MessageEventsResolver } from '../messages/message-events.resolver.js'
import { MessagingResolver } from '../messaging/messaging.resolver.js'
import { ScheduledSendResolver } from '../scheduled/scheduled-send.resolver.js'
import { TemplateResolver } from '../templates/template.resolver.js'
import { WebhookResolver } from '../webhooks/webhook.resolver.js'
import { EventWebhookResolver } from '../event-webhooks/event-webhook.resolver.js'
import { ApiKeyResolver } from '../api-keys/api-key.resolver.js'
import { BusinessNumberResolver } from '../business-numbers/business-number.resolver.js'

export const resolvers = [
  BatchResolver,
  ConversationResolver,
  MessageResolver,
  MessageEventsResolver,
  MessagingResolver,
  ScheduledSendResolver,
  TemplateResolver,
  WebhookResolver,
  EventWebhookResolver,
  ApiKeyResolver,
  BusinessNumberResolver,
] as const

let schema: Promise<GraphQLSchema> | undefined

/** The GraphQL schema, built once per process; each app supplies its resolvers through the context. */
export function getSchema(): Promise<GraphQLSchema> {
  schema ??= buildSchema({
    resolvers,
    container: ({ context }: { context: GraphQLContext }) => context.container,
    validate: false,
    // Every @Subscription here has its own `subscribe` reading the app's EventBus from the context;
    // type-graphql still insists on a PubSub, so give it one that says so if ever used.
    pubSub: {
      publish() {
        throw new Error('use the EventBus')
      },
      subscribe() {
        throw new Error('use the EventBus')
      },
    },
  })
  return schema
}
