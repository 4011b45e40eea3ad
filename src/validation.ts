import { z } from 'zod'
import { ValidationError } from './errors/errors.js'

/** "is required" when missing, "must be a string" when of another type. */
export const stringError = (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : 'must be a string'
export const requiredString = () => z.string({ error: stringError })

/** `recipients[1].phoneNumber` from zod's `['recipients', 1, 'phoneNumber']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`
    return out ? `${out}.${String(key)}` : String(key)
  }, '')
}

/**
 * Parses `input` with `schema`, or throws a {@link ValidationError} naming every invalid field.
 * `at` names the input itself when it is a single value (e.g. `conversationId`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, at?: string): z.output<S> {
  // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
  const nul = findNul(input, at ? [at] : [])
  if (nul) throw new ValidationError([{ path: formatPath(nul), message: 'must not contain NUL (\\u0000) characters' }])
  const result = schema.safeParse(input)
  if (result.success) return result.data
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: formatPath(at ? [at, ...issue.path] : issue.path),
      message: issue.message,
    })),
  )
}

/** The path of the first string (or key) holding a NUL character, if any. */
function findNul(value: unknown, path: PropertyKey[], depth = 0): PropertyKey[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null
  if (depth > 32 || typeof value !== 'object' || value === null) return null
  for (const [key, child] of Object.entries(value)) {
    const at = [...path, Array.isArray(value) ? Number(key) : key]
    if (key.includes('\u0000')) return at
    const found = findNul(child, at, depth + 1)
    if (found) return found
  }
  return null
}

/**
 * What a schema is documented as in the OpenAPI document, when JSON Schema cannot show it as it
 * is (a transform over unknown input, such as a send's body): a schema of the same fields, built
 * from the same parts. Validation never uses it.
 */
const documentation = new WeakMap<z.ZodType, z.ZodType>()

export function documentAs<S extends z.ZodType>(schema: S, documented: z.ZodType): S {
  documentation.set(schema, documented)
  return schema
}

export const documentationOf = (schema: z.ZodType): z.ZodType => documentation.get(schema) ?? schema
