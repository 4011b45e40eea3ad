import { ApolloServer, type ApolloServerPlugin } from '@apollo/server'
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled'
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default'
import { unwrapResolverError } from '@apollo/server/errors'
import type { FastifyBaseLogger } from 'fastify'
import type { GraphQLFormattedError } from 'graphql'
import { domainError, errorHeaders, graphqlExtensions } from '../errors/error.answers.js'
import { DatabaseUnavailableError, InternalError } from '../errors/errors.js'
import type { Config } from '../config.js'
import { queryLimitsPlugin } from './limits.js'
import { scopePlugin } from './scopes.js'
import type { GraphQLContext } from './context.js'
import { type CompiledQueries, compiledExecution } from './compiled-execution.js'
import { getSchema } from './schema.js'

/**
 * Maps errors once for GraphQL: our domain errors keep their `code` (and details such as `fields`
 * or `meta`) in `extensions`; GraphQL's own errors pass through; anything else is a bug, logged in
 * full and masked as INTERNAL_SERVER_ERROR.
 */
export function formatErrorWith(log: FastifyBaseLogger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const unwrapped = unwrapResolverError(error)
    const known = domainError(unwrapped)
    if (known) {
      if (known instanceof InternalError) log.error({ err: known.cause ?? known }, 'internal error')
      return {
        message: known.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: graphqlExtensions(known),
      }
    }
    // Apollo wraps failures (a resolver's, or the context's) as INTERNAL_SERVER_ERROR GraphQLErrors:
    // those are masked below; GraphQL's own errors (parse, validation, variables) pass.
    if (formatted.extensions?.code !== 'INTERNAL_SERVER_ERROR') {
      const { stacktrace: _, ...extensions } = formatted.extensions ?? {}
      return { ...formatted, extensions }
    }
    log.error({ err: unwrapped }, 'unexpected error in a GraphQL operation')
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    }
  }
}

/** An operation that met a database outage answers 503 with Retry-After, as REST does. */
const databaseOutagePlugin: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        const body = response.body
        const errors = body.kind === 'single' ? body.singleResult.errors : undefined
        if (!errors?.some((e) => e.extensions?.code === 'DATABASE_UNAVAILABLE')) return
        const outage = new DatabaseUnavailableError()
        response.http.status = outage.httpStatus
        for (const [name, value] of Object.entries(errorHeaders(outage))) response.http.headers.set(name, value)
      },
    }
  },
}

export async function createApolloServer(options: {
  config: Config['graphql']
  log: FastifyBaseLogger
  plugins?: ApolloServerPlugin<GraphQLContext>[]
  /** Where the operations' compiled forms are kept (shared with accepted-queries.ts). */
  compiled: CompiledQueries
}): Promise<ApolloServer<GraphQLContext>> {
  const schema = await getSchema()
  const { config } = options
  return new ApolloServer<GraphQLContext>({
    // The schema, executed as compiled functions (compiled-execution.ts).
    gateway: compiledExecution(schema, options.compiled),
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // No "Did you mean …?" hints that reveal the schema when introspection is off.
    hideSchemaDetailsFromClientErrors: !config.introspection,
    // Batched requests multiply the work of one HTTP request past the cost limits: refused.
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    formatError: formatErrorWith(options.log),
    // The app's own shutdown (main.ts) stops Apollo in its turn. Apollo's own SIGTERM handler would
    // race it: it stopped the server on its own, then the app's apollo.stop() never returned.
    stopOnTerminationSignals: false,
    plugins: [
      // Before anything else looks at the operation: a key outside its scope gets 403 and nothing runs.
      scopePlugin(),
      ...(options.plugins ?? []),
      // Per-field cache hints: nothing here uses them (our response cache goes by the database's
      // snapshot, response-cache.ts), yet the default plugin wraps every field resolver to compute them. Off.
      ApolloServerPluginCacheControlDisabled(),
      // Inline traces are for federated subgraphs, which this schema is not.
      ApolloServerPluginInlineTraceDisabled(),
      queryLimitsPlugin(schema, config),
      databaseOutagePlugin,
      config.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  })
}
