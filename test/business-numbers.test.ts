import { describe, expect, it } from 'vitest'
import {
  AddBusinessNumberDocument,
  BusinessNumbersDocument,
  NumberConversationDocument,
  NumberConversationsDocument,
} from './graphql/generated.js'
import { busiestWindow, metaTemplate } from './helpers/fake-meta.js'
import { until } from './helpers/child-app.js'
import { useTestApp } from './helpers/setup.js'
import { nodes, numberLimitedToken } from './helpers/test-app.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

// Several business numbers (issue 20): the default one from WHATSAPP_*, and others added at run time.

const SALES = { phoneNumberId: '200000000000111', businessAccountId: '300000000000111', accessToken: 'EAAGsales0123' }
const SUPPORT = {
  phoneNumberId: '200000000000222',
  businessAccountId: '300000000000222',
  accessToken: 'EAAGsupport456',
}
const LATE = { phoneNumberId: '200000000000333', businessAccountId: '300000000000111', accessToken: 'EAAGlate789' }

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'aviso_servicio' })] },
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false', WHATSAPP_MESSAGES_PER_SECOND: '20' },
})

const applied = () => ctx.t.app.webhooks.drained()
/** The same webhook, as Meta sends it for another business number. */
const forNumber = (payload: ReturnType<typeof inboundText>, phoneNumberId: string) => {
  const copy = structuredClone(payload)
  copy.entry[0].changes[0].value.metadata.phone_number_id = phoneNumberId
  return copy
}
const add = (number: typeof SALES, messagesPerSecond: number) =>
  ctx.t.gql(AddBusinessNumberDocument, {
    input: { ...number, messagesPerSecond, displayPhoneNumber: `+502 ${number.phoneNumberId.slice(-4)}` },
  })

describe('business numbers', () => {
  it('adds numbers with their own token, stored encrypted and never returned', async () => {
    ctx.meta.addNumber({ ...SALES, templates: [metaTemplate({ name: 'solo_ventas' })] })
    ctx.meta.addNumber(SUPPORT)
    ctx.meta.addNumber(LATE)
    const res = await add(SALES, 5)
    expect(res.body.errors).toBeUndefined()
    expect(res.body.data!.addBusinessNumber).toMatchObject({
      phoneNumberId: SALES.phoneNumberId,
      businessAccountId: SALES.businessAccountId,
      messagesPerSecond: 5,
      hasOwnAccessToken: true,
    })
    expect((await add(SUPPORT, 5)).body.errors).toBeUndefined()
    expect(JSON.stringify(res.body)).not.toContain(SALES.accessToken)

    const list = await ctx.t.gql(BusinessNumbersDocument)
    expect(list.body.data!.businessNumbers.map((n: { phoneNumberId: string }) => n.phoneNumberId)).toEqual([
      ctx.meta.phoneNumberId, // the default number, from WHATSAPP_*
      SALES.phoneNumberId,
      SUPPORT.phoneNumberId,
    ])
    expect(JSON.stringify(list.body)).not.toContain(SALES.accessToken)

    // At rest: ciphertext only (the raw row, as a dump would show it).
    const rows = await ctx.t.app.database.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT * FROM business_numbers WHERE phone_number_id = '${SALES.phoneNumberId}'`,
    )
    expect(JSON.stringify(rows)).not.toContain(SALES.accessToken)
    expect(rows[0].access_token_ciphertext).toMatch(/^v1:/)
  })

  it('refuses bad input with the field path', async () => {
    const res = await ctx.t.gql(AddBusinessNumberDocument, {
      input: { phoneNumberId: 'abc', businessAccountId: '1', messagesPerSecond: 0 },
    })
    expect(res.body.errors![0].extensions!.code).toBe('VALIDATION_FAILED')
    const paths = res.body.errors![0].extensions!.fields.map((f: { path: string }) => f.path)
    expect(paths).toEqual(expect.arrayContaining(['input.phoneNumberId', 'input.messagesPerSecond']))
  })

  it('sends from the number `from` names, with its token; unknown `from` is 422 on `from`', async () => {
    const before = ctx.meta.accepted.length
    const res = await ctx.t.rest('POST', '/api/whatsapp/send', {
      phoneNumber: '+50270000001',
      content: 'desde ventas',
      from: SALES.phoneNumberId,
    })
    expect(res.status).toBe(200)
    expect(res.body.data.conversation.business_phone_number_id).toBe(SALES.phoneNumberId)
    expect(ctx.meta.accepted.slice(before).map((a) => a.from)).toEqual([SALES.phoneNumberId])
    const sentWith = ctx.meta.requests.filter((r) => r.path.includes(`/${SALES.phoneNumberId}/messages`)).at(-1)
    expect(sentWith?.authorization).toBe(`Bearer ${SALES.accessToken}`)

    const unknown = await ctx.t.rest('POST', '/api/whatsapp/send', {
      phoneNumber: '+50270000001',
      content: 'x',
      from: '999999999',
    })
    expect(unknown.status).toBe(422)
    expect(unknown.body.error.fields).toEqual([{ path: 'from', message: expect.stringContaining('999999999') }])
  })

  it('keeps one conversation per number and customer, and replies from the conversation’s own number', async () => {
    await postWebhook(ctx.t, inboundText({ from: '50270000002', wamid: 'wamid.bn-default', text: 'hola default' }))
    await postWebhook(
      ctx.t,
      forNumber(
        inboundText({ from: '50270000002', wamid: 'wamid.bn-support', text: 'hola soporte' }),
        SUPPORT.phoneNumberId,
      ),
    )
    await applied()
    const all = await ctx.t.rest('GET', '/api/whatsapp/conversations?phoneNumber=50270000002')
    expect(all.body.data.map((c: { business_phone_number_id: string }) => c.business_phone_number_id).sort()).toEqual(
      [ctx.meta.phoneNumberId, SUPPORT.phoneNumberId].sort(),
    )
    const filtered = await ctx.t.rest(
      'GET',
      `/api/whatsapp/conversations?phoneNumber=50270000002&businessPhoneNumberId=${SUPPORT.phoneNumberId}`,
    )
    expect(filtered.body.data).toHaveLength(1)
    const support = filtered.body.data[0]

    const gql = await ctx.t.gql(NumberConversationsDocument, {
      filter: { phoneNumber: '50270000002', businessPhoneNumberId: SUPPORT.phoneNumberId },
    })
    expect(nodes(gql.body.data!.conversations)).toEqual([
      {
        id: support.conversation_id,
        phoneNumber: '50270000002',
        businessNumber: { phoneNumberId: SUPPORT.phoneNumberId, displayPhoneNumber: '+502 0222' },
      },
    ])

    const before = ctx.meta.accepted.length
    const reply = await ctx.t.rest('POST', `/api/whatsapp/conversations/${support.conversation_id}/messages`, {
      content: 'le atiende soporte',
    })
    expect(reply.status).toBe(200)
    expect(ctx.meta.accepted.slice(before).map((a) => a.from)).toEqual([SUPPORT.phoneNumberId])
  })

  it('acknowledges and keeps a webhook for a number not added, and applies it once the number is added', async () => {
    const res = await postWebhook(
      ctx.t,
      forNumber(inboundText({ from: '50270000003', wamid: 'wamid.bn-late', text: 'temprano' }), LATE.phoneNumberId),
    )
    expect(res.status).toBe(200)
    await applied()
    const kept = await ctx.t.app.database.prisma.webhookEvent.findFirst({
      where: { phoneNumberId: LATE.phoneNumberId },
    })
    expect(kept?.status).toBe('unknown_number')
    expect(await ctx.t.app.database.prisma.message.findUnique({ where: { wamid: 'wamid.bn-late' } })).toBeNull()

    expect((await add(LATE, 5)).body.errors).toBeUndefined()
    await applied()
    const message = await ctx.t.app.database.prisma.message.findUnique({
      where: { wamid: 'wamid.bn-late' },
      include: { conversation: true },
    })
    expect(message?.conversation.businessPhoneNumberId).toBe(LATE.phoneNumberId)
  })

  it('checks a template send against the templates of the sending number’s Business Account', async () => {
    const body = (from?: string) => ({
      templateName: 'solo_ventas',
      languageCode: 'es',
      recipients: [{ phoneNumber: '+50270000004' }],
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      ...(from ? { from } : {}),
    })
    const fromDefault = await ctx.t.rest('POST', '/api/whatsapp/send-template', body())
    expect(fromDefault.status).toBe(422)
    expect(fromDefault.body.error.fields[0].path).toBe('templateName')
    const fromSales = await ctx.t.rest('POST', '/api/whatsapp/send-template', body(SALES.phoneNumberId))
    expect(fromSales.status).toBe(200)
    expect(fromSales.body.summary).toMatchObject({ sent: 1, failed: 0 })
    expect(ctx.meta.accepted.at(-1)?.from).toBe(SALES.phoneNumberId)

    const templates = await ctx.t.rest('GET', '/api/whatsapp/templates')
    const accounts = templates.body.data.map((t: { name: string; business_account_id: string }) => [
      t.name,
      t.business_account_id,
    ])
    expect(accounts).toEqual(
      expect.arrayContaining([
        ['aviso_servicio', ctx.meta.businessAccountId],
        ['solo_ventas', SALES.businessAccountId],
      ]),
    )
  })

  it('holds each number’s send rate at once, independently (the fake Meta’s ledger)', async () => {
    const before = ctx.meta.accepted.length
    const started = Date.now()
    const sends = [
      // The default number: 20/s; SUPPORT: 5/s. Both at once.
      ...Array.from({ length: 24 }, (_, i) =>
        ctx.t.rest('POST', '/api/whatsapp/send', {
          phoneNumber: `+5027100${String(i).padStart(4, '0')}`,
          content: 'd',
        }),
      ),
      ...Array.from({ length: 8 }, (_, i) =>
        ctx.t.rest('POST', '/api/whatsapp/send', {
          phoneNumber: `+5027200${String(i).padStart(4, '0')}`,
          content: 's',
          from: SUPPORT.phoneNumberId,
        }),
      ),
    ]
    expect((await Promise.all(sends)).map((r) => r.status)).toEqual(sends.map(() => 200))
    const ledger = ctx.meta.accepted.slice(before)
    // Arrival times at the fake carry the machine's jitter (a late send lands next to the one after
    // it): one over the rate is tolerated; unlimited, each number's queued sends would arrive together.
    const busiest = (from: string) => busiestWindow(ledger.filter((a) => a.from === from).map((a) => a.at))
    expect(busiest(ctx.meta.phoneNumberId)).toBeLessThanOrEqual(20 + 1)
    expect(busiest(SUPPORT.phoneNumberId)).toBeLessThanOrEqual(5 + 1)
    // Independent: the slow number did not hold the fast one back (24 at 20/s ≈ 1.2 s; 8 at 5/s ≈ 1.6 s).
    const defaultDone = Math.max(...ledger.filter((a) => a.from === ctx.meta.phoneNumberId).map((a) => a.at))
    expect(defaultDone - started).toBeLessThan(2_000)
  })
})

describe('a caller limited to some numbers', () => {
  it('sees only its numbers’ conversations; another number’s answers 404 exactly as a missing one', async () => {
    const token = await numberLimitedToken(ctx.t, [SUPPORT.phoneNumberId])
    const mine = await ctx.t.rest('GET', '/api/whatsapp/conversations', undefined, { token })
    expect(mine.status).toBe(200)
    expect(
      new Set(mine.body.data.map((c: { business_phone_number_id: string }) => c.business_phone_number_id)),
    ).toEqual(new Set([SUPPORT.phoneNumberId]))

    const other = await ctx.t.app.database.prisma.conversation.findFirstOrThrow({
      where: { businessPhoneNumberId: ctx.meta.phoneNumberId },
    })
    const missingId = 987654321
    const bodyFor = async (path: (id: number) => string, id: number, method = 'GET', body?: unknown) => {
      const res = await ctx.t.rest(method, path(id), body, { token })
      return { status: res.status, body: JSON.stringify(res.body).replaceAll(String(id), '<id>') }
    }
    for (const [method, path, body] of [
      ['GET', (id: number) => `/api/whatsapp/conversations/${id}/messages`, undefined],
      ['POST', (id: number) => `/api/whatsapp/conversations/${id}/messages`, { content: 'x' }],
      ['POST', (id: number) => `/api/whatsapp/conversations/${id}/read`, {}],
    ] as const) {
      const theirs = await bodyFor(path, other.id, method, body)
      expect(theirs.status).toBe(404)
      expect(theirs).toEqual(await bodyFor(path, missingId, method, body))
    }

    const gqlTheirs = await ctx.t.gql(NumberConversationDocument, { id: other.id }, { token })
    expect(gqlTheirs.body.errors![0].extensions!.code).toBe('NOT_FOUND')
    const listed = await ctx.t.gql(NumberConversationsDocument, {}, { token })
    expect(new Set(nodes(listed.body.data!.conversations).map((c: any) => c.businessNumber.phoneNumberId))).toEqual(
      new Set([SUPPORT.phoneNumberId]),
    )
  })

  it('may not send from another number (403 FORBIDDEN), and sends from its own by default', async () => {
    const token = await numberLimitedToken(ctx.t, [SUPPORT.phoneNumberId])
    const refused = await ctx.t.rest(
      'POST',
      '/api/whatsapp/send',
      { phoneNumber: '+50270000009', content: 'x', from: ctx.meta.phoneNumberId },
      { token },
    )
    expect(refused.status).toBe(403)
    expect(refused.body.error.code).toBe('FORBIDDEN')
    const own = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50270000009', content: 'x' }, { token })
    expect(own.status).toBe(200)
    expect(own.body.data.conversation.business_phone_number_id).toBe(SUPPORT.phoneNumberId)
  })

  it('has a scheduled send without `from` go out at its time from its own number, not the default one', async () => {
    const token = await numberLimitedToken(ctx.t, [SUPPORT.phoneNumberId])
    const sendAt = new Date(Date.now() + 1_000).toISOString()
    const scheduled = await ctx.t.rest(
      'POST',
      '/api/whatsapp/send',
      { phoneNumber: '+50270000010', content: 'mañana', sendAt },
      { token },
    )
    expect(scheduled.status).toBe(202)
    await until('the scheduled send', () => ctx.meta.sendsTo('50270000010').length > 0, 10_000)
    expect(ctx.meta.accepted.filter((a) => a.request.to === '50270000010').map((a) => a.from)).toEqual([
      SUPPORT.phoneNumberId,
    ])
  })

  it('lists only its numbers, and may not add one (even an ADMIN key)', async () => {
    const token = await numberLimitedToken(ctx.t, [SUPPORT.phoneNumberId], 'ADMIN')
    const list = await ctx.t.gql(BusinessNumbersDocument, {}, { token })
    expect(list.body.data!.businessNumbers.map((n: { phoneNumberId: string }) => n.phoneNumberId)).toEqual([
      SUPPORT.phoneNumberId,
    ])
    const refused = await ctx.t.gql(
      AddBusinessNumberDocument,
      { input: { phoneNumberId: '1234', businessAccountId: '5678' } },
      { token },
    )
    expect(refused.body.errors![0].extensions!.code).toBe('FORBIDDEN')
  })
})
