import { beforeEach, describe, expect, it } from 'vitest'
import { ConversationsDocument } from './graphql/generated.js'
import { scratchDatabase, startTestApp, TEST_DATABASE } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ app: false })

describe('rate limits', () => {
  // Limits count per clock minute: a test that straddles a minute's end would see a fresh window.
  beforeEach(async () => {
    const left = 60_000 - (Date.now() % 60_000)
    if (left < 10_000) await new Promise((r) => setTimeout(r, left + 50))
  })

  it('answers 429 with Retry-After once a token has used its requests for the minute, on both doors', async () => {
    const limited = await startTestApp({ meta: ctx.meta, env: { API_RATE_LIMIT_PER_MINUTE: '4' } })
    try {
      for (let i = 0; i < 4; i++) expect((await limited.rest('GET', '/api/whatsapp/conversations')).status).toBe(200)
      const rest = await limited.rest('GET', '/api/whatsapp/conversations')
      expect(rest.status).toBe(429)
      expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(rest.body.error.code).toBe('RATE_LIMITED')
      const gql = await limited.gql(ConversationsDocument, {})
      expect(gql.status).toBe(429)
      expect(gql.headers.get('retry-after')).not.toBeNull()
      expect(gql.body.errors![0].extensions!.code).toBe('RATE_LIMITED')
    } finally {
      await limited.close()
    }
  })

  it('lets exactly the limit through, without a database write per request', async () => {
    const limited = await startTestApp({ meta: ctx.meta, env: { API_RATE_LIMIT_PER_MINUTE: '40' } })
    try {
      let writes = 0
      const stop = limited.app.database.onQuery((sql) => {
        if (sql.includes('rate_limit_windows')) writes++
      })
      const statuses: number[] = []
      for (let i = 0; i < 41; i++) statuses.push((await limited.rest('GET', '/api/whatsapp/templates')).status)
      stop()
      expect(statuses.slice(0, 40).every((s) => s !== 429)).toBe(true)
      expect(statuses[40]).toBe(429)
      expect(writes).toBeLessThan(30) // shares of what is left (an eighth at a time), not one per request
    } finally {
      await limited.close()
    }
  })

  it('lets exactly the limit through a concurrent burst', async () => {
    const limited = await startTestApp({ meta: ctx.meta, env: { API_RATE_LIMIT_PER_MINUTE: '40' } })
    try {
      const statuses = await Promise.all(
        Array.from({ length: 60 }, async () => (await limited.rest('GET', '/api/whatsapp/conversations')).status),
      )
      expect(statuses.filter((s) => s === 200)).toHaveLength(40)
      expect(statuses.filter((s) => s === 429)).toHaveLength(20)
    } finally {
      await limited.close()
    }
  })

  it.runIf(TEST_DATABASE.kind === 'postgres')('counts across instances sharing PostgreSQL', async () => {
    const db = await scratchDatabase()
    const env = { API_RATE_LIMIT_PER_MINUTE: '4' }
    const a = await startTestApp({ meta: ctx.meta, env, databaseUrl: db.url })
    const b = await startTestApp({ meta: ctx.meta, env, databaseUrl: db.url })
    try {
      const statuses = []
      for (const app of [a, b, a, b, a]) statuses.push((await app.rest('GET', '/api/whatsapp/conversations')).status)
      expect(statuses).toEqual([200, 200, 200, 200, 429])
    } finally {
      await a.close()
      await b.close()
      await db.drop()
    }
  })
})
