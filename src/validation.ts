import type { z } from 'zod'
import { ValidationError } from './errors.js'

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
  const result = schema.safeParse(input)
  if (result.success) return result.data
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: formatPath(at ? [at, ...issue.path] : issue.path),
      message: issue.message,
    })),
  )
}
