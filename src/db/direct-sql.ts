import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import type { StatementNames } from './prepared-statements.js'
import { parseTimestamptz } from './timestamptz.js'

/**
 * Statements written by hand, sent straight to the driver: the hot ones, run for every dashboard
 * read (conversations/conversation-read.repository.ts) and every inbound message. Prisma costs a
 * query of its own CPU on top of the driver's (compiling, then converting every value twice); for
 * a list read on every dashboard refresh that was a third of the service's time. One statement is
 * one transaction. Rows come back as the driver types them (timestamptz as Date, jsonb parsed), on
 * PostgreSQL and PGlite alike.
 */
export interface DirectSql {
  rows<T>(text: string, values: readonly unknown[]): Promise<T[]>
  /**
   * The rows as arrays, a value per column in `columns`' order: no object per row with a property
   * per column (pg builds those by name, which cost a read of 50 messages ~6% of its CPU).
   */
  table(text: string, values: readonly unknown[]): Promise<Table>
}

export interface Table {
  columns: string[]
  rows: unknown[][]
}

const TIMESTAMPTZ = 1184
const timestamptzText = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => unknown
const parseTimestamp = (text: string) => parseTimestamptz(text, timestamptzText)
/** pg's parsers, with a faster one for timestamptz (for these statements only: Prisma keeps its own). */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? parseTimestamp
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

/** On PostgreSQL: the pool Prisma uses, with its prepared-statement names (parsed once per connection). */
export function poolSql(pool: pg.Pool, names: StatementNames | null, onQuery: (sql: string) => void): DirectSql {
  const query = (text: string, values: readonly unknown[], rowMode?: 'array'): Promise<pg.QueryResult> => {
    onQuery(text)
    const config = { text, values: values as unknown[], name: names?.nameFor({ sql: text }) || undefined, types: TYPES }
    return rowMode ? pool.query({ ...config, rowMode }) : pool.query(config)
  }
  return {
    async rows<T>(text: string, values: readonly unknown[]) {
      return (await query(text, values)).rows as T[]
    },
    async table(text: string, values: readonly unknown[]) {
      const result = await query(text, values, 'array')
      return { columns: result.fields.map((f) => f.name), rows: result.rows as unknown[][] }
    },
  }
}

/** On the embedded database: its one connection, as Prisma's adapter uses it. */
export function pgliteSql(pglite: PGlite, onQuery: (sql: string) => void): DirectSql {
  return {
    async rows<T>(text: string, values: readonly unknown[]) {
      onQuery(text)
      return (await pglite.query<T>(text, values as unknown[])).rows
    },
    async table(text: string, values: readonly unknown[]) {
      onQuery(text)
      const result = await pglite.query<unknown[]>(text, values as unknown[], { rowMode: 'array' })
      return { columns: result.fields.map((f) => f.name), rows: result.rows }
    },
  }
}
