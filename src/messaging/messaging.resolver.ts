import { Arg, Mutation, Resolver } from 'type-graphql'
import type { MessageRecord } from '../conversations/conversation.repository.js'
import { Message } from '../conversations/message.type.js'
import { SendInConversationInput, SendTemplateInput, SendTextInput, toSendTemplateRequest } from './messaging.input.js'
import type { MessagingService, SentText } from './messaging.service.js'
import { SendTemplatePayload, SendTextPayload } from './messaging.type.js'

@Resolver()
export class MessagingResolver {
  constructor(private readonly messaging: MessagingService) {}

  @Mutation(() => SendTextPayload, { description: 'Texts a number; creates its conversation if needed.' })
  sendText(@Arg('input', () => SendTextInput) input: SendTextInput): Promise<SentText> {
    return this.messaging.sendText(input)
  }

  @Mutation(() => Message, { description: 'Texts the customer of an existing conversation.' })
  sendInConversation(
    @Arg('input', () => SendInConversationInput) input: SendInConversationInput,
  ): Promise<MessageRecord> {
    return this.messaging.sendInConversation(input.conversationId, input)
  }

  @Mutation(() => SendTemplatePayload, { description: 'Sends an approved template to each recipient.' })
  async sendTemplate(@Arg('input', () => SendTemplateInput) input: SendTemplateInput) {
    const { summary, results } = await this.messaging.sendTemplate(toSendTemplateRequest(input))
    return {
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
