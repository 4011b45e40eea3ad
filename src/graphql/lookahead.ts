import type { FieldNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql'

/**
 * Whether the operation asks, below the field being resolved, for the field at `path` (e.g.
 * `['edges', 'node', 'lastMessage']`), through fragments too: a resolver then reads it in the
 * same statement instead of one more round trip per row. `@skip`/`@include` are not evaluated
 * (a field they leave out is read for nothing, never missed).
 */
export function selects(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []))
  for (const name of path) {
    const next: SelectionSetNode[] = []
    for (const field of fieldsIn(sets, info)) {
      if (field.name.value === name && field.selectionSet) next.push(field.selectionSet)
      else if (field.name.value === name && name === path.at(-1)) return true
    }
    if (!next.length) return false
    if (name === path.at(-1)) return true
    sets = next
  }
  return false
}

function fieldsIn(sets: SelectionSetNode[], info: GraphQLResolveInfo, seen = new Set<string>()): FieldNode[] {
  const fields: FieldNode[] = []
  for (const set of sets) {
    for (const selection of set.selections) {
      if (selection.kind === 'Field') fields.push(selection)
      else if (selection.kind === 'InlineFragment') fields.push(...fieldsIn([selection.selectionSet], info, seen))
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value)
        const fragment = info.fragments[selection.name.value]
        if (fragment) fields.push(...fieldsIn([fragment.selectionSet], info, seen))
      }
    }
  }
  return fields
}
