/** A table's columns (with a cast where the driver needs one, e.g. `status::text`) and the record fields they fill. */
export type FieldTable = readonly (readonly [column: string, field: string])[]

/** Which of a record's fields to read, and under which names. */
export interface ReadOptions {
  /** Each column is named `prefix` + field (several records in one row). */
  prefix?: string
  /** The record fields wanted (null: all). */
  wanted?: ReadonlySet<string> | null
  /** The table's alias in the statement, when not the usual one. */
  alias?: string
  /** A condition: a row where it does not hold has every column null (a record repeated on several rows sent once). */
  onlyWhen?: string
}

/**
 * A table read into records by hand-written statements: the SELECT list for the fields wanted, and
 * the records out of the rows. Only the fields wanted are read (and a record holds only those),
 * plus `key`, read whatever is asked; when a wanted field is not one of the table's (a field this
 * code does not know how to read alone), every column is.
 */
export class RecordColumns<T> {
  private readonly readers = new Map<string, (row: Record<string, unknown>) => T>()
  private readonly tableReaders = new Map<string, (row: readonly unknown[]) => T>()

  constructor(
    private readonly table: FieldTable,
    private readonly alias: string,
    private readonly key: readonly string[],
  ) {}

  private fields(wanted: ReadonlySet<string> | null | undefined): FieldTable {
    if (!wanted) return this.table
    for (const field of wanted) if (!this.table.some(([, f]) => f === field)) return this.table
    return this.table.filter(([, field]) => wanted.has(field) || this.key.includes(field))
  }

  sql({ prefix = '', wanted, alias = this.alias, onlyWhen }: ReadOptions = {}): string {
    return this.fields(wanted)
      .map(([column, field]) =>
        onlyWhen
          ? `CASE WHEN ${onlyWhen} THEN ${alias}.${column} END AS "${prefix}${field}"`
          : `${alias}.${column} AS "${prefix}${field}"`,
      )
      .join(', ')
  }

  /** The names the columns of {@link sql} are given with the same options. */
  names({ prefix = '', wanted }: ReadOptions = {}): string[] {
    return this.fields(wanted).map(([, field]) => prefix + field)
  }

  /** The record out of a row read with the same options (the fields worked out once for all rows). */
  reader({ prefix = '', wanted }: ReadOptions = {}): (row: Record<string, unknown>) => T {
    const fields = this.fields(wanted)
    const key = `${prefix}\n${fields.map(([, field]) => field).join(',')}`
    let read = this.readers.get(key)
    if (!read) {
      if (this.readers.size >= MAX_READERS) this.readers.clear()
      // One object literal with the names written out, made once per list of fields: each column
      // is then a property load V8 caches, and every record of a list has one shape. A loop over
      // the names (a lookup by a different key each time) cost ~130 µs for a page of 50 messages.
      const properties = fields.map(([, field]) => `${JSON.stringify(field)}: row[${JSON.stringify(prefix + field)}]`)
      read = new Function('row', `return { ${properties.join(', ')} }`) as (row: Record<string, unknown>) => T
      this.readers.set(key, read)
    }
    return read
  }

  /** The record out of a table's row (DirectSql.table) read with the same options: {@link reader} by column index. */
  tableReader(columns: Columns, { prefix = '', wanted }: ReadOptions = {}): (row: readonly unknown[]) => T {
    const fields = this.fields(wanted).map(([, field]) => [field, columns.at(prefix + field)] as const)
    const key = fields.map(([field, i]) => `${field}:${i}`).join(',')
    let read = this.tableReaders.get(key)
    if (!read) {
      if (this.tableReaders.size >= MAX_READERS) this.tableReaders.clear()
      const properties = fields.map(([field, i]) => `${JSON.stringify(field)}: row[${i}]`)
      read = new Function('row', `return { ${properties.join(', ')} }`) as (row: readonly unknown[]) => T
      this.tableReaders.set(key, read)
    }
    return read
  }
}

/** Where each column of a table of rows (DirectSql.table) is: its index by name. */
export class Columns {
  private readonly index: Map<string, number>

  constructor(columns: readonly string[]) {
    this.index = new Map(columns.map((name, i) => [name, i]))
  }

  /** The index of column `name`. @throws when the statement has no such column (a bug here) */
  at(name: string): number {
    const i = this.index.get(name)
    if (i === undefined) throw new Error(`no column ${name} was read`)
    return i
  }
}

/** Readers kept per table: one per field list the reads ask for (a dashboard asks a handful). */
const MAX_READERS = 256
