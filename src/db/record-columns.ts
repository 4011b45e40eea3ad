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
  /**
   * What each method works out from its options, kept by options: reads ask the same few field
   * lists over and over, and a dashboard read would otherwise filter the table and join its SQL
   * afresh each time.
   */
  private readonly kept = new Map<string, unknown>()

  constructor(
    private readonly table: FieldTable,
    private readonly alias: string,
    private readonly key: readonly string[],
  ) {}

  private keep<R>(key: string, make: () => R): R {
    let value = this.kept.get(key) as R | undefined
    if (value === undefined) {
      if (this.kept.size >= MAX_KEPT) this.kept.clear()
      this.kept.set(key, (value = make()))
    }
    return value
  }

  private fields(wanted: ReadonlySet<string> | null | undefined): FieldTable {
    if (!wanted) return this.table
    return this.keep(`fields\n${wantedKey(wanted)}`, () => {
      for (const field of wanted) if (!this.table.some(([, f]) => f === field)) return this.table
      return this.table.filter(([, field]) => wanted.has(field) || this.key.includes(field))
    })
  }

  sql({ prefix = '', wanted, alias = this.alias, onlyWhen }: ReadOptions = {}): string {
    return this.keep(`sql\n${prefix}\n${alias}\n${onlyWhen ?? ''}\n${wantedKey(wanted)}`, () =>
      this.fields(wanted)
        .map(([column, field]) =>
          onlyWhen
            ? `CASE WHEN ${onlyWhen} THEN ${alias}.${column} END AS "${prefix}${field}"`
            : `${alias}.${column} AS "${prefix}${field}"`,
        )
        .join(', '),
    )
  }

  /** The names the columns of {@link sql} are given with the same options. */
  names({ prefix = '', wanted }: ReadOptions = {}): readonly string[] {
    return this.keep(`names\n${prefix}\n${wantedKey(wanted)}`, () =>
      this.fields(wanted).map(([, field]) => prefix + field),
    )
  }

  /** The record out of a row read with the same options (the fields worked out once for all rows). */
  reader({ prefix = '', wanted }: ReadOptions = {}): (row: Record<string, unknown>) => T {
    return this.keep(`reader\n${prefix}\n${wantedKey(wanted)}`, () =>
      recordOf<Record<string, unknown>, T>(
        this.fields(wanted).map(([, field]) => [field, JSON.stringify(prefix + field)]),
      ),
    )
  }

  /** The record out of a table's row (DirectSql.table) read with the same options: {@link reader} by column index. */
  tableReader(columns: Columns, { prefix = '', wanted }: ReadOptions = {}): (row: readonly unknown[]) => T {
    const fields = this.fields(wanted)
    const at = fields.map(([, field]) => columns.at(prefix + field))
    return this.keep(`tableReader\n${prefix}\n${wantedKey(wanted)}\n${at.join(',')}`, () =>
      recordOf<readonly unknown[], T>(fields.map(([, field], i) => [field, String(at[i])])),
    )
  }
}

/**
 * A function making `{ field: row[key], … }` for these fields and keys (keys written as JavaScript):
 * one object literal with the names written out, so each column is a property load V8 caches and
 * every record of a list has one shape. A loop over the names (a lookup by a different key each
 * time) cost ~130 µs for a page of 50 messages.
 */
function recordOf<Row, T>(fields: readonly (readonly [field: string, key: string])[]): (row: Row) => T {
  const properties = fields.map(([field, key]) => `${JSON.stringify(field)}: row[${key}]`)
  return new Function('row', `return { ${properties.join(', ')} }`) as (row: Row) => T
}

const wantedKey = (wanted: ReadonlySet<string> | null | undefined) => (wanted ? [...wanted].join(',') : '*')

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

/** What a table keeps at most (see RecordColumns.kept); then it starts again. */
const MAX_KEPT = 1_000
