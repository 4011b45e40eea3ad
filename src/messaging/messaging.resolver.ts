import { Arg, Ctx, Int, Mutation, Resolver } from 'type-graphql'
import type { BatchService } from '../batches/batch.service.js'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import { Conversation } from '../conversations/conversation.type.js'
import { Message } from '../messages/message.type.js'
import type { GraphQLContext } from '../graphql/context.js'
import type { IdempotencyKeyInput } from '../idempotency/idempotency.service.js'
import {
  SendInConversationInput,
  SendMessageInput,
  SendTemplateInput,
  SendTextInput,
  toSendTemplateRequest,
} from './messaging.input.js'
import { DateTimeISO } from '../scheduled/scheduled-send.type.js'
import type { ScheduledSendService } from '../scheduled/scheduled-send.service.js'
import { scheduledSendView } from '../scheduled/scheduled-send.view.js'
import type { MessagingService, SendRequest, SentMessage } from './messaging.service.js'
import { SendMessagePayload, SendTemplatePayload, SendTextPayload } from './messaging.type.js'

const idempotencyKeyArg = {
  nullable: true,
  description:
    'Optional. The same key with the same input returns the first result again without sending; with a ' +
    'different input it is refused (IDEMPOTENCY_KEY_REUSED); while the first is running, IDEMPOTENCY_KEY_IN_FLIGHT. Kept 24 h.',
} as const

const sendAtArg = {
  nullable: true,
  description:
    'Optional: send later, at this time (ISO 8601 with an offset, in the future, at most 30 days ahead). ' +
    'The answer then carries only `scheduled`; the send is made then exactly as an immediate one.',
} as const

const keyOf = (ctx: GraphQLContext, key: string | null | undefined): IdempotencyKeyInput => ({
  scope: ctx.caller,
  key,
  field: 'idempotencyKey',
})

@Resolver()
export class MessagingResolver {
  constructor(
    private readonly messaging: MessagingService,
    private readonly batches: BatchService,
    private readonly scheduled: ScheduledSendService,
  ) {}

  /** A send with `sendAt`, stored for later: the payload names only the scheduled send. */
  private async later(request: SendRequest, sendAt: string, ctx: GraphQLContext, key?: string | null) {
    const scheduled = scheduledSendView(
      await this.scheduled.schedule(request, sendAt, keyOf(ctx, key), ctx.principal.phoneNumberIds, ctx.principal.name),
    )
    return { message: null, conversation: null, batch: null, summary: null, results: [], scheduled }
  }

  @Mutation(() => SendTextPayload, { description: 'Texts a number; creates its conversation if needed.' })
  sendText(
    @Arg('input', () => SendTextInput) input: SendTextInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt?: string | null,
  ): Promise<SentMessage | Awaited<ReturnType<MessagingResolver['later']>>> {
    if (sendAt != null) return this.later({ kind: 'sendText', input }, sendAt, ctx, idempotencyKey)
    return this.messaging.sendToNumber(
      input,
      keyOf(ctx, idempotencyKey),
      ctx.principal.phoneNumberIds,
      ctx.principal.name,
    )
  }

  @Mutation(() => SendMessagePayload, {
    description:
      'Sends a message of any kind (text, media, location, buttons or list, reaction; see OutboundMessageType) ' +
      'to a number; creates its conversation if needed.',
  })
  sendMessage(
    @Arg('input', () => SendMessageInput) input: SendMessageInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt?: string | null,
  ): Promise<SentMessage | Awaited<ReturnType<MessagingResolver['later']>>> {
    if (sendAt != null) return this.later({ kind: 'sendText', input }, sendAt, ctx, idempotencyKey)
    return this.messaging.sendToNumber(
      input,
      keyOf(ctx, idempotencyKey),
      ctx.principal.phoneNumberIds,
      ctx.principal.name,
    )
  }

  @Mutation(() => Conversation, {
    description:
      "Tells Meta the customer's latest message was read (blue ticks), optionally showing the typing " +
      'indicator; unreadCount becomes 0.',
  })
  markConversationRead(
    @Arg('conversationId', () => Int) conversationId: number,
    @Ctx() ctx: GraphQLContext,
    @Arg('typing', () => Boolean, { nullable: true, description: 'Also show "typing…" (up to 25 s).' })
    typing?: boolean | null,
  ): Promise<ConversationRecord> {
    return this.messaging.markRead(conversationId, { typing }, ctx.principal.phoneNumberIds)
  }

  @Mutation(() => Message, {
    description: 'Sends a message of any kind (see OutboundMessageType) in an existing conversation.',
  })
  sendInConversation(
    @Arg('input', () => SendInConversationInput) input: SendInConversationInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ): Promise<MessageRecord> {
    return this.messaging.sendInConversation(
      input.conversationId,
      input,
      keyOf(ctx, idempotencyKey),
      ctx.principal.phoneNumberIds,
      ctx.principal.name,
    )
  }

  @Mutation(() => SendTemplatePayload, {
    description: 'Sends an approved template to each recipient, as a stored batch (see templateBatch).',
  })
  async sendTemplate(
    @Arg('input', () => SendTemplateInput) input: SendTemplateInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
    @Arg('sendAt', () => DateTimeISO, sendAtArg) sendAt?: string | null,
  ) {
    if (sendAt != null) {
      return this.later({ kind: 'sendTemplate', input: toSendTemplateRequest(input) }, sendAt, ctx, idempotencyKey)
    }
    const { batchId, summary, results } = await this.messaging.sendTemplate(
      toSendTemplateRequest(input),
      keyOf(ctx, idempotencyKey),
      ctx.principal.phoneNumberIds,
      ctx.principal.name,
    )
    return {
      batch: await this.batches.get(batchId),
      summary,
      scheduled: null,
      results: results.map((r) =>
        r.success
          ? { ...r, error: null }
          : {
              ...r,
              wamid: null,
              error: { code: r.error.code, message: r.error.message, meta: r.error.details()?.meta },
            },
      ),
    }
  }
}
