import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql'
import type { BatchService } from '../batches/batch.service.js'
import { TemplateBatch } from '../batches/batch.type.js'
import type { ConversationService } from '../conversations/conversation.service.js'
import { Message } from '../messages/message.type.js'
import type { GraphQLContext } from '../graphql/context.js'
import type { IdempotencyKeyInput } from '../idempotency/idempotency.service.js'
import {
  SendInConversationInput,
  SendMessageInput,
  SendTemplateInput,
  SendTextInput,
  toSendTemplateRequest,
} from '../messaging/messaging.input.js'
import type { SendRequest } from '../messaging/messaging.service.js'
import { pageArgs, toConnection } from '../shared/connection.type.js'
import type { ScheduledSendService } from './scheduled-send.service.js'
import { DateTimeISO, ScheduledSend, ScheduledSendConnection, ScheduledSendStatus } from './scheduled-send.type.js'
import { scheduledSendView } from './scheduled-send.view.js'

const sendAtArg = {
  description: 'When to send: ISO 8601 with an offset, in the future, at most 30 days ahead.',
} as const

const idempotencyKeyArg = {
  nullable: true,
  description: 'Optional. The same key with the same input answers the same scheduled send. Kept 24 h.',
} as const

const keyOf = (ctx: GraphQLContext, key: string | null | undefined): IdempotencyKeyInput => ({
  scope: ctx.caller,
  key,
  field: 'idempotencyKey',
})

/**
 * Scheduled sends: listed, read and cancelled here. sendText, sendMessage and sendTemplate take
 * `sendAt` themselves (their payloads carry `scheduled`); sendInConversation answers the Message it
 * sent, which a later send does not have yet, so its twin scheduleInConversation takes `sendAt`.
 */
@Resolver(() => ScheduledSend)
export class ScheduledSendResolver {
  constructor(
    private readonly scheduled: ScheduledSendService,
    private readonly conversations: ConversationService,
    private readonly batches: BatchService,
  ) {}

  private async schedule(request: SendRequest, sendAt: string, ctx: GraphQLContext, key?: string | null) {
    return scheduledSendView(
      await this.scheduled.schedule(request, sendAt, keyOf(ctx, key), ctx.principal.phoneNumberIds, ctx.principal.name),
    )
  }

  @Mutation(() => ScheduledSend, {
    deprecationReason: 'Use sendText(sendAt:), which answers this in `scheduled`.',
    description: 'sendText at sendAt.',
  })
  scheduleText(
    @Arg('input', () => SendTextInput) input: SendTextInput,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ) {
    return this.schedule({ kind: 'sendText', input }, sendAt, ctx, idempotencyKey)
  }

  @Mutation(() => ScheduledSend, {
    deprecationReason: 'Use sendMessage(sendAt:), which answers this in `scheduled`.',
    description: 'sendMessage at sendAt.',
  })
  scheduleMessage(
    @Arg('input', () => SendMessageInput) input: SendMessageInput,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ) {
    return this.schedule({ kind: 'sendText', input }, sendAt, ctx, idempotencyKey)
  }

  @Mutation(() => ScheduledSend, { description: 'sendInConversation at sendAt.' })
  scheduleInConversation(
    @Arg('input', () => SendInConversationInput) input: SendInConversationInput,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ) {
    const { conversationId, ...message } = input
    return this.schedule({ kind: 'sendInConversation', conversationId, input: message }, sendAt, ctx, idempotencyKey)
  }

  @Mutation(() => ScheduledSend, {
    deprecationReason: 'Use sendTemplate(sendAt:), which answers this in `scheduled`.',
    description: 'sendTemplate at sendAt (the template is checked now and then).',
  })
  scheduleTemplate(
    @Arg('input', () => SendTemplateInput) input: SendTemplateInput,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ) {
    return this.schedule({ kind: 'sendTemplate', input: toSendTemplateRequest(input) }, sendAt, ctx, idempotencyKey)
  }

  @Query(() => ScheduledSend, { description: 'One scheduled send, in any status. NOT_FOUND for an unknown id.' })
  async scheduledSend(@Arg('id', () => Int) id: number, @Ctx() ctx: GraphQLContext) {
    return scheduledSendView(await this.scheduled.get(id, ctx.principal.phoneNumberIds))
  }

  @Query(() => ScheduledSendConnection, {
    description: 'Scheduled sends, soonest first: pending ones (SCHEDULED, SENDING) unless `status` says otherwise.',
  })
  async scheduledSends(
    @Arg('first', () => Int, pageArgs.first) first?: number | null,
    @Arg('after', () => String, pageArgs.after) after?: string | null,
    @Arg('status', () => [ScheduledSendStatus], { nullable: true, description: 'Default: SCHEDULED and SENDING.' })
    status?: ScheduledSendStatus[] | null,
    @Ctx() ctx?: GraphQLContext,
  ) {
    const page = await this.scheduled.page({ first, after, status: status ?? undefined }, ctx!.principal.phoneNumberIds)
    return toConnection({ ...page, nodes: page.nodes.map(scheduledSendView) })
  }

  @FieldResolver(() => Message, { nullable: true, description: 'The message it made, as it is now.' })
  message(@Root() send: ScheduledSend) {
    return send.messageId ? this.conversations.message(send.messageId) : null
  }

  @FieldResolver(() => TemplateBatch, { nullable: true, description: 'The template batch it made, as it is now.' })
  batch(@Root() send: ScheduledSend) {
    return send.batchId ? this.batches.get(send.batchId) : null
  }

  @Mutation(() => ScheduledSend, {
    description:
      'Cancels a scheduled send that has not started (one already cancelled is answered as it is). ' +
      'NOT_FOUND for an unknown id; SCHEDULED_SEND_STARTED once it is being sent or was.',
  })
  async cancelScheduledSend(@Arg('id', () => Int) id: number, @Ctx() ctx: GraphQLContext) {
    return scheduledSendView(await this.scheduled.cancel(id, ctx.principal.phoneNumberIds))
  }
}
