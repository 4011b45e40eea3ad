import { describe, expect, it } from 'vitest'
import { ConversationsDocument } from './graphql/generated.js'
import { API_TOKEN } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp()

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${ctx.t.url}/graphql`, {
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
    const stop = ctx.t.app.database.onQuery(() => queries++)
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
    const { status, body } = await ctx.t.gql(ConversationsDocument, { first: 50 })
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
    const res = await fetch(`${ctx.t.url}/graphql?query=${encodeURIComponent('{ conversations { totalCount } }')}`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toMatch(/CSRF/i)
    const ok = await fetch(`${ctx.t.url}/graphql?query=${encodeURIComponent('{ conversations { totalCount } }')}`, {
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
