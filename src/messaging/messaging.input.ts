import { Field, Float, InputType, Int, registerEnumType } from 'type-graphql'

export enum OutboundMessageType {
  TEXT = 'text',
  IMAGE = 'image',
  VIDEO = 'video',
  AUDIO = 'audio',
  DOCUMENT = 'document',
  STICKER = 'sticker',
  LOCATION = 'location',
  INTERACTIVE = 'interactive',
  REACTION = 'reaction',
}
registerEnumType(OutboundMessageType, {
  name: 'OutboundMessageType',
  description:
    'TEXT: content. IMAGE, VIDEO, DOCUMENT: mediaId or link, caption (DOCUMENT also filename). AUDIO, STICKER: ' +
    'mediaId or link. LOCATION: location. INTERACTIVE: content (the body) with buttons or list, header, footer. ' +
    'REACTION: replyTo and emoji ("" removes it).',
})

@InputType()
export class LocationInput {
  @Field(() => Float, { description: '-90 to 90.' })
  latitude!: number

  @Field(() => Float, { description: '-180 to 180.' })
  longitude!: number

  @Field(() => String, { nullable: true })
  name?: string | null

  @Field(() => String, { nullable: true })
  address?: string | null
}

@InputType({ description: 'A reply button: up to 3, titles of at most 20 characters.' })
export class ButtonInput {
  @Field(() => String, { description: 'Comes back in the customer’s reply (Message.interactive.id).' })
  id!: string

  @Field(() => String)
  title!: string
}

@InputType()
export class ListRowInput {
  @Field(() => String)
  id!: string

  @Field(() => String, { description: 'At most 24 characters.' })
  title!: string

  @Field(() => String, { nullable: true, description: 'At most 72 characters.' })
  description?: string | null
}

@InputType()
export class ListSectionInput {
  @Field(() => String, { nullable: true, description: 'Required when there are several sections.' })
  title?: string | null

  @Field(() => [ListRowInput])
  rows!: ListRowInput[]
}

@InputType({ description: 'A list: at most 10 sections and 10 rows in all.' })
export class ListInput {
  @Field(() => String, { description: 'The label of the button that opens the list (at most 20 characters).' })
  button!: string

  @Field(() => [ListSectionInput])
  sections!: ListSectionInput[]
}

/**
 * The fields of a message of any kind, inherited by the inputs below (type-graphql needs the base
 * decorated; unused itself, it is not in the schema). Which ones a type uses: see OutboundMessageType.
 */
@InputType()
abstract class MessageContentInput {
  @Field(() => OutboundMessageType, { defaultValue: OutboundMessageType.TEXT })
  type!: OutboundMessageType

  @Field(() => String, { nullable: true, description: 'TEXT: the text. INTERACTIVE: the body.' })
  content?: string | null

  @Field(() => String, { nullable: true, description: 'A file uploaded with POST /api/whatsapp/media.' })
  mediaId?: string | null

  @Field(() => String, { nullable: true, description: 'A public https URL of the file, instead of mediaId.' })
  link?: string | null

  @Field(() => String, { nullable: true, description: 'IMAGE, VIDEO, DOCUMENT: at most 1,024 characters.' })
  caption?: string | null

  @Field(() => String, { nullable: true, description: 'DOCUMENT: the name the customer sees.' })
  filename?: string | null

  @Field(() => LocationInput, { nullable: true })
  location?: LocationInput | null

  @Field(() => String, { nullable: true, description: 'INTERACTIVE: a text header (at most 60 characters).' })
  header?: string | null

  @Field(() => String, { nullable: true, description: 'INTERACTIVE: a footer (at most 60 characters).' })
  footer?: string | null

  @Field(() => [ButtonInput], { nullable: true })
  buttons?: ButtonInput[] | null

  @Field(() => ListInput, { nullable: true })
  list?: ListInput | null

  @Field(() => Int, {
    nullable: true,
    description: 'Our id of the message to quote (any type) or to react to (REACTION).',
  })
  replyTo?: number | null

  @Field(() => String, { nullable: true, description: 'REACTION: one emoji, or "" to remove ours.' })
  emoji?: string | null
}

@InputType({ description: 'A message of any kind to a number; creates its conversation if needed.' })
export class SendMessageInput extends MessageContentInput {
  @Field(() => String, { description: 'International format, e.g. +50212345678.' })
  phoneNumber!: string

  @Field(() => Int, { nullable: true, description: 'The service request to link the conversation to.' })
  requestId?: number | null

  @Field(() => String, {
    nullable: true,
    description: 'The business number to send from (its phone number id); omitted: the default number.',
  })
  from?: string | null
}

export enum TemplateComponentType {
  HEADER = 'header',
  BODY = 'body',
  BUTTON = 'button',
}
registerEnumType(TemplateComponentType, { name: 'TemplateComponentType' })

export enum TemplateButtonSubType {
  URL = 'url',
  QUICK_REPLY = 'quick_reply',
  COPY_CODE = 'copy_code',
  FLOW = 'flow',
}
registerEnumType(TemplateButtonSubType, { name: 'TemplateButtonSubType' })

export enum TemplateParameterType {
  TEXT = 'text',
  PAYLOAD = 'payload',
  IMAGE = 'image',
  VIDEO = 'video',
  DOCUMENT = 'document',
}
registerEnumType(TemplateParameterType, { name: 'TemplateParameterType' })

@InputType()
export class SendTextInput {
  @Field(() => String, { description: 'International format, e.g. +50212345678.' })
  phoneNumber!: string

  @Field(() => String)
  content!: string

  @Field(() => Int, { nullable: true, description: 'The service request to link the conversation to.' })
  requestId?: number | null

  @Field(() => String, {
    nullable: true,
    description: 'The business number to send from (its phone number id); omitted: the default number.',
  })
  from?: string | null
}

@InputType({ description: 'A message of any kind in an existing conversation.' })
export class SendInConversationInput extends MessageContentInput {
  @Field(() => Int)
  conversationId!: number
}

@InputType({
  description:
    'One parameter: TEXT uses text (and parameterName for NAMED templates), PAYLOAD uses payload, media use link.',
})
export class TemplateParameterInput {
  @Field(() => TemplateParameterType)
  type!: TemplateParameterType

  @Field(() => String, { nullable: true })
  text?: string | null

  @Field(() => String, { nullable: true, description: 'For templates with NAMED parameters.' })
  parameterName?: string | null

  @Field(() => String, { nullable: true, description: 'For QUICK_REPLY buttons.' })
  payload?: string | null

  @Field(() => String, { nullable: true, description: 'For IMAGE, VIDEO and DOCUMENT headers.' })
  link?: string | null

  @Field(() => String, { nullable: true, description: 'For DOCUMENT headers.' })
  filename?: string | null
}

@InputType()
export class TemplateComponentInput {
  @Field(() => TemplateComponentType)
  type!: TemplateComponentType

  @Field(() => TemplateButtonSubType, { nullable: true, description: 'Required for BUTTON.' })
  subType?: TemplateButtonSubType | null

  @Field(() => Int, { nullable: true, description: 'Required for BUTTON: the button’s position, 0 to 9.' })
  index?: number | null

  @Field(() => [TemplateParameterInput], { defaultValue: [] })
  parameters!: TemplateParameterInput[]
}

@InputType()
export class TemplateRecipientInput {
  @Field(() => String, { description: 'International format, e.g. +50212345678.' })
  phoneNumber!: string

  @Field(() => Int, { nullable: true })
  requestId?: number | null
}

@InputType()
export class SendTemplateInput {
  @Field(() => String)
  templateName!: string

  @Field(() => String, { description: 'e.g. es, en_US, es_MX' })
  languageCode!: string

  @Field(() => [TemplateComponentInput], { defaultValue: [] })
  components!: TemplateComponentInput[]

  @Field(() => [TemplateRecipientInput])
  recipients!: TemplateRecipientInput[]

  @Field(() => String, {
    nullable: true,
    description: 'The business number to send from (its phone number id); omitted: the default number.',
  })
  from?: string | null
}

/** The REST request shape (Meta's component format) for a GraphQL SendTemplateInput. */
export function toSendTemplateRequest(input: SendTemplateInput) {
  return {
    templateName: input.templateName,
    languageCode: input.languageCode,
    recipients: input.recipients,
    ...(input.from != null ? { from: input.from } : {}),
    components: input.components.map((c) => ({
      type: c.type,
      ...(c.subType != null ? { sub_type: c.subType } : {}),
      ...(c.index != null ? { index: c.index } : {}),
      parameters: c.parameters.map((p) => {
        switch (p.type) {
          case TemplateParameterType.TEXT:
            return { type: p.type, text: p.text, ...(p.parameterName ? { parameter_name: p.parameterName } : {}) }
          case TemplateParameterType.PAYLOAD:
            return { type: p.type, payload: p.payload }
          case TemplateParameterType.DOCUMENT:
            return { type: p.type, document: { link: p.link, ...(p.filename ? { filename: p.filename } : {}) } }
          default:
            return { type: p.type, [p.type]: { link: p.link } }
        }
      }),
    })),
  }
}
