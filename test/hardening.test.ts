import { Writable } from 'node:stream'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ConversationsDocument, SendTextDocument, TemplatesDocument } from './graphql/generated.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { API_TOKEN, scratchDatabase, startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'

let meta: FakeMetaServer
let t: TestApp

beforeAll(async () => {
  meta = await FakeMetaServer.start()
  t = await startTestApp({ meta })
})
afterAll(async () => {
  await t?.close()
  await meta?.close()
})

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

describe('GraphQL limits', () => {
  it('refuses a query nested deeper than the limit, before running it', async () => {
    let selection = 'id'
    for (let i = 0; i < 7; i++) selection = `messages(first: 1) { edges { node { conversation { ${selection} } } } }`
    const res = await post({ query: `{ conversation(id: 1) { ${selection} } }` })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', maxDepth: 12 })
  })

  it('refuses a query costing more than the limit without touching the database beyond the rate limit', async () => {
    let queries = 0
    const stop = t.app.database.onQuery(() => queries++)
    const res = await post({
      query: `{ conversations(first: 100) { edges { node { messages(first: 100) { edges { node { id content status createdAt } } } } } } }`,
    })
    stop()
    expect(res.status).toBe(400)
    expect((await res.json()).errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', maxCost: 20000 })
    expect(queries).toBeLessThanOrEqual(1) // at most the rate limit reserving its next share
  })

  it('refuses the same costly query every time, and still runs a cheap one with other variables', async () => {
    const query = `query Q($first: Int) { conversations(first: $first) { edges { node { messages(first: 100) { edges { node { id } } } } } } }`
    for (let i = 0; i < 3; i++) {
      const res = await post({ query, variables: { first: 100 } })
      expect(res.status).toBe(400)
      expect((await res.json()).errors[0].extensions).toMatchObject({
        code: 'QUERY_TOO_COMPLEX',
        cost: expect.any(Number),
      })
    }
    const cheap = await post({ query, variables: { first: 1 } })
    expect(cheap.status).toBe(200)
    expect((await cheap.json()).errors).toBeUndefined()
  })

  it('takes an ordinary dashboard query', async () => {
    const { status, body } = await t.gql(ConversationsDocument, { first: 50 })
    expect(status).toBe(200)
    expect(body.errors).toBeUndefined()
  })

  it('refuses batched requests', async () => {
    const res = await post([
      { query: '{ conversations { totalCount } }' },
      { query: '{ conversations { totalCount } }' },
    ])
    expect(res.status).toBe(400)
  })

  it('keeps CSRF prevention on: a simple GET without a preflight header is refused', async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ conversations { totalCount } }')}`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toMatch(/CSRF/i)
    const ok = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ conversations { totalCount } }')}`, {
      headers: { authorization: `Bearer ${API_TOKEN}`, 'apollo-require-preflight': 'true' },
    })
    expect(ok.status).toBe(200)
  })

  it('refuses a body over the size limit with 413', async () => {
    const res = await post({
      query: `{ conversations { totalCount } }`,
      variables: { pad: 'x'.repeat(2 * 1024 * 1024) },
    })
    expect(res.status).toBe(413)
  })
})

describe('health', () => {
  it('/healthz and /readyz answer without a token; /readyz is 503 when a migration is missing', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' })
    expect(await (await fetch(`${t.url}/readyz`)).json()).toEqual({ status: 'ready' })
    const [last] = await t.app.database.prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1`
    await t.app.database.prisma
      .$executeRaw`UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = ${last.migration_name}`
    try {
      const res = await fetch(`${t.url}/readyz`)
      expect(res.status).toBe(503)
      expect((await res.json()).reason).toContain(last.migration_name)
    } finally {
      await t.app.database.prisma
        .$executeRaw`UPDATE _prisma_migrations SET finished_at = now() WHERE migration_name = ${last.migration_name}`
    }
  })
})

describe('logs', () => {
  it('are JSON lines with the request id on each request line and the response, and never a token', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean))
        done()
      },
    })
    const logged = await startTestApp({ meta, env: { LOG_LEVEL: 'info' }, logStream: stream })
    try {
      const res = await fetch(`${logged.url}/api/whatsapp/send`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${API_TOKEN}`,
          'content-type': 'application/json',
          'x-request-id': 'dash-42',
        },
        body: JSON.stringify({ phoneNumber: '+50212345678', content: 'hola' }),
      })
      expect(res.headers.get('x-request-id')).toBe('dash-42')
      const generated = await logged.rest('GET', '/api/whatsapp/templates')
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await logged.close()
    }
    const records = lines.map((l) => JSON.parse(l))
    const requestLines = records.filter((r) => r.req || r.res)
    expect(requestLines.length).toBeGreaterThanOrEqual(4)
    expect(requestLines.every((r) => typeof r.requestId === 'string')).toBe(true)
    expect(requestLines.some((r) => r.requestId === 'dash-42')).toBe(true)
    const all = lines.join('\n')
    expect(all).not.toContain(API_TOKEN)
    expect(all).not.toContain(meta.accessToken)
  })
})

describe('production mode', () => {
  it('masks unknown errors, hides schema hints, and keeps introspection and Sandbox off unless enabled', async () => {
    const prod = await startTestApp({ meta, env: { NODE_ENV: 'production' } })
    try {
      const typo = await prod.rest('POST', '/graphql', { query: '{ conversatons { totalCount } }' })
      expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean/)

      await prod.app.database.prisma.$executeRawUnsafe('DROP TABLE templates')
      const { body } = await prod.gql(TemplatesDocument, {})
      expect(body.errors![0]).toEqual({
        message: 'Internal server error',
        locations: expect.any(Array),
        path: ['templates'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      })
      const rest = await prod.rest('GET', '/api/whatsapp/templates')
      expect(rest.status).toBe(500)
      expect(rest.body).toEqual({
        success: false,
        error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' },
      })
    } finally {
      await prod.close()
    }

    const open = await startTestApp({
      meta,
      env: { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', GRAPHQL_SANDBOX: 'true' },
    })
    try {
      const introspection = await open.rest('POST', '/graphql', { query: '{ __schema { queryType { name } } }' })
      expect(introspection.body.data.__schema.queryType.name).toBe('Query')
      const page = await fetch(`${open.url}/graphql`, { headers: { accept: 'text/html' } })
      expect(await page.text()).toMatch(/sandbox/i)
    } finally {
      await open.close()
    }
  })
})

describe('graceful shutdown', () => {
  it('finishes in-flight sends before closing', async () => {
    const own = await startTestApp({ meta })
    meta.stall(300)
    try {
      const before = meta.requests.length
      const inFlight = own.gql(SendTextDocument, { input: { phoneNumber: '+50212345678', content: 'en camino' } })
      while (meta.requests.length === before) await new Promise((r) => setTimeout(r, 5))
      const closing = own.app.close()
      const { status, body } = await inFlight
      expect(status).toBe(200)
      expect(body.data!.sendText.message.status).toBe('SENT')
      await closing
      await expect(fetch(`${own.url}/healthz`)).rejects.toThrow()
    } finally {
      meta.stall(0)
      await own.close().catch(() => {})
    }
  })
})

describe('rate limits', () => {
  // Limits count per clock minute: a test that straddles a minute's end would see a fresh window.
  beforeEach(async () => {
    const left = 60_000 - (Date.now() % 60_000)
    if (left < 10_000) await new Promise((r) => setTimeout(r, left + 50))
  })

  it('answers 429 with Retry-After once a token has used its requests for the minute, on both doors', async () => {
    const limited = await startTestApp({ meta, env: { API_RATE_LIMIT_PER_MINUTE: '4' } })
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
    const limited = await startTestApp({ meta, env: { API_RATE_LIMIT_PER_MINUTE: '40' } })
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
    const limited = await startTestApp({ meta, env: { API_RATE_LIMIT_PER_MINUTE: '40' } })
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
    const a = await startTestApp({ meta, env, databaseUrl: db.url })
    const b = await startTestApp({ meta, env, databaseUrl: db.url })
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

describe('PostgreSQL connections', () => {
  it.runIf(TEST_DATABASE.kind === 'postgres')(
    'keeps serving when PostgreSQL ends the idle pooled connections (restart, failover)',
    async () => {
      expect((await t.rest('GET', '/api/whatsapp/conversations')).status).toBe(200)
      const admin = new pg.Client({ connectionString: t.databaseUrl })
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
      expect((await t.rest('GET', '/api/whatsapp/conversations')).status).toBe(200)
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
