import { JSONObjectResolver } from 'graphql-scalars'
import { Field, Int, ObjectType } from 'type-graphql'
import { Conversation } from '../conversations/conversation.type.js'
import { Message } from '../messages/message.type.js'
import { TemplateBatch } from '../batches/batch.type.js'
import { ScheduledSend } from '../scheduled/scheduled-send.type.js'

const laterNote = 'Null when `sendAt` scheduled the send for later: see `scheduled`.'
const scheduledField = {
  nullable: true,
  description: 'The scheduled send, when `sendAt` was given (it answers the rest once it has gone out).',
} as const

@ObjectType()
export class SendTextPayload {
  @Field(() => Message, { nullable: true, description: `The message sent. ${laterNote}` })
  message?: Message | null

  @Field(() => Conversation, { nullable: true, description: `Its conversation. ${laterNote}` })
  conversation?: Conversation | null

  @Field(() => ScheduledSend, scheduledField)
  scheduled?: ScheduledSend | null
}

@ObjectType()
export class SendMessagePayload extends SendTextPayload {}

@ObjectType({ description: 'A failure of one recipient, with the same code as the API’s errors.' })
export class SendError {
  @Field(() => String, {
    description: 'META_API_ERROR, META_TOKEN_INVALID, META_UNREACHABLE, META_OUTCOME_UNKNOWN, INTERNAL_SERVER_ERROR',
  })
  code!: string

  @Field(() => String)
  message!: string

  @Field(() => JSONObjectResolver, {
    nullable: true,
    description: "Meta's code, details and fbtrace_id, when Meta refused.",
  })
  meta?: Record<string, unknown> | null
}

@ObjectType()
export class TemplateRecipientResult {
  @Field(() => String, { description: 'As given in the request.' })
  phoneNumber!: string

  @Field(() => Boolean)
  success!: boolean

  @Field(() => String, { nullable: true, description: "Meta's message id when sent." })
  wamid?: string | null

  @Field(() => Message, { nullable: true, description: 'The stored message (also for failures).' })
  message?: Message | null

  @Field(() => SendError, { nullable: true })
  error?: SendError | null
}

@ObjectType()
export class SendSummary {
  @Field(() => Int)
  total!: number

  @Field(() => Int)
  sent!: number

  @Field(() => Int, { description: 'Recipients not sent (including `unknown`).' })
  failed!: number

  @Field(() => Int, {
    description: 'Of the failed, those whose answer from Meta never came: they may yet turn out sent (UNKNOWN).',
  })
  unknown!: number
}

@ObjectType()
export class SendTemplatePayload {
  @Field(() => TemplateBatch, {
    nullable: true,
    description: `The stored fan-out, to follow its statuses later. ${laterNote}`,
  })
  batch?: TemplateBatch | null

  @Field(() => SendSummary, { nullable: true, description: laterNote })
  summary?: SendSummary | null

  @Field(() => [TemplateRecipientResult], { description: 'Empty when `sendAt` scheduled the send for later.' })
  results!: TemplateRecipientResult[]

  @Field(() => ScheduledSend, scheduledField)
  scheduled?: ScheduledSend | null
}
