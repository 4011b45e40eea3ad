import { Field, InputType, Int } from 'type-graphql'

@InputType()
export class AddBusinessNumberInput {
  @Field(() => String, { description: "Meta's phone number id." })
  phoneNumberId!: string

  @Field(() => String, { description: 'Its WhatsApp Business Account id.' })
  businessAccountId!: string

  @Field(() => String, {
    nullable: true,
    description: 'Its own Meta access token, stored encrypted and never shown again; omitted: the shared one.',
  })
  accessToken?: string | null

  @Field(() => Int, {
    nullable: true,
    description: "Its send rate (Meta's tier for it); omitted: WHATSAPP_MESSAGES_PER_SECOND.",
  })
  messagesPerSecond?: number | null

  @Field(() => String, { nullable: true, description: 'The number as people dial it, for display.' })
  displayPhoneNumber?: string | null
}
