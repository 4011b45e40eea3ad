import { Field, Int, ObjectType, registerEnumType } from 'type-graphql'
import { Connection } from '../shared/connection.type.js'
import { Message, MessageStatus } from '../messages/message.type.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

export enum TemplateBatchStatus {
  RUNNING = 'running',
  COMPLETED = 'completed',
}
registerEnumType(TemplateBatchStatus, {
  name: 'TemplateBatchStatus',
  description: 'RUNNING: recipients are being sent to (resumed after a restart). COMPLETED: each has an outcome.',
})

@ObjectType({ description: 'How many recipients’ messages are in each state.' })
export class TemplateBatchProgress {
  @Field(() => Int, { description: 'Not sent yet.' })
  pending!: number

  @Field(() => Int, { description: 'Meta may have taken it; its status webhook will settle it.' })
  unknown!: number

  @Field(() => Int)
  sent!: number

  @Field(() => Int)
  delivered!: number

  @Field(() => Int)
  read!: number

  @Field(() => Int)
  failed!: number
}

@ObjectType({ description: 'One recipient of a template fan-out.' })
export class TemplateBatchRecipient {
  @Field(() => String, { description: 'As given in the request.' })
  phoneNumber!: string

  @Field(() => MessageStatus)
  status!: MessageStatus

  @Field(() => Message, { description: 'The recipient’s template message (status, wamid, error).' })
  message!: Message
}

@ObjectType()
export class TemplateBatchRecipientConnection extends Connection(TemplateBatchRecipient, 'TemplateBatchRecipient') {}

@ObjectType({ description: 'A template sent to many recipients, stored with each recipient’s outcome.' })
export class TemplateBatch {
  @Field(() => Int)
  id!: number

  @Field(() => String)
  templateName!: string

  @Field(() => String)
  language!: string

  @Field(() => TemplateBatchStatus)
  status!: TemplateBatchStatus

  @Field(() => Int, { description: 'Recipients in the request.' })
  total!: number

  @Field(() => DateTimeScalar)
  createdAt!: Date

  @Field(() => DateTimeScalar, { nullable: true })
  completedAt!: Date | null
}

@ObjectType()
export class TemplateBatchConnection extends Connection(TemplateBatch, 'TemplateBatch') {}
