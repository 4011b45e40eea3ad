import { ApolloServer, type ApolloServerPlugin } from '@apollo/server'
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled'
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default'
import { unwrapResolverError } from '@apollo/server/errors'
import type { FastifyBaseLogger } from 'fastify'
import { GraphQLError, type GraphQLFormattedError } from 'graphql'
import { AppError, errorPayload, InternalError } from '../errors.js'
import { getSchema, type GraphQLContext } from './schema.js'

/**
 * Maps errors once for GraphQL: our domain errors keep their `code` (and details such as `fields`
 * or `meta`) in `extensions`; GraphQL's own errors pass through; anything else is a bug, logged in
 * full and masked as INTERNAL_SERVER_ERROR.
 */
export function formatErrorWith(log: FastifyBaseLogger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error)
    if (original instanceof AppError) {
      if (original instanceof InternalError) log.error({ err: original.cause ?? original }, 'internal error')
      const { code, message, ...details } = errorPayload(original)
      return { message, locations: formatted.locations, path: formatted.path, extensions: { code, ...details } }
    }
    if (original instanceof GraphQLError || formatted.extensions?.code !== 'INTERNAL_SERVER_ERROR') {
      const { stacktrace: _, ...extensions } = formatted.extensions ?? {}
      return { ...formatted, extensions }
    }
    log.error({ err: original }, 'unexpected error in a GraphQL operation')
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    }
  }
}

export async function createApolloServer(options: {
  production: boolean
  log: FastifyBaseLogger
  plugins?: ApolloServerPlugin<GraphQLContext>[]
}): Promise<ApolloServer<GraphQLContext>> {
  return new ApolloServer<GraphQLContext>({
    schema: await getSchema(),
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    formatError: formatErrorWith(options.log),
    plugins: [
      ...(options.plugins ?? []),
      options.production
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
    ],
  })
}
