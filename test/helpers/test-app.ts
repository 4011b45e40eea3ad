/**
 * Builds and starts the real service for a test file: real HTTP on a loopback port, a real
 * database (in-memory PGlite, or a fresh database on the PostgreSQL server named by DATABASE_URL),
 * and Meta played by a {@link FakeMetaServer} or by the simulator.
 */
import { randomBytes } from 'node:crypto'
import type { Writable } from 'node:stream'
import { type TypedDocumentNode } from '@graphql-typed-document-node/core'
import { parse, print } from 'graphql'
import { type Client, createClient } from 'graphql-ws'
import pg from 'pg'
import WebSocket from 'ws'
import type { Scope } from '../../src/auth/principal.js'
import { type App, createApp } from '../../src/app.js'
import { loadConfig, loadDatabaseConfig } from '../../src/config.js'
import type { FakeMetaServer } from './fake-meta.js'

export const API_TOKEN = 'test-token-0123456789abcdef'

/** Which database the suite runs on: `DATABASE_URL=postgres://…` selects PostgreSQL. */
export const TEST_DATABASE = loadDatabaseConfig()

/** A database for one app: a new PostgreSQL database (dropped afterwards), or in-memory PGlite. */
export async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (TEST_DATABASE.kind !== 'postgres') return { url: 'memory:', drop: async () => {} }
  const name = `wa_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE.url })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = new URL(TEST_DATABASE.url)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE.url })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await client.end()
    },
  }
}

export interface HttpResult<T = any> {
  status: number
  headers: Headers
  body: T
}

export interface TestApp {
  app: App
  url: string
  /** The database URL, for a second instance on the same database. */
  databaseUrl: string
  /** A graphql-ws subscription; `next()` resolves with the next result. */
  subscribe<R, V>(
    document: TypedDocumentNode<R, V>,
    variables?: V,
    options?: { token?: string | null },
  ): Subscription<R>
  /** A REST call; JSON body unless `raw` is given. Authenticated unless `token` is null. */
  rest<T = any>(
    method: string,
    path: string,
    body?: unknown,
    options?: { token?: string | null; raw?: string; contentType?: string },
  ): Promise<HttpResult<T>>
  /** A GraphQL operation over HTTP, typed by the generated documents. */
  gql<R, V>(
    document: TypedDocumentNode<R, V>,
    variables?: V,
    options?: { token?: string | null },
  ): Promise<HttpResult<{ data?: R | null; errors?: GraphQLErrorBody[] }>>
  close(): Promise<void>
}

export interface Subscription<R> {
  ready(): Promise<void>
  next(): Promise<{ data?: R; errors?: GraphQLErrorBody[] }>
  close(): Promise<void>
}

export interface GraphQLErrorBody {
  message: string
  path?: string[]
  extensions?: Record<string, any>
}

export async function startTestApp(
  options: {
    meta?: Pick<FakeMetaServer, 'env'>
    env?: Record<string, string>
    /** Share this database (a second instance) instead of making a scratch one. */
    databaseUrl?: string
    /** Where the JSON log lines go (LOG_LEVEL must not be silent then). */
    logStream?: Writable
  } = {},
): Promise<TestApp> {
  const database = options.databaseUrl ? { url: options.databaseUrl, drop: async () => {} } : await scratchDatabase()
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    API_TOKENS: API_TOKEN,
    WHATSAPP_RETRY_BASE_MS: '5', // retries stay, their waits shrink
    DATABASE_URL: database.url,
    ...(options.meta?.env() ?? {}),
    ...options.env,
  })
  const app = await createApp(config, { logStream: options.logStream, queryEvents: true })
  const url = await app.listen()

  const request = async (method: string, path: string, headers: Record<string, string>, body?: string) => {
    const res = await fetch(`${url}${path}`, { method, headers, body })
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON: the test sees the text
    }
    return { status: res.status, headers: res.headers, body: parsed as any }
  }
  const auth = (token: string | null | undefined): Record<string, string> =>
    token === null ? {} : { authorization: `Bearer ${token ?? API_TOKEN}` }

  const wsClients: Client[] = []
  return {
    app,
    url,
    databaseUrl: database.url,
    subscribe<R, V>(document: TypedDocumentNode<R, V>, variables?: V, opts: { token?: string | null } = {}) {
      const before = app.events.subscribers()
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? API_TOKEN}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
      })
      wsClients.push(client)
      const iterator = client.iterate<R>({ query: print(document), variables: variables as Record<string, unknown> })
      const first = iterator.next() // sends the subscribe message
      let pending: typeof first | null = first
      return {
        /** Resolves once the server serves this subscription, so no event is missed after it. */
        ready: async () => {
          for (let i = 0; i < 200 && app.events.subscribers() <= before; i++) {
            const settled = await Promise.race([first.then(() => true), new Promise((r) => setTimeout(r, 10, false))])
            if (settled) return
          }
        },
        next: async () => {
          const result = pending ?? iterator.next()
          pending = null
          const { value, done } = await result
          if (done) throw new Error('subscription ended')
          return value as { data?: R; errors?: GraphQLErrorBody[] }
        },
        close: async () => {
          await iterator.return?.()
          await client.dispose()
        },
      }
    },
    rest: (method, path, body, opts = {}) => {
      const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body))
      const headers: Record<string, string> = { ...auth(opts.token) }
      if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json'
      return request(method, path, headers, payload)
    },
    gql: (document, variables, opts = {}) =>
      request(
        'POST',
        '/graphql',
        { ...auth(opts.token), 'content-type': 'application/json' },
        JSON.stringify({ query: print(document), variables }),
      ),
    async close() {
      await Promise.all(wsClients.map((c) => c.dispose()))
      await app.close()
      await database.drop()
    },
  }
}

/** The nodes of a connection, in its order (messages: newest first). */
export function nodes<T>(connection: { edges: { node: T }[] }): T[] {
  return connection.edges.map((e) => e.node)
}

/** A message connection in chat order, oldest first. */
export function chronological<T>(connection: { edges: { node: T }[] }): T[] {
  return nodes(connection).reverse()
}

/** A new API key (createApiKey, as the admin token) limited to some business numbers. */
export async function numberLimitedToken(t: TestApp, phoneNumberIds: string[], scope: Scope = 'SEND'): Promise<string> {
  const created = await t.gql(
    parse(`mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }`) as TypedDocumentNode<
      { createApiKey: { key: string } },
      { i: { name: string; scope: Scope; phoneNumberIds: string[] } }
    >,
    { i: { name: `limited-${randomBytes(4).toString('hex')}`, scope, phoneNumberIds } },
  )
  if (!created.body.data) throw new Error(`createApiKey failed: ${JSON.stringify(created.body.errors)}`)
  return created.body.data.createApiKey.key
}
