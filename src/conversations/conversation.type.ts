import { DateTimeResolver } from 'graphql-scalars'
import { Field, Int, ObjectType } from 'type-graphql'

@ObjectType({ description: "A customer's WhatsApp thread: one per phone number." })
export class Conversation {
  @Field(() => Int)
  id!: number

  @Field(() => String, { description: 'The customer’s number, digits only (E.164 without "+"), e.g. 50212345678.' })
  phoneNumber!: string

  @Field(() => Int, { nullable: true, description: 'The service request this conversation is linked to.' })
  requestId!: number | null

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the last message was stored.' })
  lastMessageAt!: Date | null

  @Field(() => DateTimeResolver)
  createdAt!: Date

  @Field(() => DateTimeResolver)
  updatedAt!: Date
}
