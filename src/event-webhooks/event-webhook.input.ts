import { Field, InputType } from 'type-graphql'

@InputType()
export class CreateWebhookEndpointInput {
  @Field(() => String, {
    description: 'https://… (http only to localhost outside production); never a private address in production.',
  })
  url!: string

  @Field(() => [String], {
    description: 'Event types: message.received, message.status, batch.completed, template.status.',
  })
  events!: string[]
}

@InputType({ description: 'What to change; omitted fields stay as they are.' })
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true })
  url?: string | null

  @Field(() => [String], { nullable: true })
  events?: string[] | null

  @Field(() => Boolean, { nullable: true, description: 'false disables it (as disableWebhookEndpoint).' })
  enabled?: boolean | null
}
