import { Field, ObjectType } from 'type-graphql'
import type { Scope as ScopeName } from '../auth/principal.js'
import { Scope } from './api-key.input.js'
import { DateTimeScalar } from '../graphql/date-time.scalar.js'

@ObjectType({ description: 'A stored API key: never the key itself, which is shown only once, by createApiKey.' })
export class ApiKey {
  @Field(() => String, { description: 'Unique; shown as `sentBy` on the messages it sends.' })
  name!: string

  @Field(() => Scope)
  scope!: ScopeName

  @Field(() => [String], {
    nullable: true,
    description: 'The business numbers (Meta phone number ids) it may use; null: every number.',
  })
  phoneNumberIds!: string[] | null

  @Field(() => DateTimeScalar)
  createdAt!: Date

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'When it was last used (to the minute or so: not written on every request); null: never.',
  })
  lastUsedAt!: Date | null
}

@ObjectType({ description: 'A new key, shown only here.' })
export class CreateApiKeyPayload {
  @Field(() => String, {
    description: 'The key (`wag_…`), for `Authorization: Bearer <key>`. Shown only once: only its digest is kept.',
  })
  key!: string

  @Field(() => ApiKey)
  apiKey!: ApiKey
}
