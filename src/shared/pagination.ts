import { z } from 'zod'

/** Page sizes: what dashboards get by default, and the most one request may ask for. */
export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

export interface Page<T> {
  nodes: T[]
  /** The opaque cursor after node `i` (made when asked for: many reads never ask). */
  cursor(i: number): string
  /** The cursor after the last node; null on an empty page. */
  endCursor: string | null
  hasNextPage: boolean
  /** Matching items in all pages, counted on first call only (many clients never ask). */
  totalCount: () => Promise<number>
}

export const firstSchema = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z
    .number({ error: 'must be an integer' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .nullish()
    .transform((v) => v ?? DEFAULT_PAGE_SIZE),
)

/** Cursors are opaque to clients: base64url of the sort key of the last row seen. */
export function encodeCursor(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/** A cursor schema that decodes to the sort key `shape`, or reports `after` as invalid. */
export function cursorSchema<T extends z.ZodTypeAny>(shape: T) {
  return z
    .string({ error: 'must be a cursor from a previous page' })
    .transform((value, ctx) => {
      try {
        const parsed = shape.safeParse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')))
        if (parsed.success) return parsed.data as z.output<T>
      } catch {
        // fall through
      }
      ctx.addIssue({ code: 'custom', message: 'must be a cursor from a previous page' })
      return z.NEVER
    })
    .nullish()
}

/**
 * A page from `first + 1` rows read (the extra one tells whether more follow), with a cursor per
 * node; `count` is called when the total is first asked for.
 */
export function toPage<T>(rows: T[], first: number, count: () => Promise<number>, key: (row: T) => unknown[]): Page<T> {
  const nodes = rows.slice(0, first)
  let counted: Promise<number> | undefined
  return {
    nodes,
    cursor: (i) => encodeCursor(key(nodes[i])),
    // Made when asked for, as each node's: a list of conversations with their messages has a page each.
    get endCursor() {
      return nodes.length ? encodeCursor(key(nodes[nodes.length - 1])) : null
    },
    hasNextPage: rows.length > first,
    totalCount: () => (counted ??= count()),
  }
}
