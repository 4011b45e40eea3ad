/**
 * Revoking a key: refused at once on every instance, its open subscriptions closed (4403), on the
 * instance that revoked it and, on one PostgreSQL, on the others.
 */
import { print } from 'graphql'
import { createClient } from 'graphql-ws'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  ConversationsDocument,
  CreateApiKeyDocument,
  MessageAddedDocument,
  RevokeApiKeyDocument,
} from './graphql/generated.js'
import { type Cleanup, until } from './helpers/child-app.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'

const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

async function app(meta: FakeMetaServer, databaseUrl?: string) {
  const t = await startTestApp({ meta, databaseUrl })
  cleanup.push(() => t.close())
  return t
}

async function fakeMeta() {
  const meta = await FakeMetaServer.start()
  cleanup.push(() => meta.close())
  return meta
}

/** A subscription held with `key`; `closedWith` is the close code once the server closed it. */
function subscribeWith(t: TestApp, key: string) {
  const state: { closedWith: number | null; served: boolean } = { closedWith: null, served: false }
  const client = createClient({
    url: `${t.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
    on: { closed: (event) => (state.closedWith = (event as { code: number }).code) },
  })
  cleanup.push(async () => client.dispose())
  const before = t.app.events.subscribers()
  client.subscribe({ query: print(MessageAddedDocument) }, { next: () => {}, error: () => {}, complete: () => {} })
  return {
    state,
    served: () => until('the subscription to be served', () => t.app.events.subscribers() > before, 10_000),
  }
}

const createKey = async (t: TestApp, name: string) => {
  const res = await t.gql(CreateApiKeyDocument, { input: { name, scope: 'READ' } })
  expect(res.body.errors).toBeUndefined()
  return res.body.data!.createApiKey.key
}

describe('revoking a key', () => {
  it('refuses it at once and closes its open subscriptions, leaving other keys’ open', async () => {
    const t = await app(await fakeMeta())
    const key = await createKey(t, 'pantalla-recepcion')
    const other = await createKey(t, 'pantalla-bodega')
    const revoked = subscribeWith(t, key)
    const kept = subscribeWith(t, other)
    await revoked.served()
    await kept.served()

    expect((await t.gql(RevokeApiKeyDocument, { name: 'pantalla-recepcion' })).body.data!.revokeApiKey).toBe(true)
    await until('the subscription to be closed', () => revoked.state.closedWith !== null, 10_000)
    expect(revoked.state.closedWith).toBe(4403)
    expect((await t.gql(ConversationsDocument, { first: 1 }, { token: key })).status).toBe(401)
    // A new subscription with it is refused at the handshake.
    const again = subscribeWith(t, key)
    await until('the new connection to be refused', () => again.state.closedWith !== null, 10_000)
    expect(again.state.closedWith).toBe(4403)
    await new Promise((r) => setTimeout(r, 200))
    expect(kept.state.closedWith).toBeNull()
    expect((await t.gql(ConversationsDocument, { first: 1 }, { token: other })).status).toBe(200)
  })
})

describe.skipIf(TEST_DATABASE.kind !== 'postgres')('two instances on one PostgreSQL (PostgreSQL only)', () => {
  it('refuses a key revoked on one instance on the other at once, and closes its subscriptions there', async () => {
    const meta = await fakeMeta()
    const a = await app(meta)
    const b = await app(meta, a.databaseUrl)
    const key = await createKey(a, 'tablero-zona-norte')
    // B knows the key (and caches it) before the revocation.
    expect((await b.gql(ConversationsDocument, { first: 1 }, { token: key })).status).toBe(200)
    const onB = subscribeWith(b, key)
    await onB.served()

    expect((await a.gql(RevokeApiKeyDocument, { name: 'tablero-zona-norte' })).body.data!.revokeApiKey).toBe(true)
    await until('B to close the subscription', () => onB.state.closedWith !== null, 10_000)
    expect(onB.state.closedWith).toBe(4403)
    expect((await b.gql(ConversationsDocument, { first: 1 }, { token: key })).status).toBe(401)
    expect((await b.rest('GET', '/api/whatsapp/conversations', undefined, { token: key })).status).toBe(401)
  })
})
