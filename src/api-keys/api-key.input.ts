import { Field, InputType, registerEnumType } from 'type-graphql'
import type { Scope as ScopeName } from '../auth/principal.js'

/** The scopes as a GraphQL enum (type-graphql takes an object of values). */
export const Scope = { READ: 'READ', SEND: 'SEND', ADMIN: 'ADMIN' } as const satisfies Record<ScopeName, ScopeName>
registerEnumType(Scope, {
  name: 'Scope',
  description:
    'What a key may do. READ: queries, subscriptions, media downloads. SEND: READ plus every send, upload and ' +
    'read receipt. ADMIN: SEND plus keys, webhook endpoints and everything else that configures the service.',
})

@InputType()
export class CreateApiKeyInput {
  @Field(() => String, { description: 'Unique: 1 to 64 letters, digits, spaces or . _ @ -.' })
  name!: string

  @Field(() => Scope)
  scope!: ScopeName

  @Field(() => [String], {
    nullable: true,
    description: 'The business numbers (Meta phone number ids) it may use; null or omitted: every number.',
  })
  phoneNumberIds?: string[] | null
}
