/**
 * What SQL a server sends PostgreSQL for one request, and the plans PostgreSQL ran it with, read
 * generically (nothing here knows the service's SQL): `auto_explain` (log_analyze, log_buffers)
 * and `log_statement = 'all'` set on one scratch database (ALTER DATABASE, so only sessions opened
 * afterwards have them, loaded through session_preload_libraries), then the server's log read from
 * where it was before the request. pg_stat_statements would need a restart of PostgreSQL
 * (shared_preload_libraries), and it keeps no plans.
 *
 * The log: `pg_current_logfile()` when PostgreSQL's logging collector runs, else the file its
 * postmaster's stderr goes to (/proc/<pid>/fd/2, the pid from postmaster.pid), else BENCH_PG_LOG.
 * Needs a superuser (the suite's default) and a log this process may read; otherwise
 * {@link PlanCapture.open} answers why not and the benchmark goes on without plans.
 */
import { closeSync, openSync, readlinkSync, readSync, statSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'

const CAPTURE_SETTINGS: [string, string][] = [
  ['session_preload_libraries', 'auto_explain'],
  ['auto_explain.log_min_duration', '0'],
  ['auto_explain.log_analyze', 'on'],
  ['auto_explain.log_buffers', 'on'],
  ['auto_explain.log_timing', 'on'],
  // Statements the client sent, not those inside functions (PostGraphile's are inlined anyway).
  ['auto_explain.log_nested_statements', 'off'],
  ['auto_explain.log_format', 'text'],
  ['log_statement', 'all'],
]

/** One statement PostgreSQL ran, with its plan (costs left out, as EXPLAIN (COSTS OFF) shows it). */
export interface Statement {
  pid: string
  /** The query text, whitespace collapsed. */
  text: string
  durationMs: number
  plan: string
  /** Rows the top node returned. */
  rowsReturned: number
  /** Rows the scans read: each scan node's rows plus those its filters removed, times its loops. */
  rowsRead: number
  /** Shared buffers hit + read by the whole statement. */
  buffers: number
}

export interface Captured {
  statements: Statement[]
  /** Transactions (a statement outside BEGIN…COMMIT counts as one). */
  transactions: number
}

interface Entry {
  pid: string
  header: string
  body: string[]
}

/** Splits a stretch of the server log into entries (a line, and the tab-indented lines after it). */
function entries(text: string, database: string, filterByDatabase: boolean): Entry[] {
  const out: Entry[] = []
  let current: Entry | null = null
  for (const line of text.split('\n')) {
    if (line.startsWith('\t')) {
      current?.body.push(line.slice(1))
      continue
    }
    if (!line.trim()) continue
    // Another database's entry: its continuation lines are read into it, and it is not kept.
    current = { pid: /\[(\d+)\]/.exec(line)?.[1] ?? '', header: line, body: [] }
    if (!filterByDatabase || line.includes(`@${database} `)) out.push(current)
  }
  return out
}

const collapse = (sql: string) => sql.replace(/\s+/g, ' ').trim()

function planStatement(entry: Entry, durationMs: number): Statement | null {
  const lines = entry.body
  const queryStart = lines.findIndex((l) => l.startsWith('Query Text: '))
  if (queryStart < 0) return null
  // The plan starts at the first line with costs (auto_explain cannot leave them out).
  const planStart = lines.findIndex((l, i) => i > queryStart && /\(cost=\d/.test(l))
  if (planStart < 0) return null
  const text = collapse(
    [lines[queryStart].slice('Query Text: '.length), ...lines.slice(queryStart + 1, planStart)].join('\n'),
  )
  const planLines = lines.slice(planStart).map((l) => l.replace(/\s*\(cost=[\d.]+\.\.[\d.]+ rows=\d+ width=\d+\)/, ''))
  let rowsRead = 0
  let rowsReturned = NaN
  let buffers = NaN
  let loops = 1
  let scan = false
  for (const l of planLines) {
    const node = /(?:^|->\s+)([A-Z][\w ]+?)(?: on | using |\s+\(actual|$)/.exec(l.trim())
    const actual = /\(actual(?: time=[\d.]+\.\.[\d.]+)? rows=(\d+) loops=(\d+)\)/.exec(l)
    if (actual) {
      loops = Number(actual[2])
      // Table and index scans; a bitmap index scan's rows are its heap scan's, counted there.
      scan =
        /Scan/.test(node?.[1] ?? '') &&
        !/Subquery Scan|CTE Scan|Function Scan|Values Scan|Bitmap Index Scan/.test(node?.[1] ?? '')
      if (Number.isNaN(rowsReturned)) rowsReturned = Number(actual[1])
      if (scan) rowsRead += Number(actual[1]) * loops
      continue
    }
    if (/never executed/.test(l)) {
      scan = false
      continue
    }
    const removed = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(l)
    if (removed && scan) rowsRead += Number(removed[1]) * loops
    const buffer = /^\s*Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?/.exec(l)
    if (buffer && Number.isNaN(buffers)) buffers = Number(buffer[1] ?? 0) + Number(buffer[2] ?? 0)
  }
  return {
    pid: entry.pid,
    text,
    durationMs,
    plan: planLines.join('\n'),
    rowsReturned,
    rowsRead,
    buffers: Number.isNaN(buffers) ? 0 : buffers,
  }
}

/**
 * Reads what the log says about `database` between two offsets: statements, plans and
 * transactions, leaving out statements whose text is in `exclude`.
 */
function parse(text: string, database: string, filterByDatabase: boolean, exclude: Set<string>): Captured {
  const statements: Statement[] = []
  const inTransaction = new Map<string, boolean>()
  let transactions = 0
  for (const entry of entries(text, database, filterByDatabase)) {
    const explained = /LOG:\s+duration: ([\d.]+) ms\s+plan:/.exec(entry.header)
    if (explained) {
      const statement = planStatement(entry, Number(explained[1]))
      if (statement && !exclude.has(statement.text)) statements.push(statement)
      continue
    }
    const logged = /LOG:\s+(?:statement|execute [^:]*):\s*(.*)$/.exec(entry.header)
    if (!logged) continue
    const original = collapse([logged[1], ...entry.body].join('\n'))
    if (exclude.has(original)) continue
    const sql = original.toUpperCase()
    if (/^(BEGIN|START TRANSACTION)\b/.test(sql)) {
      inTransaction.set(entry.pid, true)
    } else if (/^(COMMIT|ROLLBACK|END)\b/.test(sql)) {
      inTransaction.set(entry.pid, false)
      transactions++
    } else if (!inTransaction.get(entry.pid) && !/^(DEALLOCATE|SET|RESET|SAVEPOINT|RELEASE)\b/.test(sql)) {
      transactions++
    }
  }
  return { statements, transactions }
}

export class PlanCapture {
  private constructor(
    private readonly adminUrl: string,
    private readonly logFile: string,
    private readonly filterByDatabase: boolean,
  ) {}

  /** A capture on the server at `adminUrl` (a superuser), or why there cannot be one. */
  static async open(adminUrl: string): Promise<PlanCapture | string> {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try {
      const { rows: su } = await client.query(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)
      if (!su[0]?.rolsuper) return 'not a superuser (session_preload_libraries, auto_explain settings)'
      const prefix = String((await client.query('SHOW log_line_prefix')).rows[0].log_line_prefix)
      const dataDir = String((await client.query('SHOW data_directory')).rows[0].data_directory)
      let file: string | null = process.env.BENCH_PG_LOG ?? null
      if (!file) {
        const current = (await client.query('SELECT pg_current_logfile() AS f')).rows[0].f as string | null
        if (current) file = path.resolve(dataDir, current)
      }
      if (!file) {
        try {
          const pidFile = String((await client.query(`SELECT pg_read_file('postmaster.pid') AS t`)).rows[0].t)
          file = readlinkSync(`/proc/${pidFile.split('\n')[0].trim()}/fd/2`)
        } catch {
          // not on this machine, or not ours to read
        }
      }
      if (!file) return 'cannot find the server log (set BENCH_PG_LOG)'
      try {
        closeSync(openSync(file, 'r'))
      } catch (err) {
        return `cannot read the server log ${file}: ${(err as Error).message}`
      }
      return new PlanCapture(adminUrl, file, prefix.includes('%d'))
    } finally {
      await client.end()
    }
  }

  get file(): string {
    return this.logFile
  }

  private async alter(database: string, on: boolean) {
    const client = new pg.Client({ connectionString: this.adminUrl })
    await client.connect()
    try {
      for (const [name, value] of CAPTURE_SETTINGS) {
        await client.query(
          on ? `ALTER DATABASE "${database}" SET ${name} = '${value}'` : `ALTER DATABASE "${database}" RESET ${name}`,
        )
      }
    } finally {
      await client.end()
    }
  }

  /** From now on, new sessions on `database` log their statements and plans. */
  enable(database: string): Promise<void> {
    return this.alter(database, true)
  }

  disable(database: string): Promise<void> {
    return this.alter(database, false)
  }

  /** Where the log ends now. */
  mark(): number {
    return statSync(this.logFile).size
  }

  /** What `database`'s sessions logged since `from`, but the statements in `exclude` (texts as {@link Statement.text}). */
  read(database: string, from: number, exclude = new Set<string>()): Captured {
    const to = statSync(this.logFile).size
    const length = Math.max(0, to - from)
    const buffer = Buffer.alloc(length)
    const fd = openSync(this.logFile, 'r')
    try {
      readSync(fd, buffer, 0, length, from)
    } finally {
      closeSync(fd)
    }
    return parse(buffer.toString('utf8'), database, this.filterByDatabase, exclude)
  }
}
