import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  Kind,
  type SelectionSetNode,
} from 'graphql'

/**
 * The fields an operation asks for at `path` below the field being resolved (e.g. `['edges', 'node']`
 * for a connection's nodes), through aliases and fragments: a resolver then reads them in the same
 * statement, and only them. Null when nothing is asked for at that path. `@skip`/`@include` are not
 * evaluated (a field they leave out is read for nothing, never missed).
 */
export function fieldsAt(info: GraphQLResolveInfo, path: readonly string[]): Set<string> | null {
  return selectedAt(info, path).names
}

/** The fields (their nodes) selected at `path` below the field being resolved; null when nothing is there. */
export function fieldNodesAt(info: GraphQLResolveInfo, path: readonly string[]): readonly FieldNode[] | null {
  return selectedAt(info, path).nodes
}

interface Selected {
  nodes: FieldNode[] | null
  names: Set<string> | null
}

// The same operation asks the same of each of its rows, and parsed operations are kept (Apollo's
// document store): the answer is kept with the field's node.
const answers = new WeakMap<FieldNode, Map<string, Selected>>()

function selectedAt(info: GraphQLResolveInfo, path: readonly string[]): Selected {
  let byPath = answers.get(info.fieldNodes[0])
  if (!byPath) answers.set(info.fieldNodes[0], (byPath = new Map()))
  const key = path.join('.')
  let selected = byPath.get(key)
  if (!selected) {
    const nodes = walk(info, path)
    byPath.set(key, (selected = { nodes, names: nodes && new Set(nodes.map((field) => field.name.value)) }))
  }
  return selected
}

function walk(info: GraphQLResolveInfo, path: readonly string[]): FieldNode[] | null {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []))
  for (const name of path) {
    sets = fieldsIn(sets, info.fragments).flatMap((field) =>
      field.name.value === name && field.selectionSet ? [field.selectionSet] : [],
    )
    if (!sets.length) return null
  }
  return fieldsIn(sets, info.fragments)
}

/**
 * What a record must hold for `fields` (from {@link fieldsAt}): each field resolver replaced by the
 * record fields it reads (`needs`), `__typename` dropped; other names are the record's own fields.
 * A repository reads every column when a name is none of its fields.
 */
export function recordFieldsFor(
  fields: Set<string> | null,
  needs: Readonly<Record<string, readonly string[]>>,
): Set<string> | null {
  if (!fields) return null
  const wanted = new Set<string>()
  for (const field of fields) {
    if (field === '__typename') continue
    if (Object.hasOwn(needs, field)) for (const need of needs[field]) wanted.add(need)
    else wanted.add(field)
  }
  return wanted
}

/** The fields the selection sets select, through their fragments (inline or named, each named one once). */
export function fieldsIn(
  sets: readonly SelectionSetNode[],
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  seen = new Set<string>(),
): FieldNode[] {
  const fields: FieldNode[] = []
  for (const set of sets) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection)
      else if (selection.kind === Kind.INLINE_FRAGMENT)
        fields.push(...fieldsIn([selection.selectionSet], fragments, seen))
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value)
        const fragment = fragments[selection.name.value]
        if (fragment) fields.push(...fieldsIn([fragment.selectionSet], fragments, seen))
      }
    }
  }
  return fields
}
