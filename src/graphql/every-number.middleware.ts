import type { MiddlewareFn } from 'type-graphql'
import { ForbiddenError } from '../errors/errors.js'
import type { GraphQLContext } from './context.js'

/**
 * For operations that span every business number (event-webhook endpoints get every number's
 * events; a simulated inbound message goes to the default number): refused to a caller limited to
 * some numbers, before anything happens.
 */
export const EveryNumber: MiddlewareFn<GraphQLContext> = async ({ context }, next) => {
  if (context.principal.phoneNumberIds !== null)
    throw new ForbiddenError('This key is limited to some business numbers; this operation spans every number')
  return next()
}
