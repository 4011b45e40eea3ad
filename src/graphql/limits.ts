import type { ApolloServerPlugin } from '@apollo/server'
import {
  type DocumentNode,
  getNamedType,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql'
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../shared/pagination.js'
import { toGraphQLError } from '../errors/error.answers.js'
import { QueryTooComplexError } from '../errors/errors.js'

export interface QueryLimits {
  maxDepth: number
  maxCost: number
}

/** A connection field costs its page size times what each node costs. */
const connectionEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!getNamedType(field.type).name.endsWith('Connection')) return undefined
  // Page sizes over the maximum are refused by the resolver with a field error; cost them at the maximum.
  const first =
    typeof args.first === 'number' && args.first > 0 ? Math.min(args.first, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE
  return 1 + first * childComplexity
}

/** How deep the operation's selections nest (fragments inlined; introspection fields not counted). */
export function operationDepth(document: DocumentNode, operationName?: string | null): number {
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  )
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  )
  const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
    if (!set) return 0
    let deepest = 0
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue
        deepest = Math.max(deepest, 1 + depthOf(selection.selectionSet, seen))
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, seen))
      } else if (!seen.has(selection.name.value)) {
        const fragment = fragments.get(selection.name.value)
        deepest = Math.max(deepest, depthOf(fragment?.selectionSet, new Set(seen).add(selection.name.value)))
      }
    }
    return deepest
  }
  return depthOf(operation?.selectionSet, new Set())
}

const tooComplex = (message: string, measures: Record<string, number>) =>
  toGraphQLError(new QueryTooComplexError(message, measures), { http: true })

/**
 * Why an operation is over `limits` (nested deeper than `maxDepth`, or costing more than
 * `maxCost`: each field 1, connections their page size times their nodes), or null.
 */
export function limitsProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
  limits: QueryLimits,
): GraphQLError | null {
  const depth = operationDepth(document, operationName)
  if (depth > limits.maxDepth) {
    return tooComplex(`The query is nested ${depth} levels deep; at most ${limits.maxDepth} are allowed`, {
      depth,
      maxDepth: limits.maxDepth,
    })
  }
  let cost: number
  try {
    cost = getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables,
      estimators: [connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
    })
  } catch (err) {
    // Variables that do not fit their types: execution reports them as BAD_USER_INPUT (400).
    if (err instanceof GraphQLError) return null
    throw err
  }
  return cost > limits.maxCost
    ? tooComplex(`The query costs ${cost}; at most ${limits.maxCost} is allowed (ask for smaller pages)`, {
        cost,
        maxCost: limits.maxCost,
      })
    : null
}

/**
 * Refuses operations over the limits before anything runs. The verdict is kept per document (Apollo
 * hands back the same parsed document for the same query text), operation and variables: a
 * dashboard repeats a handful of queries, and walking the whole document each time cost ~2% of a read.
 */
export function queryLimitsPlugin(schema: GraphQLSchema, limits: QueryLimits): ApolloServerPlugin {
  const verdicts = new WeakMap<DocumentNode, Map<string, GraphQLError | null>>()
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operationName }) {
          const variables = request.variables ?? {}
          const key = `${operationName ?? ''}\u0000${JSON.stringify(variables)}`
          let known = verdicts.get(document)
          if (!known) verdicts.set(document, (known = new Map()))
          let problem = known.get(key)
          if (problem === undefined) {
            problem = limitsProblem(schema, document, operationName, variables, limits)
            if (known.size >= 64) known.clear() // variables that change every time (cursors): stay small
            known.set(key, problem)
          }
          // A new error each time: Apollo and formatError may add to the one they are given.
          if (problem) throw new GraphQLError(problem.message, { extensions: problem.extensions })
        },
      }
    },
  }
}
