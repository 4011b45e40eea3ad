import { createHash } from 'node:crypto'
import type pg from 'pg'

/** A query as Prisma's PostgreSQL driver adapter hands it to `statementNameGenerator`. */
interface SqlText {
  sql: string
}

/** What PostgreSQL answers that concerns a statement prepared under a name of ours. */
const isResultTypeChanged = (err: PgError) =>
  err.code === '0A000' && /cached plan must not change result type/.test(err.message ?? '')
/** 26000: prepared statement does not exist; 42P05: it already exists. */
const isNotOurConnection = (err: PgError) => err.code === '26000' || err.code === '42P05'

interface PgError {
  code?: unknown
  message?: string
}

/** Longer texts are never counted or named (a bound on what the counts hold). */
const MAX_TEXT = 16_384
/** A list of values, one placeholder each (`IN ($1,$2,…)`): a new text for every list length. */
const VALUE_LIST = /\bIN\s*\(\s*\$\d+\s*,/i

/**
 * Names for PostgreSQL prepared statements, so that each connection parses a hot statement once
 * instead of on every execution: Prisma's driver adapter sends every query unnamed unless given a
 * `statementNameGenerator`. On the send path this takes ~40% off PostgreSQL's CPU per message
 * (measured in commit a5a19d5). A statement is named once it has run `after` times, and at most `max`
 * of them ever are, because every connection keeps each statement it prepared until it closes (the
 * URL parameter is Prisma's `statement_cache_size`). Texts with a list of values (`IN ($1,$2,…)`,
 * one text per list length) are never named, so they cannot take the places of the rest.
 *
 * A migration by another instance may change the columns a prepared statement returns (`SELECT *`
 * after `ADD COLUMN`); PostgreSQL then refuses it (0A000) on every connection that prepared it.
 * {@link retire} gives the statement a new name, so the next execution prepares it afresh instead
 * of failing on that connection until it closes. When PostgreSQL says a statement we prepared does
 * not exist, or one we prepare exists already, the connections are not ours alone (a pooler such as
 * PgBouncer in transaction mode): naming stops for good.
 */
export class StatementNames {
  private readonly seen = new Map<string, number>()
  private readonly names = new Map<string, string>()
  private stopped = false

  constructor(private readonly options: { max: number; after?: number }) {}

  /** The name to prepare `query` under, or '' to send it unnamed (parsed each time). */
  readonly nameFor = (query: SqlText): string => {
    if (this.stopped) return ''
    const named = this.names.get(query.sql)
    if (named !== undefined) return named
    if (this.names.size >= this.options.max || query.sql.length > MAX_TEXT || VALUE_LIST.test(query.sql)) return ''
    const count = (this.seen.get(query.sql) ?? 0) + 1
    if (count < (this.options.after ?? 3)) {
      // Bounded, as the texts it counts may not be: forget all counts rather than grow.
      if (this.seen.size >= 2 * this.options.max) this.seen.clear()
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
   * Makes `pool`'s connections report PostgreSQL's refusals of our prepared statements (see the
   * class comment). The error still reaches the caller: its statement has failed.
   */
  watch(pool: pg.Pool): void {
    const notice = (name: string, err: unknown) => {
      const e = (err ?? {}) as PgError
      if (isResultTypeChanged(e)) this.retire(name)
      else if (isNotOurConnection(e)) this.stopped = true
    }
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown
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
