import { getArgumentValues, type GraphQLObjectType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql'
import { Arg, Ctx, FieldResolver, Info, Int, Query, Resolver, Root } from 'type-graphql'
import { fieldNodesAt, fieldsAt, recordFieldsFor } from '../graphql/lookahead.js'
import type { GraphQLContext } from '../graphql/context.js'
import { pageArgs, toConnection } from '../shared/connection.type.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { MessageFields } from './conversation-read.repository.js'
import type { ConversationService, MessageDetails, MessagePage } from './conversation.service.js'
import {
  Conversation,
  ConversationBusinessNumber,
  ConversationConnection,
  ConversationFilterInput,
} from './conversation.type.js'
import { Message, MessageConnection, MessageError } from '../messages/message.type.js'
import { MessageMedia, Reaction } from '../messages/message-parts.type.js'
import { mediaView, reactionView } from '../messages/message.view.js'
import { serviceWindowExpiresAt } from './service-window.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

/** What a conversation shows of its business number. */
export interface NumberDisplay {
  display(phoneNumberId: string): Promise<ConversationBusinessNumber>
}

/**
 * The record fields each field resolver below reads: a list reads only the columns an operation
 * needs (recordFieldsFor). A field missing here is read with every column.
 */
const CONVERSATION_NEEDS = {
  businessNumber: ['businessPhoneNumberId'],
  serviceWindowExpiresAt: ['lastInboundAt'],
  lastMessage: ['lastMessageId'],
  unreadCount: [],
  messageCount: [],
  messages: [],
} as const
const MESSAGE_NEEDS = {
  conversation: ['conversationId'],
  media: ['mediaId', 'filename', 'type', 'content', 'payload'],
  replyTo: ['replyToMessageId'],
  reactions: ['wamid'],
  error: ['status', 'errorCode', 'errorMessage', 'errorDetails', 'errorTraceId'],
} as const

/** What a page of messages reads for the nodes at `path` below the field resolved. */
function messageFieldsAt(info: GraphQLResolveInfo, path: readonly string[]): MessageFields {
  const node = fieldsAt(info, path)
  return {
    message: recordFieldsFor(node, MESSAGE_NEEDS),
    media: node?.has('media') ?? false,
    reactions: node?.has('reactions') ?? false,
  }
}

/**
 * The page a conversation's `messages` field will ask for (its arguments, and what its field
 * resolver reads as {@link messageFieldsAt}), when the operation selects it once below this field.
 */
function messagesAsked(
  info: GraphQLResolveInfo,
  path: readonly string[] = [],
): { args: Record<string, unknown>; include: MessageFields } | null {
  const selected = fieldNodesAt(info, path)?.filter((field) => field.name.value === 'messages') ?? []
  if (selected.length !== 1) return null
  return {
    args: getArgumentValues(CONVERSATION_MESSAGES(info.schema), selected[0], info.variableValues),
    include: messageFieldsAt(info, [...path, 'messages', 'edges', 'node']),
  }
}
const CONVERSATION_MESSAGES = (schema: GraphQLSchema) =>
  (schema.getType('Conversation') as GraphQLObjectType).getFields().messages

/** Each listed conversation's last message, read with the list (and only the fields asked for). */
const lastMessageRead = new WeakMap<ConversationRecord, MessageRecord | null>()
/** The page a conversation's `messages` field asks for, read with the conversation (a thread, a list). */
const pageRead = new WeakMap<ConversationRecord, { first: unknown; after: unknown; page: MessagePage }>()
/** Each message's file and reactions, read with its page (when its field asks for them). */
const detailsRead = new WeakMap<MessageRecord, MessageDetails>()

// Values read with their parent are answered as they are, not through a DataLoader: a page of 50
// messages would otherwise make ~100 promises to hand back what is already here.
const readWith = (args: Record<string, unknown>, page: MessagePage) => ({
  first: args.first ?? null,
  after: args.after ?? null,
  page,
})
function messageConnection(page: MessagePage) {
  if (page.details.size)
    for (const message of page.nodes) {
      const details = page.details.get(message.id)
      if (details) detailsRead.set(message, details)
    }
  return toConnection(page)
}

@Resolver(() => Conversation)
export class ConversationResolver {
  constructor(
    private readonly service: ConversationService,
    private readonly numbers: NumberDisplay,
  ) {}

  @Query(() => Conversation, {
    description: "One conversation. NOT_FOUND for an unknown id (and for another number's, to a limited key).",
  })
  async conversation(
    @Arg('id', () => Int) id: number,
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ConversationRecord> {
    const messages = messagesAsked(info)
    if (!messages) return this.service.get(id, ctx.principal.phoneNumberIds)
    // A thread: the conversation and its page of messages in one statement.
    const fields = recordFieldsFor(fieldsAt(info, []), CONVERSATION_NEEDS)
    const thread = await this.service.thread(id, ctx.principal.phoneNumberIds, fields, messages.args, messages.include)
    if (thread.page) pageRead.set(thread.conversation, readWith(messages.args, thread.page))
    return thread.conversation
  }

  @Query(() => ConversationConnection, { description: 'Conversations, newest activity first.' })
  async conversations(
    @Arg('first', () => Int, pageArgs.first) first?: number | null,
    @Arg('after', () => String, pageArgs.after) after?: string | null,
    @Arg('filter', () => ConversationFilterInput, { nullable: true }) filter?: ConversationFilterInput | null,
    @Ctx() ctx?: GraphQLContext,
    @Info() info?: GraphQLResolveInfo,
  ) {
    // Only the columns the operation asks for, each conversation's last message joined in.
    const fields = {
      conversation: recordFieldsFor(fieldsAt(info!, ['edges', 'node']), CONVERSATION_NEEDS),
      lastMessage: recordFieldsFor(fieldsAt(info!, ['edges', 'node', 'lastMessage']), MESSAGE_NEEDS) ?? undefined,
    }
    // And each one's page of messages, when asked for.
    const messages = messagesAsked(info!, ['edges', 'node']) ?? undefined
    const page = await this.service.page({ first, after, filter }, ctx!.principal.phoneNumberIds, fields, messages)
    for (const conversation of page.nodes) {
      if (fields.lastMessage !== undefined) lastMessageRead.set(conversation, page.lastMessages.get(conversation.id)!)
      const messagePage = page.messagePages?.get(conversation.id)
      if (messagePage) pageRead.set(conversation, readWith(messages!.args, messagePage))
    }
    return toConnection(page)
  }

  @Query(() => Message, { description: 'One message. NOT_FOUND for an unknown id.' })
  message(@Arg('id', () => Int) id: number, @Ctx() ctx: GraphQLContext): Promise<MessageRecord> {
    return this.service.message(id, ctx.principal.phoneNumberIds)
  }

  @Query(() => Message, { description: 'The message with this Meta message id (wamid…).' })
  messageByWamid(@Arg('wamid', () => String) wamid: string, @Ctx() ctx: GraphQLContext): Promise<MessageRecord> {
    return this.service.messageByWamid(wamid, ctx.principal.phoneNumberIds)
  }

  @FieldResolver(() => ConversationBusinessNumber, {
    nullable: true,
    description: 'The business number the customer talks to (each has its own conversations).',
  })
  businessNumber(@Root() conversation: ConversationRecord): Promise<ConversationBusinessNumber | null> | null {
    const id = conversation.businessPhoneNumberId
    return id === null ? null : this.numbers.display(id)
  }

  @FieldResolver(() => DateTimeScalar, {
    nullable: true,
    description:
      'When the 24-hour customer-service window closes (last inbound message + 24 h); null if the customer never wrote. Outside it only templates can be sent.',
  })
  serviceWindowExpiresAt(@Root() conversation: ConversationRecord): Date | null {
    return serviceWindowExpiresAt(conversation)
  }

  @FieldResolver(() => Message, { nullable: true, description: 'The most recently stored message.' })
  lastMessage(
    @Root() conversation: ConversationRecord,
    @Ctx() ctx: GraphQLContext,
  ): MessageRecord | Promise<MessageRecord | null> | null {
    if (lastMessageRead.has(conversation)) return lastMessageRead.get(conversation)!
    return conversation.lastMessageId ? ctx.loaders.message.load(conversation.lastMessageId) : null
  }

  @FieldResolver(() => Int, {
    description: 'Inbound messages newer than the last one marked read (markConversationRead): an inbox badge.',
  })
  unreadCount(@Root() conversation: ConversationRecord, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.loaders.unreadCount.load(conversation.id)
  }

  @FieldResolver(() => Int, { description: 'How many messages the conversation has.' })
  messageCount(@Root() conversation: ConversationRecord, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.loaders.messageCount.load(conversation.id)
  }

  @FieldResolver(() => MessageConnection, { description: 'Messages, newest first.' })
  messages(
    @Root() conversation: ConversationRecord,
    @Arg('first', () => Int, pageArgs.first) first?: number | null,
    @Arg('after', () => String, pageArgs.after) after?: string | null,
    @Ctx() ctx?: GraphQLContext,
    @Info() info?: GraphQLResolveInfo,
  ) {
    const read = pageRead.get(conversation)
    if (read && read.first === (first ?? null) && read.after === (after ?? null)) return messageConnection(read.page)
    const include = messageFieldsAt(info!, ['edges', 'node'])
    return ctx!.loaders.messagePage(conversation.id, { first, after }, include).then(messageConnection)
  }
}

@Resolver(() => Message)
export class MessageResolver {
  constructor(private readonly service: ConversationService) {}

  @FieldResolver(() => Conversation)
  async conversation(@Root() message: MessageRecord, @Ctx() ctx: GraphQLContext): Promise<ConversationRecord> {
    // The message was read with the caller's numbers checked: so is its conversation.
    return (await ctx.loaders.conversation.load(message.conversationId)) ?? this.service.get(message.conversationId)
  }

  @FieldResolver(() => MessageMedia, { nullable: true, description: 'The file of a media message.' })
  media(
    @Root() message: MessageRecord,
    @Ctx() ctx: GraphQLContext,
  ): MessageMedia | Promise<MessageMedia | null> | null {
    if (!message.mediaId) return null
    const read = detailsRead.get(message)
    if (read) return read.media && mediaView(message, read.media)
    return ctx.loaders.media.load(message.mediaId).then((media) => media && mediaView(message, media))
  }

  @FieldResolver(() => Message, { nullable: true, description: 'The message this one quotes, answers or reacts to.' })
  replyTo(@Root() message: MessageRecord, @Ctx() ctx: GraphQLContext): Promise<MessageRecord | null> | null {
    return message.replyToMessageId ? ctx.loaders.message.load(message.replyToMessageId) : null
  }

  @FieldResolver(() => [Reaction], { description: 'The customer’s and our reactions to this message.' })
  reactions(@Root() message: MessageRecord, @Ctx() ctx: GraphQLContext): Reaction[] | Promise<Reaction[]> {
    if (!message.wamid) return []
    const read = detailsRead.get(message)
    if (read) return read.reactions.map(reactionView)
    return ctx.loaders.reactions.load(message.wamid).then((reactions) => reactions.map(reactionView))
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
