import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

export enum MediaStatus {
  UPLOADING = 'uploading',
  DOWNLOADING = 'downloading',
  READY = 'ready',
  FAILED = 'failed',
  REMOTE = 'remote',
}
registerEnumType(MediaStatus, {
  name: 'MediaStatus',
  description:
    'READY: stored here, served at url. DOWNLOADING: a customer’s file still being fetched from Meta. FAILED: ' +
    'fetching it failed for good (error says why). REMOTE: a link we sent (url is that link). UPLOADING: being stored.',
})

@ObjectType({ simpleResolvers: true, description: 'The file of an image, video, audio, document or sticker message.' })
export class MessageMedia {
  @Field(() => String, { description: 'Ours (med_…): send it again with mediaId.' })
  id!: string

  @Field(() => String, { nullable: true })
  mimeType!: string | null

  @Field(() => Int, { nullable: true, description: 'Bytes.' })
  size!: number | null

  @Field(() => String, { nullable: true, description: 'Hex SHA-256 of the bytes.' })
  sha256!: string | null

  @Field(() => String, { nullable: true })
  filename!: string | null

  @Field(() => String, { nullable: true })
  caption!: string | null

  @Field(() => String, {
    nullable: true,
    description: 'Where to get the bytes: /api/whatsapp/media/{id} (same bearer token), or the link we sent.',
  })
  url!: string | null

  @Field(() => MediaStatus)
  status!: MediaStatus

  @Field(() => String, { nullable: true, description: 'Why fetching a customer’s file failed.' })
  error!: string | null

  @Field(() => Boolean, { description: 'A voice note recorded in WhatsApp.' })
  voice!: boolean
}

@ObjectType({ simpleResolvers: true })
export class Location {
  @Field(() => Float)
  latitude!: number

  @Field(() => Float)
  longitude!: number

  @Field(() => String, { nullable: true })
  name!: string | null

  @Field(() => String, { nullable: true })
  address!: string | null
}

@ObjectType({ simpleResolvers: true })
export class InteractiveButton {
  @Field(() => String)
  id!: string

  @Field(() => String)
  title!: string
}

@ObjectType({ simpleResolvers: true })
export class InteractiveListRow {
  @Field(() => String)
  id!: string

  @Field(() => String)
  title!: string

  @Field(() => String, { nullable: true })
  description!: string | null
}

@ObjectType({ simpleResolvers: true })
export class InteractiveListSection {
  @Field(() => String, { nullable: true })
  title!: string | null

  @Field(() => [InteractiveListRow])
  rows!: InteractiveListRow[]
}

@ObjectType({ simpleResolvers: true })
export class InteractiveList {
  @Field(() => String)
  button!: string

  @Field(() => [InteractiveListSection])
  sections!: InteractiveListSection[]
}

@ObjectType({
  simpleResolvers: true,
  description:
    'Sent (type button or list): header, body, footer, buttons or list. Received (type button_reply, list_reply, ' +
    'or button for a template’s quick reply): id, title, description, payload of what the customer chose.',
})
export class MessageInteractive {
  @Field(() => String)
  type!: string

  @Field(() => String, { nullable: true })
  header?: string | null

  @Field(() => String, { nullable: true })
  body?: string | null

  @Field(() => String, { nullable: true })
  footer?: string | null

  @Field(() => [InteractiveButton], { nullable: true })
  buttons?: InteractiveButton[] | null

  @Field(() => InteractiveList, { nullable: true })
  list?: InteractiveList | null

  @Field(() => String, { nullable: true, description: 'The chosen button or row id.' })
  id?: string | null

  @Field(() => String, { nullable: true })
  title?: string | null

  @Field(() => String, { nullable: true })
  description?: string | null

  @Field(() => String, { nullable: true, description: 'A template quick-reply button’s payload.' })
  payload?: string | null
}

export enum ReactionActor {
  CUSTOMER = 'customer',
  BUSINESS = 'business',
}
registerEnumType(ReactionActor, { name: 'ReactionActor' })

@ObjectType({ simpleResolvers: true })
export class Reaction {
  @Field(() => String)
  emoji!: string

  @Field(() => ReactionActor, { description: 'Who reacted.' })
  by!: ReactionActor

  @Field(() => DateTimeScalar)
  reactedAt!: Date
}
