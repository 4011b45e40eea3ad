import { GraphQLError, GraphQLScalarType, Kind } from 'graphql'
import { JSONObjectResolver } from 'graphql-scalars'
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql'
import { Connection } from '../shared/connection.type.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

/**
 * `sendAt`'s type: an ISO 8601 date and time with an offset, taken as the string it is so that the
 * service checks it (a missing offset, a past time, more than 30 days ahead) and answers
 * VALIDATION_FAILED naming `sendAt`, as REST does.
 */
export const DateTimeISO = new GraphQLScalarType<string, string>({
  name: 'DateTimeISO',
  description: 'An ISO 8601 date and time with a UTC offset, e.g. 2026-03-03T10:30:00-06:00.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: (value) => {
    if (typeof value !== 'string') throw new GraphQLError('DateTimeISO must be a string')
    return value
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTimeISO must be a string', { nodes: ast })
    return ast.value
  },
})

export enum ScheduledSendStatus {
  SCHEDULED = 'scheduled',
  SENDING = 'sending',
  SENT = 'sent',
  FAILED = 'failed',
  CANCELLED = 'cancelled',
}
registerEnumType(ScheduledSendStatus, {
  name: 'ScheduledSendStatus',
  description:
    'SCHEDULED: waiting for sendAt (cancellable). SENDING: an instance is sending it. SENT: it was sent as an ' +
    'immediate send is (its message or batch shows how that went). FAILED: see error. CANCELLED: never sent.',
})

export enum ScheduledSendKind {
  SEND_TEXT = 'sendText',
  SEND_IN_CONVERSATION = 'sendInConversation',
  SEND_TEMPLATE = 'sendTemplate',
}
registerEnumType(ScheduledSendKind, {
  name: 'ScheduledSendKind',
  description:
    'SEND_TEXT: to a number (scheduleText, scheduleMessage, REST /send). ' +
    'SEND_IN_CONVERSATION: in a conversation. SEND_TEMPLATE: a template to its recipients.',
})

@ObjectType({ description: 'Why a scheduled send failed: the code an immediate send would have answered.' })
export class ScheduledSendError {
  @Field(() => String, {
    description: 'e.g. TEMPLATE_PAUSED, TEMPLATE_DISABLED, WINDOW_CLOSED, VALIDATION_FAILED, META_API_ERROR',
  })
  code!: string

  @Field(() => String)
  message!: string

  @Field(() => JSONObjectResolver, { nullable: true, description: "Details: Meta's error, the template's reason…" })
  details!: Record<string, unknown> | null
}

@ObjectType({ description: 'A send to make later (sendAt), and once made, what it made.' })
export class ScheduledSend {
  @Field(() => Int)
  id!: number

  @Field(() => ScheduledSendKind)
  kind!: ScheduledSendKind

  @Field(() => ScheduledSendStatus)
  status!: ScheduledSendStatus

  @Field(() => DateTimeScalar)
  sendAt!: Date

  @Field(() => DateTimeScalar, { nullable: true, description: 'When it went out.' })
  sentAt!: Date | null

  @Field(() => Boolean, {
    description: 'It went out well after sendAt (no instance was running then): compare sentAt.',
  })
  late!: boolean

  @Field(() => DateTimeScalar, { nullable: true, description: 'When it was sent, failed or cancelled.' })
  completedAt!: Date | null

  @Field(() => String, { nullable: true, description: 'Digits; a template to one recipient names it too.' })
  phoneNumber!: string | null

  @Field(() => Int, { nullable: true })
  conversationId!: number | null

  @Field(() => String, { nullable: true })
  templateName!: string | null

  @Field(() => String, { nullable: true })
  language!: string | null

  @Field(() => Int, { nullable: true, description: 'The message it made (query message(id)).' })
  messageId!: number | null

  @Field(() => Int, { nullable: true, description: 'The template batch it made (query templateBatch(id)).' })
  batchId!: number | null

  @Field(() => ScheduledSendError, { nullable: true })
  error!: ScheduledSendError | null

  @Field(() => DateTimeScalar)
  createdAt!: Date
}

@ObjectType()
export class ScheduledSendConnection extends Connection(ScheduledSend, 'ScheduledSend') {}
