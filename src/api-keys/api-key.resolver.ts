import { Arg, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql'
import { EveryNumber } from '../graphql/every-number.middleware.js'
import type { ApiKeyRecord } from './api-key.repository.js'
import type { ApiKeyService } from './api-key.service.js'
import { CreateApiKeyInput } from './api-key.input.js'
import { ApiKey, CreateApiKeyPayload } from './api-key.type.js'

// ADMIN only, as src/auth/scopes.ts says.
@Resolver()
// Keys span every business number (a key made here could name any): refused to a caller limited to some.
@UseMiddleware(EveryNumber)
export class ApiKeyResolver {
  constructor(private readonly service: ApiKeyService) {}

  @Query(() => [ApiKey], { description: 'Every API key, oldest first (never the keys themselves).' })
  apiKeys(): Promise<ApiKeyRecord[]> {
    return this.service.list()
  }

  @Mutation(() => CreateApiKeyPayload, {
    description: 'Makes a key; answers it, shown only here. VALIDATION_FAILED for a name already taken.',
  })
  createApiKey(@Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput): Promise<CreateApiKeyPayload> {
    return this.service.create(input)
  }

  @Mutation(() => Boolean, {
    description:
      'Revokes a key at once, on every instance: its requests are refused and its open subscriptions closed. ' +
      'False when there is no key of that name.',
  })
  revokeApiKey(@Arg('name', () => String) name: string): Promise<boolean> {
    return this.service.revoke(name)
  }
}
