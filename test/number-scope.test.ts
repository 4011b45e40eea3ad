import { parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import { getSchema } from '../src/graphql/schema.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import { numberLimitedToken } from './helpers/test-app.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

// Object-level authorization (issue 20): a caller limited to some business numbers sees and
// touches only theirs. This file ENUMERATES every REST operation (the OpenAPI document) and every
// root GraphQL field (the schema): each must have a decision below, so a new one cannot forget it.

const SUPPORT = {
  phoneNumberId: '200000000000222',
  businessAccountId: '300000000000222',
  accessToken: 'EAAGsupport456',
}
const MISSING = 987654321

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'aviso_servicio' })] },
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' },
})

/** The default number's objects (another number's, to the limited caller), made once. */
interface Theirs {
  conversationId: number
  messageId: number
  wamid: string
  batchId: number
  scheduledId: number
  mediaId: string
}
let theirs: Theirs | undefined
let token = ''

async function setUp(): Promise<Theirs> {
  if (theirs) return theirs
  const t = ctx.t
  ctx.meta.addNumber(SUPPORT)
  await t.gql(
    parse(`mutation($i: AddBusinessNumberInput!) { addBusinessNumber(input: $i) { phoneNumberId } }`) as never,
    {
      i: { ...SUPPORT, messagesPerSecond: 20 },
    },
  )
  // ADMIN: what it is refused below is for its numbers, not its scope.
  token = await numberLimitedToken(ctx.t, [SUPPORT.phoneNumberId], 'ADMIN')
  // Ours (SUPPORT's): a conversation the limited caller must see.
  await t.rest('POST', '/api/whatsapp/send', {
    phoneNumber: '+50273000001',
    content: 'hola',
    from: SUPPORT.phoneNumberId,
  })
  // Theirs (the default number's).
  const sent = await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50273000002', content: 'hola' })
  await t.rest('POST', '/api/whatsapp/send-template', {
    templateName: 'aviso_servicio',
    languageCode: 'es',
    components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
    recipients: [{ phoneNumber: '+50273000003' }],
  })
  const scheduled = await t.rest('POST', '/api/whatsapp/send', {
    phoneNumber: '+50273000004',
    content: 'luego',
    sendAt: new Date(Date.now() + 3_600_000).toISOString(),
  })
  const form = new FormData()
  form.append('file', new Blob([Buffer.from('%PDF-1.4 theirs')], { type: 'application/pdf' }), 'orden.pdf')
  const upload = await fetch(`${t.url}/api/whatsapp/media`, {
    method: 'POST',
    headers: { authorization: `Bearer test-token-0123456789abcdef` },
    body: form,
  }).then((r) => r.json())
  const mediaId = upload.data.media_id as string
  await t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50273000002', type: 'document', mediaId })
  theirs = {
    conversationId: sent.body.data.conversation.conversation_id,
    messageId: sent.body.data.message.message_id,
    wamid: sent.body.data.message.wamid,
    batchId: (await t.app.database.prisma.templateBatch.findFirstOrThrow({ orderBy: { id: 'desc' } })).id,
    scheduledId: scheduled.body.data.scheduled_id,
    mediaId,
  }
  expect(Object.values(theirs).every((v) => v !== undefined)).toBe(true)
  return theirs
}

/** The same answer for another number's id as for a missing one (ids masked), and 404 / NOT_FOUND. */
async function sameAsMissing(
  call: (id: number | string) => Promise<{ status: number; body: unknown }>,
  id: number | string,
  missing: number | string = MISSING,
) {
  // The id named in the error's message is masked (nothing else may differ).
  const mask = (r: { status: number; body: unknown }, v: number | string) => ({
    status: r.status,
    body: JSON.stringify(r.body, (key, value) =>
      key === 'message' && typeof value === 'string' ? value.replaceAll(String(v), '<id>') : value,
    ),
  })
  const a = mask(await call(id), id)
  const b = mask(await call(missing), missing)
  expect(a).toEqual(b)
  expect(a.status === 404 || a.body.includes('NOT_FOUND')).toBe(true)
}

const rest = (method: string, path: string, body?: unknown) => ctx.t.rest(method, path, body, { token })
const gql = (query: string, variables: Record<string, unknown> = {}): Promise<{ status: number; body: any }> =>
  ctx.t.gql(parse(query) as never, variables, { token }).then((r) => ({ status: r.status, body: r.body }))
const codeOf = (r: { body: any }) => r.body?.errors?.[0]?.extensions?.code ?? r.body?.error?.code
const later = () => new Date(Date.now() + 3_600_000).toISOString()

type Check = () => Promise<void>
/** `check`: how it is checked; `none`: why it carries no number data. */
type Decision = { check: Check } | { none: string }

const REST: Record<string, Decision> = {
  uploadMedia: { none: 'a new file belongs to no number until a message of one carries it' },
  downloadMedia: {
    check: async () =>
      sameAsMissing((id) => rest('GET', `/api/whatsapp/media/${id}`), theirs!.mediaId, 'med_missing000000000000'),
  },
  sendMessage: {
    check: async () => {
      const r = await rest('POST', '/api/whatsapp/send', {
        phoneNumber: '+50273000009',
        content: 'x',
        from: ctx.meta.phoneNumberId,
      })
      expect([r.status, r.body.error.code]).toEqual([403, 'FORBIDDEN'])
    },
  },
  sendInConversation: {
    check: () =>
      sameAsMissing(
        (id) => rest('POST', `/api/whatsapp/conversations/${id}/messages`, { content: 'x' }),
        theirs!.conversationId,
      ),
  },
  markConversationRead: {
    check: () =>
      sameAsMissing((id) => rest('POST', `/api/whatsapp/conversations/${id}/read`, {}), theirs!.conversationId),
  },
  listMessages: {
    check: () =>
      sameAsMissing((id) => rest('GET', `/api/whatsapp/conversations/${id}/messages`), theirs!.conversationId),
  },
  sendTemplate: {
    check: async () => {
      const r = await rest('POST', '/api/whatsapp/send-template', {
        templateName: 'aviso_servicio',
        languageCode: 'es',
        recipients: [{ phoneNumber: '+50273000009' }],
        from: ctx.meta.phoneNumberId,
      })
      expect([r.status, r.body.error.code]).toEqual([403, 'FORBIDDEN'])
    },
  },
  listConversations: {
    check: async () => {
      const r = await rest('GET', '/api/whatsapp/conversations')
      expect(r.body.data.length).toBeGreaterThan(0)
      expect(new Set(r.body.data.map((c: any) => c.business_phone_number_id))).toEqual(new Set([SUPPORT.phoneNumberId]))
    },
  },
  listScheduledSends: {
    check: async () => {
      const r = await rest('GET', '/api/whatsapp/scheduled')
      expect(r.body.data.map((s: any) => s.scheduled_id)).not.toContain(theirs!.scheduledId)
    },
  },
  cancelScheduledSend: {
    check: () => sameAsMissing((id) => rest('DELETE', `/api/whatsapp/scheduled/${id}`), theirs!.scheduledId),
  },
  listTemplates: {
    check: async () => {
      const r = await rest('GET', '/api/whatsapp/templates')
      expect(r.body.data.map((t: any) => t.business_account_id)).not.toContain(ctx.meta.businessAccountId)
    },
  },
}

const forbidden = (query: string, variables: () => Record<string, unknown> = () => ({})): Decision => ({
  check: async () => expect(codeOf(await gql(query, variables()))).toBe('FORBIDDEN'),
})
const notFound = (query: string, id: () => number | string): Decision => ({
  check: () => {
    const theirsId = id()
    return sameAsMissing(
      (v) => gql(query, { id: v }),
      theirsId,
      typeof theirsId === 'string' ? 'wamid.missing' : MISSING,
    )
  },
})
const fromDefault = () => ({ from: ctx.meta.phoneNumberId })

const GRAPHQL: Record<string, Decision> = {
  // Queries
  businessNumbers: {
    check: async () => {
      const r = await gql(`{ businessNumbers { phoneNumberId } }`)
      expect(r.body.data.businessNumbers).toEqual([{ phoneNumberId: SUPPORT.phoneNumberId }])
    },
  },
  conversation: notFound(`query($id: Int!) { conversation(id: $id) { id } }`, () => theirs!.conversationId),
  conversations: {
    check: async () => {
      const r = await gql(`{ conversations(first: 100) { edges { node { businessNumber { phoneNumberId } } } } }`)
      const numbers = r.body.data.conversations.edges.map((e: any) => e.node.businessNumber.phoneNumberId)
      expect(new Set(numbers)).toEqual(new Set([SUPPORT.phoneNumberId]))
    },
  },
  message: notFound(`query($id: Int!) { message(id: $id) { id } }`, () => theirs!.messageId),
  messageByWamid: notFound(`query($id: String!) { messageByWamid(wamid: $id) { id } }`, () => theirs!.wamid),
  scheduledSend: notFound(`query($id: Int!) { scheduledSend(id: $id) { id } }`, () => theirs!.scheduledId),
  scheduledSends: {
    check: async () => {
      const r = await gql(`{ scheduledSends(first: 100) { edges { node { id } } } }`)
      expect(r.body.data.scheduledSends.edges.map((e: any) => e.node.id)).not.toContain(theirs!.scheduledId)
    },
  },
  templateBatch: notFound(`query($id: Int!) { templateBatch(id: $id) { id } }`, () => theirs!.batchId),
  templateBatches: {
    check: async () => {
      const r = await gql(`{ templateBatches(first: 100) { edges { node { id } } } }`)
      expect(r.body.data.templateBatches.edges.map((e: any) => e.node.id)).not.toContain(theirs!.batchId)
    },
  },
  templates: {
    check: async () => {
      const r = await gql(`{ templates { name businessAccountId } }`)
      expect(r.body.data.templates.map((t: any) => t.businessAccountId)).not.toContain(ctx.meta.businessAccountId)
    },
  },
  webhookDeliveries: forbidden(`{ webhookDeliveries { totalCount } }`),
  webhookEndpoints: forbidden(`{ webhookEndpoints { id } }`),
  apiKeys: forbidden(`{ apiKeys { name } }`),
  // Mutations
  createApiKey: forbidden(`mutation { createApiKey(input: {name: "other", scope: READ}) { key } }`),
  revokeApiKey: forbidden(`mutation { revokeApiKey(name: "other") }`),
  addBusinessNumber: forbidden(
    `mutation { addBusinessNumber(input: {phoneNumberId: "1", businessAccountId: "2"}) { phoneNumberId } }`,
  ),
  cancelScheduledSend: notFound(
    `mutation($id: Int!) { cancelScheduledSend(id: $id) { id } }`,
    () => theirs!.scheduledId,
  ),
  createWebhookEndpoint: forbidden(
    `mutation { createWebhookEndpoint(input: {url: "https://example.com/h", events: ["message.received"]}) { id } }`,
  ),
  deleteWebhookEndpoint: forbidden(`mutation { deleteWebhookEndpoint(id: 1) }`),
  disableWebhookEndpoint: forbidden(`mutation { disableWebhookEndpoint(id: 1) { id } }`),
  updateWebhookEndpoint: forbidden(`mutation { updateWebhookEndpoint(id: 1, input: {enabled: false}) { id } }`),
  resendWebhookEvent: forbidden(`mutation { resendWebhookEvent(eventId: "evt_x") { id } }`),
  retryWebhookDelivery: forbidden(`mutation { retryWebhookDelivery(id: 1) { id } }`),
  simulateInboundMessage: forbidden(
    `mutation { simulateInboundMessage(input: {phoneNumber: "+50273000009", content: "x"}) { id } }`,
  ),
  markConversationRead: notFound(
    `mutation($id: Int!) { markConversationRead(conversationId: $id) { id } }`,
    () => theirs!.conversationId,
  ),
  sendInConversation: notFound(
    `mutation($id: Int!) { sendInConversation(input: {conversationId: $id, content: "x"}) { id } }`,
    () => theirs!.conversationId,
  ),
  scheduleInConversation: {
    check: () =>
      sameAsMissing(
        (id) =>
          gql(
            `mutation($id: Int!, $at: DateTimeISO!) { scheduleInConversation(input: {conversationId: $id, content: "x"}, sendAt: $at) { id } }`,
            { id, at: later() },
          ),
        theirs!.conversationId,
      ),
  },
  sendText: forbidden(
    `mutation($from: String) { sendText(input: {phoneNumber: "+50273000009", content: "x", from: $from}) { message { id } } }`,
    fromDefault,
  ),
  sendMessage: forbidden(
    `mutation($from: String) { sendMessage(input: {phoneNumber: "+50273000009", content: "x", from: $from}) { message { id } } }`,
    fromDefault,
  ),
  sendTemplate: forbidden(
    `mutation($from: String) { sendTemplate(input: {templateName: "aviso_servicio", languageCode: "es", recipients: [{phoneNumber: "+50273000009"}], from: $from}) { summary { sent } } }`,
    fromDefault,
  ),
  scheduleText: forbidden(
    `mutation($from: String, $at: DateTimeISO!) { scheduleText(input: {phoneNumber: "+50273000009", content: "x", from: $from}, sendAt: $at) { id } }`,
    () => ({ ...fromDefault(), at: later() }),
  ),
  scheduleMessage: forbidden(
    `mutation($from: String, $at: DateTimeISO!) { scheduleMessage(input: {phoneNumber: "+50273000009", content: "x", from: $from}, sendAt: $at) { id } }`,
    () => ({ ...fromDefault(), at: later() }),
  ),
  scheduleTemplate: forbidden(
    `mutation($from: String, $at: DateTimeISO!) { scheduleTemplate(input: {templateName: "aviso_servicio", languageCode: "es", recipients: [{phoneNumber: "+50273000009"}], from: $from}, sendAt: $at) { id } }`,
    () => ({ ...fromDefault(), at: later() }),
  ),
  // Subscriptions: the limited subscriber hears its numbers' messages only.
  messageAdded: { check: () => hearsOnlyOwn('messageAdded') },
  messageStatusChanged: { check: () => hearsOnlyOwn('messageStatusChanged') },
  messageUpdated: { check: () => hearsOnlyOwn('messageUpdated') },
}

async function hearsOnlyOwn(field: string): Promise<void> {
  const sub = ctx.t.subscribe(
    parse(`subscription { ${field} { id conversation { businessNumber { phoneNumberId } } } }`) as never,
    {},
    { token },
  )
  await sub.ready()
  // Theirs first, then ours: the first event heard must be ours.
  if (field === 'messageAdded') {
    await postWebhook(ctx.t, inboundText({ from: '50273000002', wamid: `wamid.scope-theirs-${field}`, text: 'x' }))
    const ours = structuredClone(inboundText({ from: '50273000001', wamid: `wamid.scope-ours-${field}`, text: 'y' }))
    ours.entry[0].changes[0].value.metadata.phone_number_id = SUPPORT.phoneNumberId
    await postWebhook(ctx.t, ours)
  } else {
    // Status and update events: published for a default-number message, then for one of ours.
    const prisma = ctx.t.app.database.prisma
    const mine = await prisma.message.findFirstOrThrow({
      where: { conversation: { businessPhoneNumberId: SUPPORT.phoneNumberId } },
    })
    const type = field as 'messageStatusChanged' | 'messageUpdated'
    ctx.t.app.events.publish({ type, messageId: theirs!.messageId, conversationId: theirs!.conversationId })
    ctx.t.app.events.publish({ type, messageId: mine.id, conversationId: mine.conversationId })
  }
  const first = await sub.next()
  await sub.close()
  expect((first.data as any)[field].conversation.businessNumber.phoneNumberId).toBe(SUPPORT.phoneNumberId)
}

describe('a caller limited to some numbers, on every operation', () => {
  it('has a decision for every REST operation and every root GraphQL field', async () => {
    const doc = (await ctx.t.rest('GET', '/api/whatsapp/openapi.json')).body
    const operations = Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>)
      .flatMap((path) => Object.values(path))
      .map((op) => op.operationId)
      .filter((id): id is string => !!id)
    expect(operations.filter((id) => !(id in REST))).toEqual([])
    expect(Object.keys(REST).filter((id) => !operations.includes(id))).toEqual([])

    const schema = await getSchema()
    const fields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
      Object.keys(type?.getFields() ?? {}),
    )
    expect(fields.filter((f) => !(f in GRAPHQL))).toEqual([])
    expect(Object.keys(GRAPHQL).filter((f) => !fields.includes(f))).toEqual([])
  })

  for (const [name, decision] of Object.entries(REST)) {
    if ('check' in decision) it(`REST ${name}`, async () => (await setUp(), decision.check()))
  }
  for (const [name, decision] of Object.entries(GRAPHQL)) {
    if ('check' in decision) it(`GraphQL ${name}`, async () => (await setUp(), decision.check()))
  }
})
