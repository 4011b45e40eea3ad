import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server'
import { type DocumentNode, execute, type ExecutionResult, GraphQLError, type GraphQLSchema } from 'graphql'
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit'

type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway']

/** Operations compiled per parsed document (Apollo keeps one per query text) and operation name. */
const MAX_OPERATIONS_PER_DOCUMENT = 8

/**
 * Executes operations as graphql-jit compiles them: each operation once into a function that walks
 * exactly its fields, instead of graphql-js interpreting the document on every request: a page of
 * 50 messages with their parts is ~1,500 fields (BENCHMARKS.md, "Dashboard reads", says what it
 * saves). Resolvers, scalars and errors are the schema's own.
 *
 * Apollo Server takes a custom executor only from a gateway; this is one that serves `schema`.
 * A field without a resolver must hold its value, not a promise: graphql-jit awaits only what a
 * resolver returns (hence `simple: false` on connections' totalCount).
 * Mutations, anything graphql-jit cannot compile, and a query whose variables do not fit (no data,
 * only errors: graphql-js words those errors as Apollo expects for its 400) run on graphql-js.
 */
export function compiledExecution(schema: GraphQLSchema, compiled: CompiledQueries): Gateway {
  const compile = (document: DocumentNode, operationName: string | undefined) => compiled.get(document, operationName)
  return {
    async load() {
      return {
        executor: async (request) => {
          const { document, context } = request
          const operationName = request.operationName ?? undefined
          const variables = request.request.variables ?? {}
          const plain = () =>
            execute({ schema, document, contextValue: context, variableValues: variables, operationName })
          // Reads only: a mutation is never run twice, and is not where the time goes.
          if (request.operation.operation !== 'query') return (await plain()) as ExecutionResult
          const query = compile(document, operationName)
          if (!query) return (await plain()) as ExecutionResult
          const result = await query.query(undefined, context, variables)
          if (result.errors?.length && result.data === undefined) return (await plain()) as ExecutionResult
          return { ...result, errors: result.errors?.map(asGraphQLError) } as ExecutionResult
        },
      }
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' })
      return () => {}
    },
    async stop() {},
  }
}

/** Each operation of a parsed document (Apollo keeps one per query text), compiled once. */
export class CompiledQueries {
  private readonly compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>()

  constructor(private readonly schema: GraphQLSchema) {}

  /** The operation compiled, or null if graphql-jit cannot compile it. */
  get(document: DocumentNode, operationName: string | undefined): CompiledQuery | null {
    let byName = this.compiled.get(document)
    if (!byName) this.compiled.set(document, (byName = new Map()))
    const key = operationName ?? ''
    let query = byName.get(key)
    if (query === undefined) {
      if (byName.size >= MAX_OPERATIONS_PER_DOCUMENT) byName.clear()
      const result = compileQuery(this.schema, document, operationName)
      byName.set(key, (query = isCompiledQuery(result) ? result : null))
    }
    return query
  }
}

/**
 * graphql-jit's errors pass for graphql-js's (instanceof) without being whole (no `extensions`):
 * made again as graphql-js's, so that Apollo and formatError find a resolver's error inside (its
 * code, or a bug to mask) as they do after graphql-js.
 */
function asGraphQLError(error: unknown): GraphQLError {
  const e = error as GraphQLError
  const converted = new GraphQLError(e.message, {
    path: e.path,
    originalError: e.originalError ?? undefined,
    extensions: e.extensions,
  })
  return Object.assign(converted, { locations: e.locations })
}
