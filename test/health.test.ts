import { describe, expect, it } from 'vitest'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp()

describe('health', () => {
  it('/healthz and /readyz answer without a token; /readyz is 503 when a migration is missing', async () => {
    expect(await (await fetch(`${ctx.t.url}/healthz`)).json()).toEqual({ status: 'ok' })
    expect(await (await fetch(`${ctx.t.url}/readyz`)).json()).toEqual({ status: 'ready' })
    const [last] = await ctx.t.app.database.prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1`
    await ctx.t.app.database.prisma
      .$executeRaw`UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = ${last.migration_name}`
    try {
      const res = await fetch(`${ctx.t.url}/readyz`)
      expect(res.status).toBe(503)
      expect((await res.json()).reason).toContain(last.migration_name)
    } finally {
      await ctx.t.app.database.prisma
        .$executeRaw`UPDATE _prisma_migrations SET finished_at = now() WHERE migration_name = ${last.migration_name}`
    }
  })
})
