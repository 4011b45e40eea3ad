import 'reflect-metadata'
import type { GraphQLSchema } from 'graphql'
import { buildSchema, type ContainerType } from 'type-graphql'
import { ConversationResolver, MessageResolver } from '../conversations/conversation.resolver.js'
import { MessagingResolver } from '../messaging/messaging.resolver.js'
import { TemplateResolver } from '../templates/template.resolver.js'

export const resolvers = [ConversationResolver, MessageResolver, MessagingResolver, TemplateResolver] as const

/** Per-request context. `container` hands type-graphql the resolver instances of this app. */
export interface GraphQLContext {
  container: ContainerType
}

let schema: Promise<GraphQLSchema> | undefined

/** The GraphQL schema, built once per process; each app supplies its resolvers through the context. */
export function getSchema(): Promise<GraphQLSchema> {
  schema ??= buildSchema({
    resolvers,
    container: ({ context }: { context: GraphQLContext }) => context.container,
    validate: false,
  })
  return schema
}
