import { DateTimeResolver } from 'graphql-scalars'
import { Field, Int, ObjectType } from 'type-graphql'

@ObjectType({ description: "A customer's WhatsApp thread: one per phone number." })
export class Conversation {
  @Field(() => Int)
  id!: number

  @Field(() => String, {
    nullable: true,
    description:
      'The customer’s number, digits only (E.164 without "+"), e.g. 50212345678. Null for username-only users.',
  })
  phoneNumber!: string | null

  @Field(() => String, { nullable: true, description: 'Meta’s business-scoped user id, when Meta sent one.' })
  waUserId!: string | null

  @Field(() => String, { nullable: true, description: 'The customer’s WhatsApp profile name.' })
  contactName!: string | null

  @Field(() => Int, { nullable: true, description: 'The service request this conversation is linked to.' })
  requestId!: number | null

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the last message was stored.' })
  lastMessageAt!: Date | null

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the customer last wrote.' })
  lastInboundAt!: Date | null

  @Field(() => DateTimeResolver)
  createdAt!: Date

  @Field(() => DateTimeResolver)
  updatedAt!: Date
}
