import 'reflect-metadata'
import type DataLoader from 'dataloader'
import type { BatchProgress } from '../batches/batch.repository.js'
import { BatchResolver } from '../batches/batch.resolver.js'
import type { GraphQLSchema } from 'graphql'
import { buildSchema, type ContainerType } from 'type-graphql'
import { ConversationResolver, MessageResolver } from '../conversations/conversation.resolver.js'
import { MessageEventsResolver } from '../conversations/message-events.resolver.js'
import type { EventBus } from '../events/event-bus.js'
import type { ConversationLoaders } from '../conversations/conversation.loaders.js'
import type { ResponseCacheState } from './response-cache.js'
import { MessagingResolver } from '../messaging/messaging.resolver.js'
import { TemplateResolver } from '../templates/template.resolver.js'
import { WebhookResolver } from '../webhooks/webhook.resolver.js'

export const resolvers = [
  BatchResolver,
  ConversationResolver,
  MessageResolver,
  MessageEventsResolver,
  MessagingResolver,
  TemplateResolver,
  WebhookResolver,
] as const

/** Per-request context. `container` hands type-graphql the resolver instances of this app. */
export interface GraphQLContext {
  container: ContainerType
  events: EventBus
  loaders: ConversationLoaders
  /** Progress counts of template batches, batched per request. */
  batchProgress: DataLoader<number, BatchProgress>
  /** Whose request this is (a digest of the API token), for idempotency keys. */
  caller: string
  /** What the response cache notes about this request (absent when it is off, or for a GET). */
  responseCache?: ResponseCacheState
}

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
