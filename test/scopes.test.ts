/**
 * Function-level authorization (issue 20, OWASP API5): every GraphQL root field and every REST
 * route, walked with a READ, a SEND and an ADMIN key. The operations are made from the schema and
 * the OpenAPI document, so an operation added later is walked too (and one without a decision
 * stops the start: see the last tests).
 */
import Fastify from 'fastify'
import {
  buildSchema,
  getNamedType,
  type GraphQLField,
  type GraphQLSchema,
  isCompositeType,
  type OperationTypeNode,
  parse,
} from 'graphql'
import { describe, expect, it } from 'vitest'
import { covers, type Scope } from '../src/auth/principal.js'
import { GRAPHQL_SCOPES, REST_SCOPES } from '../src/auth/scopes.js'
import { getSchema } from '../src/graphql/schema.js'
import { assertEveryRootFieldDecided } from '../src/graphql/scopes.js'
import { enforceRestScopes } from '../src/rest/rest.scopes.js'
import { ApiKeysDocument, CreateApiKeyDocument, SendTextDocument } from './graphql/generated.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp()
const SCOPE_LIST: Scope[] = ['READ', 'SEND', 'ADMIN']
const keys = {} as Record<Scope, string>

const keyFor = async (scope: Scope) => {
  if (keys[scope]) return keys[scope]
  const res = await ctx.t.gql(CreateApiKeyDocument, { input: { name: `walk-${scope}`, scope } })
  expect(res.body.errors).toBeUndefined()
  return (keys[scope] = res.body.data!.createApiKey.key)
}

/** An operation selecting only `field`, its arguments as variables (left unset: execution would refuse them). */
function operationFor(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>) {
  const vars = field.args.map((a, i) => `$a${i}: ${String(a.type)}`)
  const args = field.args.map((a, i) => `${a.name}: $a${i}`)
  const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : ''
  return `${kind} Walk${vars.length ? `(${vars.join(', ')})` : ''} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`
}

const rootFields = (schema: GraphQLSchema) =>
  (['query', 'mutation', 'subscription'] as const).flatMap((kind) =>
    Object.values(schema.getRootType(kind as OperationTypeNode)?.getFields() ?? {}).map((field) => ({
      kind,
      root: ({ query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const)[kind],
      field,
    })),
  )

describe('each scope against each GraphQL root field', () => {
  it('answers 403 FORBIDDEN outside the scope, before anything runs, and lets the rest through', async () => {
    const schema = await getSchema()
    const seen: string[] = []
    for (const { kind, root, field } of rootFields(schema)) {
      if (kind === 'subscription') continue // over WebSocket: below
      const needed = (GRAPHQL_SCOPES[root] as Record<string, Scope>)[field.name]
      expect(needed, `${root}.${field.name} has a decision`).toBeDefined()
      for (const scope of SCOPE_LIST) {
        const res = await ctx.t.gql(parse(operationFor(kind, field)) as never, {}, { token: await keyFor(scope) })
        const codes = (res.body.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code)
        if (covers(scope, needed)) {
          expect(codes, `${scope} may use ${field.name}`).not.toContain('FORBIDDEN')
          expect(res.status, `${scope} may use ${field.name}`).not.toBe(403)
        } else {
          expect(res.status, `${scope} may not use ${field.name}`).toBe(403)
          expect(codes).toEqual(['FORBIDDEN'])
          expect(res.body.data ?? null).toBeNull()
        }
      }
      seen.push(`${root}.${field.name}`)
    }
    expect(seen.length).toBeGreaterThan(25)
  })

  it('serves every subscription to every key (they all need READ)', async () => {
    const schema = await getSchema()
    for (const { kind, field } of rootFields(schema)) {
      if (kind !== 'subscription') continue
      expect(GRAPHQL_SCOPES.Subscription[field.name as keyof typeof GRAPHQL_SCOPES.Subscription]).toBe('READ')
      for (const scope of SCOPE_LIST) {
        const before = ctx.t.app.events.subscribers()
        const sub = ctx.t.subscribe(parse(operationFor(kind, field)) as never, {}, { token: await keyFor(scope) })
        await sub.ready()
        expect(ctx.t.app.events.subscribers(), `${scope} subscribes to ${field.name}`).toBe(before + 1)
        await sub.close()
        await expect.poll(() => ctx.t.app.events.subscribers()).toBe(before)
      }
    }
  })

  it('refuses a whole operation when one of its fields is outside the scope: a send by a READ key does nothing', async () => {
    const sentBefore = ctx.meta.accepted.length
    const res = await ctx.t.gql(
      SendTextDocument,
      { input: { phoneNumber: '+50255501234', content: 'no debería salir' } },
      { token: await keyFor('READ') },
    )
    expect(res.status).toBe(403)
    expect(res.body.errors![0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } })
    expect(res.body.errors![0].message).toMatch(/READ.*sendText needs SEND/)
    const rest = await ctx.t.rest('GET', '/api/whatsapp/conversations?first=100')
    expect(rest.body.data.some((c: { phone_number: string }) => c.phone_number.endsWith('55501234'))).toBe(false)
    expect(ctx.meta.accepted.length).toBe(sentBefore)

    const mixed = await ctx.t.gql(
      parse('query Mixed { conversations(first: 1) { totalCount } apiKeys { name } }') as never,
      {},
      { token: await keyFor('SEND') },
    )
    expect(mixed.status).toBe(403)
    expect(mixed.body.data ?? null).toBeNull()

    const made = await ctx.t.gql(
      CreateApiKeyDocument,
      { input: { name: 'escalada', scope: 'ADMIN' } },
      { token: await keyFor('SEND') },
    )
    expect(made.status).toBe(403)
    const listed = await ctx.t.gql(ApiKeysDocument)
    expect(listed.body.data!.apiKeys.map((k) => k.name)).not.toContain('escalada')
  })
})

describe('each scope against each REST route', () => {
  it('answers 403 FORBIDDEN outside the scope, in the REST shape, and lets the rest through', async () => {
    const document = (await ctx.t.rest('GET', '/api/whatsapp/openapi.json', undefined, { token: null })).body
    const walked: string[] = []
    for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(methods)) {
        const route = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`
        const needed = REST_SCOPES[route]
        expect(['READ', 'SEND', 'ADMIN'], `${route} has a scope`).toContain(needed)
        expect(operation['x-scope'], `${route} documents its scope`).toBe(needed)
        if (needed !== 'READ') expect(Object.keys(operation.responses)).toContain('403')
        const url = path.replace('{id}', '999999').replace('{mediaId}', 'med_missing000')
        for (const scope of SCOPE_LIST) {
          const res = await ctx.t.rest(method.toUpperCase(), url, method === 'post' ? {} : undefined, {
            token: await keyFor(scope),
          })
          if (covers(scope, needed as Scope)) expect(res.status, `${scope} may ${route}`).not.toBe(403)
          else {
            expect(res.status, `${scope} may not ${route}`).toBe(403)
            expect(res.body).toEqual({ success: false, error: { code: 'FORBIDDEN', message: expect.any(String) } })
          }
        }
        walked.push(route)
      }
    }
    expect(walked.length).toBeGreaterThanOrEqual(11)
  })

  it('refuses a send by a READ key before reading it: nothing is sent', async () => {
    const sentBefore = ctx.meta.accepted.length
    const res = await ctx.t.rest(
      'POST',
      '/api/whatsapp/send',
      { phoneNumber: '+50255509876', message: 'no debería salir' },
      { token: await keyFor('READ') },
    )
    expect(res.status).toBe(403)
    expect(res.body.error.message).toMatch(/READ: POST \/api\/whatsapp\/send needs SEND/)
    expect(ctx.meta.accepted.length).toBe(sentBefore)
  })
})

describe('an operation without a decision', () => {
  it('stops the start when a GraphQL root field has none', async () => {
    const decided = Object.keys(GRAPHQL_SCOPES.Query).map((f) => `${f}: Int`)
    const schema = buildSchema(`type Query { ${decided.join(' ')} exportEverything: Int }`)
    expect(() => assertEveryRootFieldDecided(schema)).toThrow(/Query\.exportEverything has no scope/)
  })

  it('stops the start when a route has none', async () => {
    const server = Fastify()
    enforceRestScopes(server)
    server.get('/healthz', async () => 'ok')
    expect(() => server.post('/api/whatsapp/export-everything', async () => 'all')).toThrow(
      /POST \/api\/whatsapp\/export-everything has no scope/,
    )
    await server.close()
  })
})
