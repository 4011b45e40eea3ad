import { Field, Int, ObjectType } from 'type-graphql'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

@ObjectType({
  description: 'A WhatsApp business number the service sends from and receives on. Its access token is never shown.',
})
export class BusinessNumber {
  @Field(() => String, { description: "Meta's phone number id: the `from` of sends." })
  phoneNumberId!: string

  @Field(() => String, { description: 'Its WhatsApp Business Account id (where its templates live).' })
  businessAccountId!: string

  @Field(() => String, { nullable: true })
  displayPhoneNumber!: string | null

  @Field(() => Int, { description: 'Its send rate, held across instances.' })
  messagesPerSecond!: number

  @Field(() => Boolean, { description: 'False: it sends with the shared WHATSAPP_ACCESS_TOKEN.' })
  hasOwnAccessToken!: boolean

  @Field(() => DateTimeScalar)
  createdAt!: Date
}
