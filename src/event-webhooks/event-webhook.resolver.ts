import { Arg, FieldResolver, Int, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql'
import { EveryNumber } from '../graphql/every-number.middleware.js'
import { pageArgs, toConnection } from '../shared/connection.type.js'
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from './event-webhook.repository.js'
import type { EventWebhookService } from './event-webhook.service.js'
import { CreateWebhookEndpointInput, UpdateWebhookEndpointInput } from './event-webhook.input.js'
import {
  CreateWebhookEndpointPayload,
  WebhookDelivery,
  WebhookDeliveryConnection,
  WebhookDeliveryStatus,
  WebhookEndpoint,
} from './event-webhook.type.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

// Every field here is ADMIN-only (src/auth/scopes.ts).
@Resolver(() => WebhookDelivery)
// Spans every business number: refused to a caller limited to some.
@UseMiddleware(EveryNumber)
export class EventWebhookResolver {
  constructor(private readonly service: EventWebhookService) {}

  @Query(() => [WebhookEndpoint], { description: 'Event-webhook endpoints, oldest first.' })
  webhookEndpoints(): Promise<WebhookEndpointRecord[]> {
    return this.service.list()
  }

  @Query(() => WebhookDeliveryConnection, {
    description: 'Deliveries of events to endpoints, newest first; optionally of one endpoint, in one status.',
  })
  async webhookDeliveries(
    @Arg('endpointId', () => Int, { nullable: true }) endpointId?: number | null,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true }) status?: WebhookDeliveryStatus | null,
    @Arg('first', () => Int, pageArgs.first) first?: number | null,
    @Arg('after', () => String, pageArgs.after) after?: string | null,
  ) {
    return toConnection(await this.service.deliveries({ endpointId, status, first, after }))
  }

  @Mutation(() => CreateWebhookEndpointPayload, {
    description:
      'Registers an endpoint for the given event types; answers its signing secret, shown only here. ' +
      'WEBHOOK_URL_REFUSED for a URL the service will not call, VALIDATION_FAILED for unknown event types.',
  })
  async createWebhookEndpoint(
    @Arg('input', () => CreateWebhookEndpointInput) input: CreateWebhookEndpointInput,
  ): Promise<CreateWebhookEndpointPayload> {
    const { endpoint, secret } = await this.service.create(input)
    return { id: endpoint.id, secret, endpoint }
  }

  @Mutation(() => WebhookEndpoint, { description: 'Changes an endpoint (its URL is checked again). NOT_FOUND.' })
  updateWebhookEndpoint(
    @Arg('id', () => Int) id: number,
    @Arg('input', () => UpdateWebhookEndpointInput) input: UpdateWebhookEndpointInput,
  ): Promise<WebhookEndpointRecord> {
    return this.service.update(id, input)
  }

  @Mutation(() => WebhookEndpoint, {
    description: 'Stops sending new events to an endpoint; its pending deliveries wait until it is enabled again.',
  })
  disableWebhookEndpoint(@Arg('id', () => Int) id: number): Promise<WebhookEndpointRecord> {
    return this.service.update(id, { enabled: false })
  }

  @Mutation(() => Boolean, { description: 'Deletes an endpoint and its deliveries. NOT_FOUND.' })
  deleteWebhookEndpoint(@Arg('id', () => Int) id: number): Promise<boolean> {
    return this.service.delete(id)
  }

  @Mutation(() => WebhookDelivery, {
    description: 'Sends a delivery again now (a failed one, or any), same event id; retried as a new one. NOT_FOUND.',
  })
  retryWebhookDelivery(@Arg('id', () => Int) id: number): Promise<WebhookDeliveryRecord> {
    return this.service.retryDelivery(id)
  }

  @Mutation(() => [WebhookDelivery], {
    description: 'Sends an event again, with its id, to the endpoints it went to (or to one of them). NOT_FOUND.',
  })
  resendWebhookEvent(
    @Arg('eventId', () => String) eventId: string,
    @Arg('endpointId', () => Int, { nullable: true }) endpointId?: number | null,
  ): Promise<WebhookDeliveryRecord[]> {
    return this.service.resendEvent(eventId, endpointId)
  }

  @FieldResolver(() => String)
  payload(@Root() delivery: WebhookDeliveryRecord): string {
    return delivery.body
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true })
  nextAttemptAt(@Root() delivery: WebhookDeliveryRecord): Date | null {
    return delivery.status === 'pending' ? delivery.nextAttemptAt : null
  }
}
