import { createHash } from 'node:crypto'
import type pg from 'pg'

/** A query as Prisma's PostgreSQL driver adapter hands it to `statementNameGenerator`. */
interface SqlText {
  sql: string
}

/** PostgreSQL's `cached plan must not change result type`: a statement's columns changed under it. */
const RESULT_TYPE_CHANGED = '0A000'

/**
 * Names for PostgreSQL prepared statements, so that each connection parses and plans a hot statement
 * once instead of on every execution: Prisma's driver adapter sends every query unnamed unless
 * given a `statementNameGenerator`. On the send path this halves PostgreSQL's CPU per message
 * (BENCHMARKS.md, tenth run). A statement is named once it has run `after` times, and at most
 * `max` of them are, because every connection keeps each named statement until it closes (Prisma's
 * own engine kept 100 per connection: `statement_cache_size`, the same URL parameter here).
 *
 * A migration by another instance may change the columns a prepared statement returns (`SELECT *`
 * after `ADD COLUMN`); PostgreSQL then refuses it (0A000) on every connection that prepared it.
 * {@link retire} gives the statement a new name, so the next execution prepares it afresh: the
 * change costs one failed request per statement, not every request until a restart.
 */
export class StatementNames {
  private readonly seen = new Map<string, number>()
  private readonly names = new Map<string, string>()

  constructor(private readonly options: { max: number; after?: number }) {}

  /** The name to prepare `query` under, or '' to send it unnamed (parsed and planned each time). */
  readonly nameFor = (query: SqlText): string => {
    const named = this.names.get(query.sql)
    if (named !== undefined) return named
    if (this.names.size >= this.options.max) return ''
    const count = (this.seen.get(query.sql) ?? 0) + 1
    if (count < (this.options.after ?? 3)) {
      // Bounded, as the texts it counts may not be: forget all counts rather than grow.
      if (this.seen.size >= 10 * this.options.max) this.seen.clear()
      this.seen.set(query.sql, count)
      return ''
    }
    this.seen.delete(query.sql)
    const name = `wa_${createHash('sha1').update(query.sql).digest('hex').slice(0, 24)}_0`
    this.names.set(query.sql, name)
    return name
  }

  /** Stops using `name` (its columns changed): its statement is prepared under a new name next time. */
  retire(name: string): void {
    const cut = name.lastIndexOf('_')
    for (const [sql, current] of this.names) {
      if (current === name) this.names.set(sql, `${name.slice(0, cut)}_${Number(name.slice(cut + 1)) + 1}`)
    }
  }

  /** How many statements are named now. */
  get size(): number {
    return this.names.size
  }

  /**
   * Makes `pool`'s connections tell {@link retire} when PostgreSQL refuses a prepared statement
   * whose columns changed (the error still reaches the caller: its transaction has failed).
   */
  watch(pool: pg.Pool): void {
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown
      const notice = (name: string, err: unknown) => {
        if ((err as { code?: unknown } | null)?.code === RESULT_TYPE_CHANGED) this.retire(name)
      }
      client.query = ((...args: unknown[]) => {
        const name = (args[0] as { name?: unknown } | undefined)?.name
        if (typeof name !== 'string' || !name) return query(...args)
        // pool.query() calls with a callback; a checked-out client (a transaction) without one.
        const callback = args.at(-1)
        if (typeof callback === 'function') {
          args[args.length - 1] = (err: unknown, result: unknown) => {
            notice(name, err)
            callback(err, result)
          }
          return query(...args)
        }
        return (query(...args) as Promise<unknown>).catch((err: unknown) => {
          notice(name, err)
          throw err
        })
      }) as typeof client.query
    })
  }
}
