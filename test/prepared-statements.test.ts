import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_STATEMENT_CACHE_SIZE, parseDatabaseUrl } from '../src/config.js'
import { adapterFactoryFor, type PrismaClient } from '../src/db/database.js'
import { StatementNames } from '../src/db/prepared-statements.js'
import { PrismaClient as Client } from '../src/generated/prisma/client.js'
import { scratchDatabase, TEST_DATABASE } from './helpers/test-app.js'

describe('StatementNames', () => {
  const q = (sql: string) => ({ sql })

  it('names a statement once it has run three times, and keeps that name', () => {
    const names = new StatementNames({ max: 10 })
    expect(names.nameFor(q('SELECT 1'))).toBe('')
    expect(names.nameFor(q('SELECT 1'))).toBe('')
    const name = names.nameFor(q('SELECT 1'))
    expect(name).toMatch(/^wa_[0-9a-f]{24}_0$/)
    expect(names.nameFor(q('SELECT 1'))).toBe(name)
    expect(names.nameFor(q('SELECT 2'))).toBe('')
  })

  it('names at most max statements (each connection keeps every one it prepared)', () => {
    const names = new StatementNames({ max: 2, after: 1 })
    expect(names.nameFor(q('SELECT 1'))).not.toBe('')
    expect(names.nameFor(q('SELECT 2'))).not.toBe('')
    expect(names.nameFor(q('SELECT 3'))).toBe('')
    expect(names.size).toBe(2)
  })

  it('never names a list of values (one text per list length) or a very long text', () => {
    const names = new StatementNames({ max: 10, after: 1 })
    expect(names.nameFor(q('SELECT * FROM "m" WHERE "id" IN ($1,$2,$3)'))).toBe('')
    expect(names.nameFor(q('SELECT * FROM "m" WHERE "id" in ( $1, $2)'))).toBe('')
    expect(names.nameFor(q(`SELECT 1 -- ${'x'.repeat(20_000)}`))).toBe('')
    expect(names.nameFor(q('SELECT * FROM "m" WHERE "id" IN ($1)'))).not.toBe('')
    expect(names.size).toBe(1)
  })

  it('gives a retired statement a new name, and only that one', () => {
    const names = new StatementNames({ max: 5, after: 1 })
    const one = names.nameFor(q('SELECT 1'))
    const two = names.nameFor(q('SELECT 2'))
    names.retire(one)
    const renamed = names.nameFor(q('SELECT 1'))
    expect(renamed).toBe(one.replace(/_0$/, '_1'))
    expect(names.nameFor(q('SELECT 1'))).toBe(renamed)
    expect(names.nameFor(q('SELECT 2'))).toBe(two)
  })
})

describe('DATABASE_URL statement cache parameters', () => {
  it('keeps 100 prepared statements per connection by default, as Prisma did', () => {
    expect(parseDatabaseUrl('postgres://u@h/db')).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db',
      statementCacheSize: DEFAULT_STATEMENT_CACHE_SIZE,
    })
  })

  it('reads statement_cache_size and pgbouncer=true, and keeps them out of the connection URL', () => {
    expect(parseDatabaseUrl('postgres://u@h/db?statement_cache_size=0&sslmode=disable')).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db?sslmode=disable',
      statementCacheSize: 0,
    })
    expect(parseDatabaseUrl('postgres://u@h/db?pgbouncer=true&statement_cache_size=50')).toMatchObject({
      url: 'postgres://u@h/db',
      statementCacheSize: 0,
    })
    expect(parseDatabaseUrl('postgres://u@h/db?statement_cache_size=many')).toBe(
      'DATABASE_URL: statement_cache_size must be a whole number (0: none)',
    )
  })
})

describe.runIf(TEST_DATABASE.kind === 'postgres')('prepared statements on PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof scratchDatabase>>
  let prisma: PrismaClient
  let close: () => Promise<void>
  let admin: pg.Client

  beforeAll(async () => {
    database = await scratchDatabase()
    const adapter = await adapterFactoryFor({ kind: 'postgres', url: database.url })
    close = adapter.close
    prisma = new Client({ adapter: adapter.factory })
    admin = new pg.Client({ connectionString: database.url })
    await admin.connect()
    await admin.query('CREATE TABLE probe (a int)')
    await admin.query('INSERT INTO probe VALUES (1)')
  })
  afterAll(async () => {
    await prisma?.$disconnect()
    await close?.()
    await admin?.end()
    await database?.drop()
  })

  // One query at a time: the pool hands out its one idle connection each time. A new text each
  // time, so that this query is never prepared itself.
  let asked = 0
  const prepared = async () =>
    (
      await prisma.$queryRawUnsafe<{ name: string }[]>(
        `SELECT name FROM pg_prepared_statements WHERE name LIKE 'wa\\_%' /* ${++asked} */`,
      )
    ).map((r) => r.name)

  it('prepares a statement run again and again once per connection, not on every run', async () => {
    for (let i = 0; i < 4; i++) expect(await prisma.$queryRawUnsafe('SELECT a FROM probe')).toEqual([{ a: 1 }])
    expect(await prepared()).toHaveLength(1)
  })

  it('prepares a statement afresh after its columns changed, failing only the first run after it', async () => {
    const star = () => prisma.$queryRawUnsafe<Record<string, unknown>[]>('SELECT * FROM probe')
    for (let i = 0; i < 4; i++) await star()
    expect((await prepared()).filter((n) => n.endsWith('_1'))).toEqual([])
    await admin.query('ALTER TABLE probe ADD COLUMN b int DEFAULT 2')
    await expect(star()).rejects.toThrow(/cached plan must not change result type/)
    expect(await star()).toEqual([{ a: 1, b: 2 }])
    expect(await star()).toEqual([{ a: 1, b: 2 }])
    // Prepared again under its next name (the failed statement's connection may have been replaced).
    expect((await prepared()).filter((n) => n.endsWith('_1'))).toHaveLength(1)
  })

  it('does the same inside transactions, whose connection goes back to the pool after a failure', async () => {
    await admin.query('CREATE TABLE probe_tx (a int); INSERT INTO probe_tx VALUES (1)')
    const star = () =>
      prisma.$transaction(async (tx) => tx.$queryRawUnsafe<Record<string, unknown>[]>('SELECT * FROM probe_tx'))
    for (let i = 0; i < 4; i++) expect(await star()).toEqual([{ a: 1 }])
    await admin.query('ALTER TABLE probe_tx ADD COLUMN b int DEFAULT 2')
    await expect(star()).rejects.toThrow(/cached plan must not change result type/)
    expect(await star()).toEqual([{ a: 1, b: 2 }])
    expect(await star()).toEqual([{ a: 1, b: 2 }])
  })

  it('stops naming statements when they do not stay on their connection (a pooler in transaction mode)', async () => {
    const other = await adapterFactoryFor({ kind: 'postgres', url: database.url })
    const client = new Client({ adapter: other.factory })
    try {
      const select = () => client.$queryRawUnsafe('SELECT a FROM probe ORDER BY a')
      for (let i = 0; i < 4; i++) await select()
      // What a pooler does: the next statement runs where ours was never prepared.
      await client.$executeRawUnsafe('DEALLOCATE ALL')
      await expect(select()).rejects.toThrow(/does not exist/)
      for (let i = 0; i < 4; i++) expect(await select()).toEqual([{ a: 1 }])
      const names = await client.$queryRawUnsafe<{ name: string }[]>('SELECT name FROM pg_prepared_statements')
      expect(names).toEqual([])
    } finally {
      await client.$disconnect()
      await other.close()
    }
  })
})
