/**
 * Idempotency keys on sends (Stripe / IETF draft semantics), through both doors, on the suite's
 * database (the CI runs this file on PGlite and on PostgreSQL).
 */
import { describe, expect, it } from 'vitest'
import { SendTemplateDocument, SendTextDocument } from './graphql/generated.js'
import { META_ERRORS, metaTemplate } from './helpers/fake-meta.js'
import { API_TOKEN, startTestApp, TEST_DATABASE, type TestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const OTHER_TOKEN = 'other-client-token-0123456789'

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'aviso' })] },
  env: { API_TOKENS: `${API_TOKEN},${OTHER_TOKEN}` },
})

let n = 0
const uniqueKey = () => `key-${Date.now()}-${n++}`
const sendWithKey = (app: TestApp, key: string, body: unknown, token?: string) =>
  fetch(`${app.url}/api/whatsapp/send`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token ?? API_TOKEN}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  }).then(async (res) => ({ status: res.status, body: await res.json() }))

describe('Idempotency-Key on REST sends', () => {
  it('answers the same key and body with the first response, without sending again', async () => {
    const key = uniqueKey()
    const body = { phoneNumber: '+50273000001', content: 'Su técnico llega a las 10:00' }
    const ledger = ctx.meta.accepted.length
    const first = await sendWithKey(ctx.t, key, body)
    // The same request, written differently (key order, number format): still the same request.
    const again = await sendWithKey(ctx.t, key, { content: body.content, phoneNumber: '+502 7300 0001' })
    expect(first.status).toBe(200)
    expect(again).toEqual(first)
    expect(ctx.meta.accepted.length).toBe(ledger + 1)
    const stored = await ctx.t.app.database.prisma.message.count({
      where: { conversation: { phoneNumber: '50273000001' } },
    })
    expect(stored).toBe(1)
  })

  it('refuses the same key with a different body (422 at the header), sending nothing', async () => {
    const key = uniqueKey()
    await sendWithKey(ctx.t, key, { phoneNumber: '+50273000002', content: 'uno' })
    const ledger = ctx.meta.accepted.length
    const other = await sendWithKey(ctx.t, key, { phoneNumber: '+50273000002', content: 'dos' })
    expect(other.status).toBe(422)
    expect(other.body.error).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      fields: [{ path: 'Idempotency-Key', message: expect.any(String) }],
    })
    expect(ctx.meta.accepted.length).toBe(ledger)
  })

  it('answers 409 to a request whose first is still in flight, and sends once', async () => {
    const key = uniqueKey()
    const body = { phoneNumber: '+50273000003', content: 'concurrente' }
    const ledger = ctx.meta.accepted.length
    ctx.meta.stall(400)
    try {
      const results = await Promise.all([
        sendWithKey(ctx.t, key, body),
        sendWithKey(ctx.t, key, body),
        sendWithKey(ctx.t, key, body),
      ])
      expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409])
      expect(results.find((r) => r.status === 409)!.body.error.code).toBe('IDEMPOTENCY_KEY_IN_FLIGHT')
    } finally {
      ctx.meta.stall(0)
    }
    expect(ctx.meta.accepted.length).toBe(ledger + 1)
    // Once it finished, the same key gets its response.
    const later = await sendWithKey(ctx.t, key, body)
    expect(later.status).toBe(200)
  })

  it('replays a refusal too (Meta is not asked again)', async () => {
    const key = uniqueKey()
    const body = { phoneNumber: '+50273000004', content: 'no llega' }
    ctx.meta.failFor('50273000004', META_ERRORS.undeliverable)
    const first = await sendWithKey(ctx.t, key, body)
    const calls = ctx.meta.requests.length
    const again = await sendWithKey(ctx.t, key, body)
    expect(first.status).toBe(502)
    expect(first.body.error.meta.code).toBe(131026)
    expect(again).toEqual(first)
    expect(ctx.meta.requests.length).toBe(calls)
  })

  it('keeps keys of different API tokens apart', async () => {
    const key = uniqueKey()
    const body = { phoneNumber: '+50273000005', content: 'hola' }
    const ledger = ctx.meta.accepted.length
    const a = await sendWithKey(ctx.t, key, body)
    const b = await sendWithKey(ctx.t, key, { ...body, content: 'otro cliente, otro mensaje' }, OTHER_TOKEN)
    expect([a.status, b.status]).toEqual([200, 200])
    expect(ctx.meta.accepted.length).toBe(ledger + 2)
  })

  it('refuses a malformed key with 422 naming the header', async () => {
    const res = await sendWithKey(ctx.t, 'x'.repeat(256), { phoneNumber: '+50273000006', content: 'hola' })
    expect(res.status).toBe(422)
    expect(res.body.error.fields[0].path).toBe('Idempotency-Key')
  })

  it('works for template fan-outs: one batch, one send per recipient', async () => {
    const key = uniqueKey()
    const body = {
      templateName: 'aviso',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      recipients: [{ phoneNumber: '+50273000007' }, { phoneNumber: '+50273000008' }],
    }
    const post = () =>
      fetch(`${ctx.t.url}/api/whatsapp/send-template`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      })
    const first = await post()
    const again = await post()
    expect(await again.json()).toEqual(await first.json())
    expect(again.headers.get('x-template-batch-id')).toBe(first.headers.get('x-template-batch-id'))
    expect(ctx.meta.sendsTo('50273000007')).toHaveLength(1)
    expect(ctx.meta.sendsTo('50273000008')).toHaveLength(1)
  })
})

describe('idempotencyKey on GraphQL sends', () => {
  it('returns the first result again for the same key and input', async () => {
    const key = uniqueKey()
    const input = { phoneNumber: '+50273000010', content: 'por GraphQL' }
    const ledger = ctx.meta.accepted.length
    const first = await ctx.t.gql(SendTextDocument, { input, idempotencyKey: key })
    const again = await ctx.t.gql(SendTextDocument, { input, idempotencyKey: key })
    expect(first.body.errors).toBeUndefined()
    expect(again.body).toEqual(first.body)
    expect(ctx.meta.accepted.length).toBe(ledger + 1)

    const other = await ctx.t.gql(SendTextDocument, { input: { ...input, content: 'otro' }, idempotencyKey: key })
    expect(other.body.errors?.[0].extensions).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      fields: [{ path: 'idempotencyKey' }],
    })
  })

  it('replays a template fan-out with its batch', async () => {
    const key = uniqueKey()
    const input = {
      templateName: 'aviso',
      languageCode: 'es',
      components: [{ type: 'BODY' as const, parameters: [{ type: 'TEXT' as const, text: 'Ana' }] }],
      recipients: [{ phoneNumber: '+50273000011' }],
    }
    const first = await ctx.t.gql(SendTemplateDocument, { input, idempotencyKey: key })
    const again = await ctx.t.gql(SendTemplateDocument, { input, idempotencyKey: key })
    expect(first.body.errors).toBeUndefined()
    expect(again.body.data!.sendTemplate.batch!.id).toBe(first.body.data!.sendTemplate.batch!.id)
    expect(again.body.data!.sendTemplate.results).toEqual(first.body.data!.sendTemplate.results)
    expect(ctx.meta.sendsTo('50273000011')).toHaveLength(1)
  })
})

describe.skipIf(TEST_DATABASE.kind !== 'postgres')('idempotency across instances sharing PostgreSQL', () => {
  it('replays on another instance, and refuses a concurrent duplicate there with 409', async () => {
    const second = await startTestApp({ meta: ctx.meta, databaseUrl: ctx.t.databaseUrl })
    try {
      const body = { phoneNumber: '+50273000020', content: 'dos instancias' }
      const key = uniqueKey()
      const ledger = ctx.meta.accepted.length
      ctx.meta.stall(400)
      let results
      try {
        results = await Promise.all([sendWithKey(ctx.t, key, body), sendWithKey(second, key, body)])
      } finally {
        ctx.meta.stall(0)
      }
      expect(results.map((r) => r.status).sort()).toEqual([200, 409])
      const replay = await sendWithKey(second, key, body)
      expect(replay).toEqual(results.find((r) => r.status === 200))
      expect(ctx.meta.accepted.length).toBe(ledger + 1)
    } finally {
      await second.close()
    }
  })
})
