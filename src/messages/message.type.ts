import { JSONObjectResolver } from 'graphql-scalars'
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql'
import { Connection } from '../shared/connection.type.js'
import { Location, MessageInteractive } from './message-parts.type.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

export enum MessageDirection {
  INBOUND = 'inbound',
  OUTBOUND = 'outbound',
}
registerEnumType(MessageDirection, { name: 'MessageDirection' })

export enum MessageStatus {
  PENDING = 'pending',
  UNKNOWN = 'unknown',
  SENT = 'sent',
  DELIVERED = 'delivered',
  READ = 'read',
  FAILED = 'failed',
}
registerEnumType(MessageStatus, {
  name: 'MessageStatus',
  description:
    'PENDING: stored, Meta not answered yet. UNKNOWN: Meta may have accepted it but its answer never came; ' +
    'settled by its status webhook, never re-sent. SENT/DELIVERED/READ/FAILED: as Meta reports.',
})

@ObjectType({ simpleResolvers: true, description: 'Why Meta refused or failed a message.' })
export class MessageError {
  @Field(() => Int, { nullable: true, description: "Meta's error code, e.g. 131026." })
  code!: number | null

  @Field(() => String)
  message!: string

  @Field(() => String, { nullable: true })
  details!: string | null

  @Field(() => String, { nullable: true, description: "Meta's fbtrace_id, for Meta support." })
  fbtraceId!: string | null
}

@ObjectType({ simpleResolvers: true })
export class Message {
  @Field(() => Int)
  id!: number

  @Field(() => Int)
  conversationId!: number

  @Field(() => MessageDirection)
  direction!: MessageDirection

  @Field(() => String, {
    description:
      'text, template, image, video, audio, document, sticker, location, contacts, interactive, button, reaction; ' +
      'received: also unsupported, system or any other type Meta sends (see payload).',
  })
  type!: string

  @Field(() => String, {
    nullable: true,
    description:
      'A readable text: the text; a template’s text as the customer sees it; a caption; a reply’s title; a ' +
      'place’s name; or a marker like "[unsupported message]".',
  })
  content!: string | null

  @Field(() => Location, { nullable: true })
  location!: Location | null

  @Field(() => MessageInteractive, { nullable: true, description: 'Buttons or list sent, or the customer’s answer.' })
  interactive!: MessageInteractive | null

  @Field(() => [JSONObjectResolver], {
    nullable: true,
    description: 'Contacts the customer shared, as Meta sent them.',
  })
  contacts!: Record<string, unknown>[] | null

  @Field(() => Int, {
    nullable: true,
    description: 'The message this one quotes, answers (a button or list reply) or reacts to.',
  })
  replyToMessageId!: number | null

  @Field(() => JSONObjectResolver, {
    nullable: true,
    description: 'For templates: name, language and components sent.',
  })
  template!: Record<string, unknown> | null

  @Field(() => MessageStatus)
  status!: MessageStatus

  @Field(() => String, { nullable: true, description: "Meta's message id, once Meta accepted it." })
  wamid!: string | null

  @Field(() => Int, { nullable: true })
  requestId!: number | null

  @Field(() => String, {
    nullable: true,
    description: 'Outbound: the name of the API key (or token) that sent it; null inbound.',
  })
  sentBy!: string | null

  @Field(() => JSONObjectResolver, {
    nullable: true,
    description: 'Inbound: Meta’s message object as received (replies, media, unsupported types).',
  })
  payload!: Record<string, unknown> | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'Inbound: when the customer sent it.' })
  sentByCustomerAt!: Date | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'Outbound: when Meta reported it sent.' })
  sentAt!: Date | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'Outbound: when Meta reported it delivered.' })
  deliveredAt!: Date | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'Outbound: when Meta reported it read.' })
  readAt!: Date | null

  @Field(() => DateTimeScalar, { nullable: true, description: 'Outbound: when Meta reported it failed.' })
  failedAt!: Date | null

  @Field(() => DateTimeScalar)
  createdAt!: Date

  @Field(() => DateTimeScalar)
  updatedAt!: Date
}

@ObjectType({ simpleResolvers: true })
export class MessageConnection extends Connection(Message, 'Message') {}
