import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { scratchDatabase, TEST_DATABASE } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp()

describe('PostgreSQL connections', () => {
  it.runIf(TEST_DATABASE.kind === 'postgres')(
    'keeps serving when PostgreSQL ends the idle pooled connections (restart, failover)',
    async () => {
      expect((await ctx.t.rest('GET', '/api/whatsapp/conversations')).status).toBe(200)
      const admin = new pg.Client({ connectionString: ctx.t.databaseUrl })
      await admin.connect()
      try {
        const { rowCount } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'`,
        )
        expect(rowCount).toBeGreaterThan(0)
      } finally {
        await admin.end()
      }
      await new Promise((r) => setTimeout(r, 200)) // the pool hears of it (an 'error' event nobody handled would end the process)
      expect((await ctx.t.rest('GET', '/api/whatsapp/conversations')).status).toBe(200)
    },
  )

  it.runIf(TEST_DATABASE.kind === 'postgres')(
    'survives PostgreSQL ending the pool’s idle connections after Prisma let go of it (shutting down)',
    async () => {
      const { openDatabase } = await import('../src/db/database.js')
      const scratch = await scratchDatabase()
      const database = await openDatabase({ kind: 'postgres', url: scratch.url })
      const crashes: unknown[] = []
      const onUncaught = (err: unknown) => crashes.push(err)
      // An 'error' event with no listener is thrown from the socket's callback: an uncaught exception.
      const vitestListeners = process.listeners('uncaughtException')
      process.removeAllListeners('uncaughtException')
      process.on('uncaughtException', onUncaught)
      try {
        await database.prisma.conversation.count() // a connection, left idle in the pool
        await database.prisma.$disconnect() // Prisma's own listener goes; the pool lives until close()
        const admin = new pg.Client({ connectionString: scratch.url })
        await admin.connect()
        const { rowCount } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )
        await admin.end()
        expect(rowCount).toBeGreaterThan(0)
        await new Promise((r) => setTimeout(r, 200))
      } finally {
        process.off('uncaughtException', onUncaught)
        for (const listener of vitestListeners) process.on('uncaughtException', listener)
        await database.close()
        await scratch.drop()
      }
      expect(crashes).toEqual([])
    },
  )
})
