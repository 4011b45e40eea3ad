import { describe, expect, it } from 'vitest'
import { useTestApp } from './helpers/setup.js'
import { API_TOKEN } from './helpers/test-app.js'

const DASHBOARD = 'https://tablero.example.gt'
const withCors = useTestApp({ env: { CORS_ORIGINS: `${DASHBOARD}, http://localhost:5173` } })
const withoutCors = useTestApp()

const preflight = (base: string, path: string, origin: string) =>
  fetch(`${base}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    },
  })

describe('CORS_ORIGINS', () => {
  it('lets a listed dashboard origin preflight and call GraphQL and REST with its key', async () => {
    const res = await preflight(withCors.t.url, '/graphql', DASHBOARD)
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD)
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/)
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/)

    const query = await fetch(`${withCors.t.url}/graphql`, {
      method: 'POST',
      headers: { origin: DASHBOARD, authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ conversations(first: 1) { totalCount } }' }),
    })
    expect(query.status).toBe(200)
    expect(query.headers.get('access-control-allow-origin')).toBe(DASHBOARD)
    expect(query.headers.get('access-control-expose-headers')).toMatch(/X-Request-Id/)

    const rest = await fetch(`${withCors.t.url}/api/whatsapp/conversations`, {
      headers: { origin: 'http://localhost:5173', authorization: `Bearer ${API_TOKEN}` },
    })
    expect(rest.status).toBe(200)
    expect(rest.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
  })

  it('gives no other origin, and no other path, a CORS header', async () => {
    const stranger = await preflight(withCors.t.url, '/graphql', 'https://evil.example.com')
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull()
    const lookalike = await preflight(withCors.t.url, '/api/whatsapp/send', `${DASHBOARD}.evil.com`)
    expect(lookalike.headers.get('access-control-allow-origin')).toBeNull()
    const health = await fetch(`${withCors.t.url}/readyz`, { headers: { origin: DASHBOARD } })
    expect(health.headers.get('access-control-allow-origin')).toBeNull()
    const webhook = await preflight(withCors.t.url, '/webhooks/whatsapp', DASHBOARD)
    expect(webhook.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('allows no origin at all by default', async () => {
    const res = await preflight(withoutCors.t.url, '/graphql', DASHBOARD)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const query = await fetch(`${withoutCors.t.url}/api/whatsapp/conversations`, {
      headers: { origin: DASHBOARD, authorization: `Bearer ${API_TOKEN}` },
    })
    expect(query.headers.get('access-control-allow-origin')).toBeNull()
  })
})
