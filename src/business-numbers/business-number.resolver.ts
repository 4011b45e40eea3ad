import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql'
import type { GraphQLContext } from '../graphql/context.js'
import { ForbiddenError } from '../errors/errors.js'
import { AddBusinessNumberInput } from './business-number.input.js'
import type { BusinessNumberService, BusinessNumberView } from './business-number.service.js'
import { BusinessNumber } from './business-number.type.js'

// ADMIN only (src/auth/scopes.ts).
@Resolver(() => BusinessNumber)
export class BusinessNumberResolver {
  constructor(private readonly service: BusinessNumberService) {}

  @Query(() => [BusinessNumber], { description: 'The business numbers this key may use, oldest first.' })
  businessNumbers(@Ctx() ctx: GraphQLContext): Promise<BusinessNumberView[]> {
    return this.service.list(ctx.principal.phoneNumberIds)
  }

  @Mutation(() => BusinessNumber, {
    description:
      'Adds a business number (or changes one added before); webhooks kept for it until now are applied. ' +
      'VALIDATION_FAILED; FORBIDDEN for a key limited to some numbers.',
  })
  addBusinessNumber(
    @Arg('input', () => AddBusinessNumberInput) input: AddBusinessNumberInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BusinessNumberView> {
    // A key limited to some numbers configures none: adding one would widen what every key sees.
    if (ctx.principal.phoneNumberIds !== null) throw new ForbiddenError('This key may not add business numbers')
    return this.service.add(input)
  }
}
