import { Arg, Field, InputType, Mutation, Resolver, UseMiddleware } from 'type-graphql'
import { EveryNumber } from '../graphql/every-number.middleware.js'
import type { MessageRecord } from '../messages/message.records.js'
import { Message } from '../messages/message.type.js'
import type { WebhookService } from './webhook.service.js'

@InputType()
export class SimulateInboundMessageInput {
  @Field(() => String, { description: 'The customer, in international format, e.g. +50212345678.' })
  phoneNumber!: string

  @Field(() => String)
  content!: string

  @Field(() => String, { nullable: true, description: 'The customer’s WhatsApp profile name.' })
  contactName?: string | null
}

@Resolver()
// Spans every business number: refused to a caller limited to some.
@UseMiddleware(EveryNumber)
export class WebhookResolver {
  constructor(private readonly webhooks: WebhookService) {}

  @Mutation(() => Message, {
    description:
      'Development only (FORBIDDEN in production): a customer writes to us, as if Meta had delivered the webhook. Opens the 24-hour window.',
  })
  simulateInboundMessage(
    @Arg('input', () => SimulateInboundMessageInput) input: SimulateInboundMessageInput,
  ): Promise<MessageRecord> {
    return this.webhooks.simulateInbound(input)
  }
}
