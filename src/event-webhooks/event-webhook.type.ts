import { Field, Int, ObjectType, registerEnumType } from 'type-graphql'
import { Connection } from '../shared/connection.type.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

export enum WebhookDeliveryStatus {
  PENDING = 'pending',
  DELIVERED = 'delivered',
  FAILED = 'failed',
}
registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description:
    'PENDING: not delivered yet (in flight, or waiting for its retry or for an earlier event of its conversation). ' +
    'DELIVERED: the endpoint answered 2xx. FAILED: retried for 24 hours without a 2xx (retryWebhookDelivery sends it again).',
})

@ObjectType({ description: 'An endpoint of the business that receives signed event webhooks (docs/webhooks-out.md).' })
export class WebhookEndpoint {
  @Field(() => Int)
  id!: number

  @Field(() => String)
  url!: string

  @Field(() => [String], {
    description: 'Event types it receives: message.received, message.status, batch.completed, template.status.',
  })
  events!: string[]

  @Field(() => Boolean, { description: 'False: it gets no new events; its pending deliveries wait.' })
  enabled!: boolean

  @Field(() => DateTimeScalar)
  createdAt!: Date

  @Field(() => DateTimeScalar)
  updatedAt!: Date
}

@ObjectType({ description: 'A new endpoint and its signing secret, shown only here.' })
export class CreateWebhookEndpointPayload {
  @Field(() => Int)
  id!: number

  @Field(() => String, {
    description: 'Signs every delivery (X-Gateway-Signature, see the README). Shown only once: keep it now.',
  })
  secret!: string

  @Field(() => WebhookEndpoint)
  endpoint!: WebhookEndpoint
}

@ObjectType({ description: 'One event for one endpoint, and what became of it.' })
export class WebhookDelivery {
  @Field(() => Int)
  id!: number

  @Field(() => Int)
  endpointId!: number

  @Field(() => String, { description: 'The event id (X-Gateway-Event-Id): the same on every attempt and resend.' })
  eventId!: string

  @Field(() => String)
  eventType!: string

  @Field(() => Int, { nullable: true })
  conversationId!: number | null

  @Field(() => WebhookDeliveryStatus)
  status!: WebhookDeliveryStatus

  @Field(() => Int, { description: 'Attempts made so far.' })
  attempts!: number

  @Field(() => DateTimeScalar, { nullable: true })
  lastAttemptAt!: Date | null

  @Field(() => Int, { nullable: true, description: 'The HTTP status of the last answer; null when none came.' })
  lastStatusCode!: number | null

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed (status, timeout, refused).' })
  lastError!: string | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'PENDING: when it is tried next (at the earliest).' })
  nextAttemptAt!: Date | null

  @Field(() => DateTimeScalar, { nullable: true })
  deliveredAt!: Date | null

  @Field(() => DateTimeScalar)
  createdAt!: Date

  @Field(() => String, { description: 'The JSON body, exactly as signed and sent.' })
  payload!: string
}

@ObjectType()
export class WebhookDeliveryConnection extends Connection(WebhookDelivery, 'WebhookDelivery') {}
