/**
 * Malformed bodies, variables and parameters against every REST path, /graphql and the webhook:
 * never a 500, and the server keeps serving. Deterministic: a seeded generator.
 */
import { expect, it } from 'vitest'
import { signWebhook } from '../src/meta/meta.webhooks.js'
import {
  ConversationsDocument,
  SendInConversationDocument,
  SendTemplateDocument,
  SendTextDocument,
} from './graphql/generated.js'
import { API_TOKEN } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { APP_SECRET, inboundMessage, inboundText, metaJson, statusUpdate, webhookEnv } from './helpers/webhooks.js'
import { print } from 'graphql'

const ctx = useTestApp({ env: { ...webhookEnv, API_RATE_LIMIT_PER_MINUTE: '100000' } })

/** mulberry32: small, seeded, good enough to explore inputs. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const FIELDS = [
  'phoneNumber',
  'content',
  'requestId',
  'type',
  'templateName',
  'languageCode',
  'components',
  'recipients',
  'parameters',
  'sub_type',
  'index',
  'text',
  'payload',
  'first',
  'after',
  'filter',
  'conversationId',
  'input',
  'mediaId',
  'link',
  'caption',
  'filename',
  'location',
  'latitude',
  'buttons',
  'list',
  'sections',
  'rows',
  'replyTo',
  'emoji',
  'typing',
]

function generator(seed: number) {
  const rnd = random(seed)
  const pick = <T>(items: T[]) => items[Math.floor(rnd() * items.length)]
  const scalar = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => rnd() < 0.5,
      () => Math.floor(rnd() * 2 ** 40) * (rnd() < 0.3 ? -1 : 1),
      () => rnd() * 1e308,
      () => 2 ** 31,
      () => -0,
      () => '',
      () => '+50212345678',
      () => '+502 1234-5678',
      () => '٣٤٥٦',
      () => '🙂'.repeat(Math.floor(rnd() * 3000)),
      () => 'x'.repeat(Math.floor(rnd() * 5000)),
      () => '\u0000\u0001\ud800',
      () => "'; DROP TABLE messages; --",
      () => '{{1}}',
      () => 'text',
      () => 'body',
      () => 'button',
      () => 'image',
      () => 'interactive',
      () => 'reaction',
      () => 'location',
      () => '👍',
      () => 'https://example.gt/a.jpg',
      () => 'med_AAAAAAAAAAAAAAAAAAAAAA',
      () => '__proto__',
      () => 'bm90LWEtY3Vyc29y',
      () => new Date(rnd() * 4e12).toISOString(),
    ])()
  const value = (depth: number): unknown => {
    if (depth <= 0 || rnd() < 0.4) return scalar()
    if (rnd() < 0.4) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth - 1))
    const object: Record<string, unknown> = {}
    for (let i = Math.floor(rnd() * 5); i > 0; i--)
      object[rnd() < 0.8 ? pick(FIELDS) : String(scalar())] = value(depth - 1)
    return object
  }
  const rawBody = (): { body: string; type: string } => {
    const json = JSON.stringify(value(4)) ?? 'null'
    return pick([
      () => ({ body: json, type: 'application/json' }),
      () => ({ body: json.slice(0, Math.floor(rnd() * json.length)), type: 'application/json' }),
      () => ({
        body: json,
        type: pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']),
      }),
      () => ({ body: '\u00ff\u00fe' + json, type: 'application/json' }),
      () => ({ body: '', type: 'application/json' }),
    ])()
  }
  return { rnd, pick, value, rawBody, scalar }
}

async function call(method: string, path: string, body?: string, type?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${ctx.t.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_TOKEN}`, ...(type ? { 'content-type': type } : {}), ...headers },
    body,
  })
  await res.arrayBuffer()
  return res.status
}

it('never answers 500 to malformed REST requests', async () => {
  const g = generator(20261125)
  const failures: string[] = []
  for (let i = 0; i < 400; i++) {
    const { body, type } = g.rawBody()
    const id = encodeURIComponent(String(g.scalar()).replace(/[\ud800-\udfff]/g, '?'))
    const query = new URLSearchParams(
      Object.entries((g.value(1) as Record<string, unknown>) ?? {}).map(([k, v]) => [
        k,
        String(v).replace(/[\ud800-\udfff]/g, '?'),
      ]),
    ).toString()
    const [method, path, withBody] = g.pick<[string, string, boolean]>([
      ['POST', '/api/whatsapp/send', true],
      ['POST', '/api/whatsapp/send-template', true],
      ['POST', `/api/whatsapp/conversations/${id}/messages`, true],
      ['GET', `/api/whatsapp/templates?${query}`, false],
      ['GET', `/api/whatsapp/conversations?${query}`, false],
      ['GET', `/api/whatsapp/conversations/${id}/messages?${query}`, false],
      ['POST', `/api/whatsapp/conversations/${id}/read`, true],
      ['POST', '/api/whatsapp/media', true],
      ['GET', `/api/whatsapp/media/${id}`, false],
    ])
    const status = await call(method, path, withBody ? body : undefined, withBody ? type : undefined)
    if (status >= 500) failures.push(`${status} ${method} ${path} ${body.slice(0, 200)}`)
  }
  expect(failures).toEqual([])
  expect(await call('GET', '/healthz')).toBe(200)
})

it('never answers 500 to malformed GraphQL requests or variables', async () => {
  const g = generator(42)
  const documents = [SendTextDocument, SendTemplateDocument, ConversationsDocument, SendInConversationDocument].map(
    (d) => print(d),
  )
  const failures: string[] = []
  for (let i = 0; i < 300; i++) {
    const document = g.pick(documents)
    const payload = g.pick<() => string>([
      () => JSON.stringify({ query: document, variables: g.value(4) }),
      () =>
        JSON.stringify({
          query: document,
          variables: { input: g.value(4), first: g.scalar(), after: g.scalar(), filter: g.value(2) },
        }),
      () => JSON.stringify({ query: document.slice(0, Math.floor(g.rnd() * document.length)) }),
      () => JSON.stringify(g.value(3)),
      () => JSON.stringify({ query: g.scalar(), variables: g.scalar(), operationName: g.scalar() }),
    ])()
    const status = await call('POST', '/graphql', payload, 'application/json')
    if (status >= 500) failures.push(`${status} ${payload.slice(0, 300)}`)
  }
  expect(failures).toEqual([])
  expect(await call('GET', '/healthz')).toBe(200)
})

it('never answers 500 to signed but malformed webhooks, and keeps what it cannot apply', async () => {
  const g = generator(7)
  const failures: string[] = []
  const shapes = [
    inboundText({ from: '50212345678', wamid: 'wamid.F', text: 'x' }),
    statusUpdate({ wamid: 'wamid.F', status: 'read' }),
    inboundMessage('50212345678', {
      id: 'wamid.I',
      type: 'image',
      image: { id: '1', mime_type: 'image/jpeg', sha256: 'x' },
    }),
    inboundMessage('50212345678', {
      id: 'wamid.R',
      type: 'reaction',
      reaction: { message_id: 'wamid.F', emoji: '👍' },
    }),
    inboundMessage('50212345678', {
      id: 'wamid.B',
      type: 'interactive',
      context: { from: '50222223333', id: 'wamid.F' },
      interactive: { type: 'list_reply', list_reply: { id: 'r1', title: 'Lunes' } },
    }),
    inboundMessage('50212345678', { id: 'wamid.L', type: 'location', location: { latitude: 14.6, longitude: -90.5 } }),
  ]
  for (let i = 0; i < 150; i++) {
    const mutated = structuredClone(g.pick(shapes)) as any
    const value = mutated.entry[0].changes[0].value
    const key = g.pick(['messages', 'statuses', 'contacts', 'metadata'])
    if (g.rnd() < 0.5) value[key] = g.value(3)
    else if (Array.isArray(value[key]) && value[key][0])
      value[key][0][
        g.pick([
          'id',
          'timestamp',
          'from',
          'type',
          'status',
          'text',
          'image',
          'reaction',
          'interactive',
          'location',
          'context',
        ])
      ] = g.value(2)
    const body = g.rnd() < 0.2 ? JSON.stringify(g.value(3)) : metaJson(mutated)
    const status = await call('POST', '/webhooks/whatsapp', body, 'application/json', {
      'x-hub-signature-256': signWebhook(body, APP_SECRET),
    })
    if (status !== 200) failures.push(`${status} ${body.slice(0, 200)}`)
  }
  await ctx.t.app.webhooks.drained()
  expect(failures).toEqual([])
  expect(await call('GET', '/healthz')).toBe(200)
  expect(await ctx.t.app.database.prisma.webhookEvent.count({ where: { status: 'received' } })).toBe(0)
})
