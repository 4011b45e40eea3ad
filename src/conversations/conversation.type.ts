import { Field, InputType, Int, ObjectType } from 'type-graphql'
import { Connection } from '../shared/connection.type.js'
import { MessageDirection, MessageStatus } from '../messages/message.type.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

@ObjectType({ simpleResolvers: true, description: 'The business number of a conversation.' })
export class ConversationBusinessNumber {
  @Field(() => String, { description: "Meta's phone number id (the `from` of sends)." })
  phoneNumberId!: string

  @Field(() => String, { nullable: true })
  displayPhoneNumber!: string | null
}

@ObjectType({ simpleResolvers: true, description: "A customer's WhatsApp thread: one per phone number." })
export class Conversation {
  @Field(() => Int)
  id!: number

  @Field(() => String, {
    nullable: true,
    description:
      'The customer’s number, digits only (E.164 without "+"), e.g. 50212345678. Null for username-only users.',
  })
  phoneNumber!: string | null

  @Field(() => String, {
    nullable: true,
    description:
      'The customer’s WhatsApp id as Meta names it (it answers a send with it; the customer writes from it). ' +
      'Can differ from phoneNumber, the number a send went to; a send or a search by either finds the conversation.',
  })
  waId!: string | null

  @Field(() => String, { nullable: true, description: 'Meta’s business-scoped user id, when Meta sent one.' })
  waUserId!: string | null

  @Field(() => String, { nullable: true, description: 'The customer’s WhatsApp profile name.' })
  contactName!: string | null

  @Field(() => Int, { nullable: true, description: 'The service request this conversation is linked to.' })
  requestId!: number | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the last message was stored.' })
  lastMessageAt!: Date | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the customer last wrote.' })
  lastInboundAt!: Date | null

  @Field(() => DateTimeScalar)
  createdAt!: Date

  @Field(() => DateTimeScalar)
  updatedAt!: Date
}

@ObjectType({ simpleResolvers: true })
export class ConversationConnection extends Connection(Conversation, 'Conversation') {}

@InputType({ description: 'All given conditions must hold.' })
export class ConversationFilterInput {
  @Field(() => String, {
    nullable: true,
    description: 'Digits of the number, in any format: +502 5555-0101, 55550101…',
  })
  phoneNumber?: string | null

  @Field(() => Int, { nullable: true })
  requestId?: number | null

  @Field(() => MessageDirection, { nullable: true, description: 'Of the last message.' })
  lastMessageDirection?: MessageDirection | null

  @Field(() => MessageStatus, { nullable: true, description: 'Of the last message.' })
  lastMessageStatus?: MessageStatus | null

  @Field(() => String, { nullable: true, description: 'Text in any message of the conversation (case-insensitive).' })
  search?: string | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'Conversations changed at or after this time.' })
  updatedSince?: Date | null

  @Field(() => String, { nullable: true, description: 'Conversations of this business number (its phone number id).' })
  businessPhoneNumberId?: string | null
}
