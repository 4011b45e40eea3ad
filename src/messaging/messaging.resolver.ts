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
import type { MessagingService, SentMessage } from './messaging.service.js'
import { SendMessagePayload, SendTemplatePayload, SendTextPayload } from './messaging.type.js'

const idempotencyKeyArg = {
  nullable: true,
  description:
    'Optional. The same key with the same input returns the first result again without sending; with a ' +
    'different input it is refused (IDEMPOTENCY_KEY_REUSED); while the first is running, IDEMPOTENCY_KEY_IN_FLIGHT. Kept 24 h.',
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
  ) {}

  @Mutation(() => SendTextPayload, { description: 'Texts a number; creates its conversation if needed.' })
  sendText(
    @Arg('input', () => SendTextInput) input: SendTextInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ): Promise<SentMessage> {
    return this.messaging.sendToNumber(input, keyOf(ctx, idempotencyKey))
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
  ): Promise<SentMessage> {
    return this.messaging.sendToNumber(input, keyOf(ctx, idempotencyKey))
  }

  @Mutation(() => Conversation, {
    description:
      "Tells Meta the customer's latest message was read (blue ticks), optionally showing the typing " +
      'indicator; unreadCount becomes 0.',
  })
  markConversationRead(
    @Arg('conversationId', () => Int) conversationId: number,
    @Arg('typing', () => Boolean, { nullable: true, description: 'Also show "typing…" (up to 25 s).' })
    typing?: boolean | null,
  ): Promise<ConversationRecord> {
    return this.messaging.markRead(conversationId, { typing })
  }

  @Mutation(() => Message, {
    description: 'Sends a message of any kind (see OutboundMessageType) in an existing conversation.',
  })
  sendInConversation(
    @Arg('input', () => SendInConversationInput) input: SendInConversationInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ): Promise<MessageRecord> {
    return this.messaging.sendInConversation(input.conversationId, input, keyOf(ctx, idempotencyKey))
  }

  @Mutation(() => SendTemplatePayload, {
    description: 'Sends an approved template to each recipient, as a stored batch (see templateBatch).',
  })
  async sendTemplate(
    @Arg('input', () => SendTemplateInput) input: SendTemplateInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, idempotencyKeyArg) idempotencyKey?: string | null,
  ) {
    const { batchId, summary, results } = await this.messaging.sendTemplate(
      toSendTemplateRequest(input),
      keyOf(ctx, idempotencyKey),
    )
    return {
      batch: await this.batches.get(batchId),
      summary,
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
