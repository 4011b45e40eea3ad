import { JSONResolver } from 'graphql-scalars'
import { Field, ObjectType } from 'type-graphql'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

@ObjectType({ description: 'A button of a BUTTONS component.' })
export class TemplateButton {
  @Field(() => String, { description: 'URL, QUICK_REPLY, PHONE_NUMBER, COPY_CODE, …' })
  type!: string

  @Field(() => String, { nullable: true })
  text?: string

  @Field(() => String, { nullable: true })
  url?: string

  @Field(() => String, { nullable: true, name: 'phoneNumber' })
  phone_number?: string
}

@ObjectType({ description: 'A part of a template, as Meta describes it.' })
export class TemplateComponent {
  @Field(() => String, { description: 'HEADER, BODY, FOOTER or BUTTONS.' })
  type!: string

  @Field(() => String, { nullable: true, description: 'For HEADER: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION.' })
  format?: string

  @Field(() => String, { nullable: true, description: 'Text with {{1}} or {{name}} placeholders.' })
  text?: string

  @Field(() => [TemplateButton], { nullable: true })
  buttons?: TemplateButton[]

  @Field(() => JSONResolver, { nullable: true, description: "Meta's example values for the placeholders." })
  example?: unknown
}

@ObjectType({ description: 'A WhatsApp message template, as last synced from Meta.' })
export class Template {
  @Field(() => String)
  name!: string

  @Field(() => String, { description: 'Language code, e.g. es, en_US.' })
  language!: string

  @Field(() => String, { description: 'APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …' })
  status!: string

  @Field(() => String, { description: 'UTILITY, MARKETING or AUTHENTICATION.' })
  category!: string

  @Field(() => String, { nullable: true, description: 'POSITIONAL ({{1}}) or NAMED ({{name}}).' })
  parameterFormat!: string | null

  @Field(() => [TemplateComponent])
  components!: TemplateComponent[]

  @Field(() => DateTimeScalar, { description: 'When it was last seen at Meta.' })
  syncedAt!: Date

  @Field(() => String, {
    nullable: true,
    description: 'The WhatsApp Business Account it belongs to (templates are synced per account).',
  })
  businessAccountId!: string | null
}
