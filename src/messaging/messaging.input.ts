import { Field, InputType, Int, registerEnumType } from 'type-graphql'

export enum OutboundMessageType {
  TEXT = 'text',
}
registerEnumType(OutboundMessageType, { name: 'OutboundMessageType', description: 'Only TEXT for now.' })

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
}

@InputType()
export class SendInConversationInput {
  @Field(() => Int)
  conversationId!: number

  @Field(() => String)
  content!: string

  @Field(() => OutboundMessageType, { defaultValue: OutboundMessageType.TEXT })
  type!: OutboundMessageType
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
}

/** The REST request shape (Meta's component format) for a GraphQL SendTemplateInput. */
export function toSendTemplateRequest(input: SendTemplateInput) {
  return {
    templateName: input.templateName,
    languageCode: input.languageCode,
    recipients: input.recipients,
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
