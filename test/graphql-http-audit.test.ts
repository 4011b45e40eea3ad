import { auditServer } from 'graphql-http'
import { expect, it } from 'vitest'
import { API_TOKEN } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ meta: false }) // simulator mode; introspection on (not production)

it('passes the GraphQL-over-HTTP audit (graphql-http) with no errors', async () => {
  const results = await auditServer({
    url: `${ctx.t.url}/graphql`,
    // Our bearer token, and the header Apollo's CSRF prevention asks of non-JSON requests.
    fetchFn: (input: RequestInfo | URL, init?: RequestInit) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${API_TOKEN}`)
      headers.set('apollo-require-preflight', 'true')
      return fetch(input, { ...init, headers })
    },
  })
  const errors = results.filter((r) => r.status === 'error')
  const describe = async (r: (typeof results)[number]) => `${r.id} ${r.name}: ${'reason' in r ? r.reason : ''}`
  expect(await Promise.all(errors.map(describe))).toEqual([])
  expect(results.filter((r) => r.status === 'ok').length).toBeGreaterThan(20)
})
