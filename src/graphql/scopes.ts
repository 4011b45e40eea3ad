import type { ApolloServerPlugin } from '@apollo/server'
import { type DocumentNode, type GraphQLSchema, Kind, type OperationDefinitionNode } from 'graphql'
import type { Principal, Scope } from '../auth/principal.js'
import { GRAPHQL_SCOPES, graphqlScope, requireScope, type RootType } from '../auth/scopes.js'
import { toGraphQLError } from '../errors/error.answers.js'
import type { AppError } from '../errors/errors.js'
import type { GraphQLContext } from './context.js'
import { fieldsIn } from './lookahead.js'
import { CACHEABLE_ROOT_FIELDS } from './response-cache.js'

const ROOTS = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const

/** The root fields an operation selects, through its fragments too (introspection's `__…` left out). */
function rootFields(document: DocumentNode, operation: OperationDefinitionNode): Set<string> {
  const fragments = Object.fromEntries(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  )
  const names = fieldsIn([operation.selectionSet], fragments).map((field) => field.name.value)
  return new Set(names.filter((name) => !name.startsWith('__')))
}

/**
 * Checks every root field of `operation` against the principal's scope, before anything runs:
 * an operation with one field outside it is refused whole (a mutation does nothing).
 * @throws ForbiddenError
 */
export function checkOperationScope(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  principal: Principal,
): void {
  checkScopes(operationScopes(document, operation), principal)
}

/** Each root field of `operation` with the scope it needs (the same for every caller). */
export function operationScopes(document: DocumentNode, operation: OperationDefinitionNode): [string, Scope][] {
  const root = ROOTS[operation.operation]
  // A field validation let through always has a decision (assertEveryRootFieldDecided); fail closed anyway.
  return [...rootFields(document, operation)].map((field) => [field, graphqlScope(root, field) ?? 'ADMIN'])
}

/** @throws ForbiddenError when one of the fields needs more than the principal's scope */
export function checkScopes(needed: readonly [string, Scope][], principal: Principal): void {
  for (const [field, scope] of needed) requireScope(principal, scope, field)
}

/** Refuses, before executing, an operation outside the caller's scope: 403 FORBIDDEN. */
export function scopePlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, contextValue }) {
          if (!operation) return
          try {
            checkOperationScope(document, operation, contextValue.principal)
          } catch (err) {
            throw toGraphQLError(err as AppError, { http: true })
          }
        },
      }
    },
  }
}

/**
 * Throws at start-up when a root field of the schema has no decision in GRAPHQL_SCOPES, or the
 * table names a field the schema does not have; and when the response cache, which answers
 * without asking who calls, would share a field that needs more than READ.
 */
export function assertEveryRootFieldDecided(schema: GraphQLSchema): void {
  const problems: string[] = []
  for (const [operation, root] of Object.entries(ROOTS) as [keyof typeof ROOTS, RootType][]) {
    const type = schema.getRootType(operation as never)
    const fields = Object.keys(type?.getFields() ?? {})
    for (const field of fields)
      if (!graphqlScope(root, field)) problems.push(`${root}.${field} has no scope: decide one in src/auth/scopes.ts`)
    for (const field of Object.keys(GRAPHQL_SCOPES[root]))
      if (!fields.includes(field)) problems.push(`${root}.${field} is in src/auth/scopes.ts but not in the schema`)
  }
  for (const field of CACHEABLE_ROOT_FIELDS)
    if (graphqlScope('Query', field) !== 'READ')
      problems.push(`Query.${field} is cached for every key: it must be READ`)
  if (problems.length) throw new Error(problems.join('; '))
}
