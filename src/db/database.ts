import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { PrismaPg } from '@prisma/adapter-pg'
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils'
import pg from 'pg'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import { type DatabaseConfig, DEFAULT_STATEMENT_CACHE_SIZE } from '../config.js'
import { PrismaClient } from '../generated/prisma/client.js'
import { lockDataDir } from './pglite-lock.js'
import { StatementNames } from './prepared-statements.js'
import { pgliteSql, poolSql, type DirectSql } from './direct-sql.js'
import { applyMigrations, readMigrations } from './schema-engine.js'

export type { PrismaClient }

/** A driver adapter for the configured database, plus how to release what it holds. */
export async function adapterFactoryFor(config: DatabaseConfig): Promise<{
  factory: SqlMigrationAwareDriverAdapterFactory
  /** The same connections, for hand-written statements (direct-sql.ts). */
  sql: (onQuery: (sql: string) => void) => DirectSql
  close: () => Promise<void>
}> {
  if (config.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: config.url, max: 10 })
    pool.on('error', ignoreIdleClientError)
    const max = config.statementCacheSize ?? DEFAULT_STATEMENT_CACHE_SIZE
    const names = max === 0 ? null : new StatementNames({ max })
    names?.watch(pool)
    return {
      factory: new PrismaPg(pool, names ? { statementNameGenerator: names.nameFor } : undefined),
      sql: (onQuery) => poolSql(pool, names, onQuery),
      close: () => pool.end(),
    }
  }
  if (!config.dataDir) {
    const pglite = await openPGlite(null)
    return {
      factory: new PrismaPGlite(pglite),
      sql: (onQuery) => pgliteSql(pglite, onQuery),
      close: () => pglite.close(),
    }
  }
  await mkdir(config.dataDir, { recursive: true })
  const release = await lockDataDir(config.dataDir)
  try {
    const pglite = await openPGlite(config.dataDir)
    return {
      factory: new PrismaPGlite(pglite),
      sql: (onQuery) => pgliteSql(pglite, onQuery),
      close: () => pglite.close().finally(release),
    }
  } catch (err) {
    await release()
    throw err
  }
}

/**
 * PostgreSQL's own buffer cache for the embedded database. Its data folder is read through the
 * operating system, whose page cache already keeps it; PostgreSQL's default (128 MB) mostly
 * duplicated that, inside this process's memory. The pages it touches stay resident (WebAssembly
 * memory never shrinks): 8 MB rather than 16 kept the send benchmark's peak ~6 MB lower, at no
 * measurable cost per request (measured in commit ed19dd5).
 */
export const EMBEDDED_SHARED_BUFFERS = '8MB'

/**
 * Opens PGlite on `dataDir` (in memory without one). A new data folder is created, closed and
 * opened again: creating it (initdb) grows the WebAssembly memory to ~650 MB, which a WebAssembly
 * instance never gives back while it lives.
 */
async function openPGlite(dataDir: string | null | undefined): Promise<PGlite> {
  const options = { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`] }
  if (!dataDir) return PGlite.create(options)
  await mkdir(dataDir, { recursive: true })
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await (await PGlite.create(dataDir, options)).close()
  return PGlite.create(dataDir, options)
}

/**
 * A pooled connection was closed by the server while idle (restart, failover, a dropped database).
 * The pool replaces it when needed. Prisma listens for this only while connected; between its
 * disconnect and the pool's end (shutdown) an unhandled `error` event would crash the process.
 */
function ignoreIdleClientError(): void {}

/**
 * Whether PostgreSQL refused a statement, so that it certainly did not commit: a data or constraint
 * error (SQLSTATE classes 22, 23) or a rolled back transaction (40: deadlock, serialization).
 * A dropped connection is not one of these: the statement may have committed.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function statementRefused(err: unknown): boolean {
  // Through Prisma, the driver's error is wrapped; a direct statement (direct-sql.ts) throws it as is.
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }
  const code = e?.meta?.driverAdapterError?.cause?.originalCode ?? e?.code
  return typeof code === 'string' && /^(22|23|40)[0-9A-Z]{3}$/.test(code)
}

export interface Database {
  prisma: PrismaClient
  /** Hand-written statements on the same connections (the dashboards' reads, inbound messages). */
  sql: DirectSql
  /** Migrations applied when this database was opened. */
  appliedMigrations: string[]
  /** Null when the database answers and every migration is applied; else what is wrong. */
  notReadyReason(): Promise<string | null>
  /** Calls `listener` with each SQL statement Prisma runs (query counting, debugging); returns an unsubscribe. */
  onQuery(listener: (sql: string) => void): () => void
  close(): Promise<void>
}

/**
 * Opens the configured database and brings its schema up to date (Prisma's migration history,
 * applied in-process), so a fresh data folder or an empty PostgreSQL database just works.
 */
export async function openDatabase(
  config: DatabaseConfig,
  options: {
    /** Let {@link Database.onQuery} see statements (tests). Off by default: Prisma builds an event per statement. */
    queryEvents?: boolean
  } = {},
): Promise<Database> {
  const { factory, sql, close } = await adapterFactoryFor(config)
  try {
    const appliedMigrations = await migrate(config, factory)
    const prisma = new PrismaClient({
      adapter: factory,
      ...(options.queryEvents ? { log: [{ emit: 'event' as const, level: 'query' as const }] } : {}),
    })
    const listeners = new Set<(sql: string) => void>()
    if (options.queryEvents) {
      ;(prisma as PrismaClient<'query'>).$on('query', (event) => {
        for (const listener of listeners) listener(event.query)
      })
    }
    const notify = options.queryEvents
      ? (sql: string) => {
          for (const listener of listeners) listener(sql)
        }
      : () => {}
    return {
      prisma,
      sql: sql(notify),
      appliedMigrations,
      async notReadyReason() {
        try {
          const expected = (await readMigrations()).migrationDirectories.map((d) => d.path)
          const rows = await prisma.$queryRaw<{ migration_name: string }[]>`
            SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`
          const applied = new Set(rows.map((r) => r.migration_name))
          const missing = expected.filter((name) => !applied.has(name))
          return missing.length ? `migrations not applied: ${missing.join(', ')}` : null
        } catch (err) {
          return `database unreachable: ${err instanceof Error ? err.message : String(err)}`
        }
      },
      onQuery(listener) {
        if (!options.queryEvents) throw new Error('openDatabase was not asked for query events')
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      async close() {
        await prisma.$disconnect()
        await close()
      },
    }
  } catch (err) {
    await close()
    throw err
  }
}

/**
 * Applies the migrations. On PostgreSQL through a connection of its own, closed afterwards: the
 * schema engine holds a session-level advisory lock while migrating and does not release it, and
 * a pooled connection would keep it — blocking every other instance's start for as long as the
 * connection stays busy.
 */
async function migrate(config: DatabaseConfig, factory: SqlMigrationAwareDriverAdapterFactory): Promise<string[]> {
  if (config.kind !== 'postgres') return applyMigrations(factory)
  const pool = new pg.Pool({ connectionString: config.url, max: 1 })
  pool.on('error', ignoreIdleClientError)
  try {
    return await applyMigrations(new PrismaPg(pool))
  } finally {
    await pool.end()
  }
}
