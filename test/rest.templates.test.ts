import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ConversationDocument, TemplatesDocument } from './graphql/generated.js'
import { META_ERRORS, metaTemplate } from './helpers/fake-meta.js'
import { nodes, TEST_DATABASE } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const appointmentReminder = metaTemplate({
  name: 'appointment_reminder',
  components: [
    {
      type: 'BODY',
      text: 'Hola {{1}}, te recordamos tu cita para el {{2}}.',
      example: { body_text: [['Ana', 'martes']] },
    },
    { type: 'FOOTER', text: 'Ambiotec - Servicios Profesionales' },
  ],
})
const serviceConfirmation = metaTemplate({
  name: 'service_confirmation',
  components: [
    { type: 'HEADER', format: 'TEXT', text: '{{1}}' },
    { type: 'BODY', text: 'Hola {{1}}, tu solicitud {{2}} es el {{3}}.' },
    { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Ver', url: 'https://x.gt/sr/{{1}}' }] },
  ],
})

const ctx = useTestApp({ meta: { templates: [appointmentReminder, serviceConfirmation], maxPageSize: 25 } })

describe('GET /api/whatsapp/templates', () => {
  beforeEach(() => {
    ctx.meta.templates = [appointmentReminder, serviceConfirmation]
  })

  it('fetches every page from Meta, syncs the database and answers the documented shape', async () => {
    const many = Array.from({ length: 60 }, (_, i) => metaTemplate({ name: `bulk_${String(i).padStart(2, '0')}` }))
    ctx.meta.templates = [appointmentReminder, ...many]
    const before = ctx.meta.requests.length

    const res = await ctx.t.rest('GET', '/api/whatsapp/templates')
    expect(res.status).toBe(200)
    expect(res.body.success).toBe(true)
    expect(res.body.data).toHaveLength(61)
    expect(res.body.data[0]).toEqual({
      name: 'appointment_reminder',
      status: 'APPROVED',
      category: 'UTILITY',
      language: 'es',
      parameter_format: 'POSITIONAL',
      components: appointmentReminder.components,
      business_account_id: ctx.meta.businessAccountId,
    })

    const pages = ctx.meta.requests.slice(before)
    expect(pages.length).toBe(3) // 61 templates, 25 per page
    for (const page of pages) {
      expect(page.path).toBe(`/v24.0/${ctx.meta.businessAccountId}/message_templates`)
      expect(page.query.get('fields')).toContain('components')
    }
    expect(pages[0].query.get('after')).toBeNull()
    expect(pages[2].query.get('after')).not.toBeNull()

    const stored = await ctx.t.app.database.prisma.template.count({ where: { removedAt: null } })
    expect(stored).toBe(61)
  })

  it('marks templates Meta no longer returns, instead of keeping them as approved', async () => {
    await ctx.t.rest('GET', '/api/whatsapp/templates')
    ctx.meta.templates = [serviceConfirmation]
    const res = await ctx.t.rest('GET', '/api/whatsapp/templates')
    expect(res.body.data.map((d: { name: string }) => d.name)).toEqual(['service_confirmation'])

    const gone = await ctx.t.app.database.prisma.template.findFirst({
      where: { name: 'appointment_reminder', language: 'es' },
    })
    expect(gone!.removedAt).toBeInstanceOf(Date)
    const { body } = await ctx.t.gql(TemplatesDocument, {})
    expect(body.data!.templates.map((x) => x.name)).toEqual(['service_confirmation'])

    // It comes back when Meta lists it again.
    ctx.meta.templates = [appointmentReminder, serviceConfirmation]
    await ctx.t.rest('GET', '/api/whatsapp/templates')
    const back = await ctx.t.app.database.prisma.template.findFirst({
      where: { name: 'appointment_reminder', language: 'es' },
    })
    expect(back!.removedAt).toBeNull()
  })

  it('updates a template whose status changed at Meta, and filters by status', async () => {
    ctx.meta.templates = [appointmentReminder, { ...serviceConfirmation, status: 'PAUSED' }]
    const all = await ctx.t.rest('GET', '/api/whatsapp/templates')
    expect(all.body.data.find((d: { name: string }) => d.name === 'service_confirmation').status).toBe('PAUSED')
    const approved = await ctx.t.rest('GET', '/api/whatsapp/templates?status=approved')
    expect(approved.body.data.map((d: { name: string }) => d.name)).toEqual(['appointment_reminder'])
    const bad = await ctx.t.rest('GET', '/api/whatsapp/templates?status=a&status=b')
    expect(bad.status).toBe(422)
    expect(bad.body.error.fields[0].path).toBe('status')
  })

  it('answers 502 with Meta’s error when Meta refuses, and keeps the synced templates', async () => {
    await ctx.t.rest('GET', '/api/whatsapp/templates')
    ctx.meta.failNext(META_ERRORS.tokenExpired())
    const res = await ctx.t.rest('GET', '/api/whatsapp/templates')
    expect(res.status).toBe(502)
    expect(res.body.error.meta.code).toBe(190)
    expect(await ctx.t.app.database.prisma.template.count({ where: { removedAt: null } })).toBe(2)
  })

  it('requires the bearer token', async () => {
    expect((await ctx.t.rest('GET', '/api/whatsapp/templates', undefined, { token: null })).status).toBe(401)
  })
})

describe('POST /api/whatsapp/send-template', () => {
  const documented = {
    templateName: 'service_confirmation',
    languageCode: 'es',
    components: [
      { type: 'header', parameters: [{ type: 'text', text: 'Confirmación de Servicio' }] },
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Juan Pérez' },
          { type: 'text', text: 'SR-2024-001' },
          { type: 'text', text: '15 de marzo, 10:00 AM' },
        ],
      },
      { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'tracking-code-123' }] },
    ],
    recipients: [
      { phoneNumber: '+50212345678', requestId: 123 },
      { phoneNumber: '+50298765432', requestId: 124 },
    ],
  }

  beforeAll(async () => {
    await ctx.t.rest('GET', '/api/whatsapp/templates') // sync, so stored messages get the rendered text
  })

  it('sends to every recipient, one failing not failing the others, and answers the documented shape', async () => {
    ctx.meta.failFor('50298765432', META_ERRORS.undeliverable)
    const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', documented)
    expect(res.status).toBe(200)
    const ok = ctx.meta.sendsTo('50212345678').at(-1)!
    expect(res.body).toEqual({
      success: true,
      summary: { total: 2, sent: 1, failed: 1 },
      results: [
        {
          phoneNumber: '+50212345678',
          success: true,
          data: { messages: [{ id: ok.wamid }], message_id: expect.any(Number), conversation_id: expect.any(Number) },
        },
        {
          phoneNumber: '+50298765432',
          success: false,
          error: {
            code: 'META_API_ERROR',
            message: '(#131026) Message Undeliverable',
            meta: expect.objectContaining({ code: 131026, fbtrace_id: expect.any(String) }),
          },
        },
      ],
    })
    expect(ok.request).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '50212345678',
      type: 'template',
      template: { name: 'service_confirmation', language: { code: 'es' }, components: documented.components },
      biz_opaque_callback_data: `wa-gateway:message:${res.body.results[0].data.message_id}`,
    })
    expect(ctx.meta.malformed).toEqual([])
  })

  it("stores each send as an outbound template message in that recipient's conversation", async () => {
    ctx.meta.failFor('50298765432', META_ERRORS.undeliverable)
    const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', documented)
    const conversationId = res.body.results[0].data.conversation_id
    const { body } = await ctx.t.gql(ConversationDocument, { id: conversationId })
    const conversation = body.data!.conversation
    expect(conversation).toMatchObject({ phoneNumber: '50212345678', requestId: 123 })
    expect(nodes(conversation.messages)[0]).toMatchObject({
      direction: 'OUTBOUND',
      type: 'template',
      status: 'SENT',
      requestId: 123,
      wamid: res.body.results[0].data.messages[0].id,
      content: 'Confirmación de Servicio\nHola Juan Pérez, tu solicitud SR-2024-001 es el 15 de marzo, 10:00 AM.',
      template: { name: 'service_confirmation', language: 'es' },
    })

    const failed = await ctx.t.app.database.prisma.message.findFirst({
      where: { conversation: { phoneNumber: '50298765432' } },
      orderBy: { id: 'desc' },
    })
    expect(failed).toMatchObject({ type: 'template', status: 'failed', errorCode: 131026, requestId: 124 })
  })

  it('links request ids per recipient, a number listed twice included, and keeps request order', async () => {
    const prisma = ctx.t.app.database.prisma
    await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50261110003', content: 'antes', requestId: 3 })
    const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', {
      ...documented,
      recipients: [
        { phoneNumber: '+50261110001', requestId: 5 },
        { phoneNumber: '+50261110002' },
        { phoneNumber: '+502 6111-0001', requestId: 7 },
        { phoneNumber: '+50261110003' },
      ],
    })
    expect(res.status).toBe(200)
    const batchId = Number(res.headers.get('x-template-batch-id'))
    const messages = await prisma.message.findMany({
      where: { batchId },
      orderBy: { id: 'asc' },
      include: { conversation: true },
    })
    expect(messages.map((m) => [m.recipient, m.conversation.phoneNumber, m.requestId])).toEqual([
      ['+50261110001', '50261110001', 5],
      ['+50261110002', '50261110002', null],
      ['+502 6111-0001', '50261110001', 7],
      ['+50261110003', '50261110003', 3], // no request id given: the conversation's
    ])
    const conversations = await prisma.conversation.findMany({
      where: { phoneNumber: { in: ['50261110001', '50261110002', '50261110003'] } },
      orderBy: { phoneNumber: 'asc' },
    })
    expect(conversations.map((c) => [c.requestId, c.lastMessageId])).toEqual([
      [7, messages[2].id], // the last request id given for the number, and its newest message
      [null, messages[1].id],
      [3, messages[3].id],
    ])
  })

  it('hands back, for each stored recipient, the message as stored (without reading it back)', async () => {
    const { BatchRepository } = await import('../src/batches/batch.repository.js')
    const repository = new BatchRepository(ctx.t.app.database.prisma)
    await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50261120002', content: 'antes', requestId: 9 })
    const template = { name: 'sr_update', language: 'es', components: [{ type: 'body', parameters: [] }] }
    const { batch, messages } = await repository.create(
      {
        from: ctx.meta.phoneNumberId,
        templateName: 'sr_update',
        language: 'es',
        template,
        content: 'Hola',
        owner: 'test',
      },
      [
        { to: '50261120001', phoneNumber: '+50261120001', requestId: 4 },
        { to: '50261120002', phoneNumber: '+502 6112-0002', requestId: null },
      ],
    )
    const stored = await repository.messages(batch.id)
    expect(messages).toEqual(stored)
    expect(messages.map((m) => [m.to, m.recipient, m.requestId, m.status])).toEqual([
      ['50261120001', '+50261120001', 4, 'pending'],
      ['50261120002', '+502 6112-0002', 9, 'pending'],
    ])
  })

  it('stores a large fan-out in two statements: its first recipients with the batch, the rest once, in order', async () => {
    const { BatchRepository } = await import('../src/batches/batch.repository.js')
    const prisma = ctx.t.app.database.prisma
    const repository = new BatchRepository(prisma)
    const template = { name: 'sr_update', language: 'es', components: [{ type: 'body', parameters: [] }] }
    const { batch, messages: first } = await repository.create(
      {
        from: ctx.meta.phoneNumberId,
        templateName: 'sr_update',
        language: 'es',
        template,
        content: 'Hola',
        owner: 'test',
      },
      [
        { to: '50261130001', phoneNumber: '+50261130001', requestId: 4 },
        { to: '50261130002', phoneNumber: '+50261130002', requestId: null },
        { to: '50261130001', phoneNumber: '+502 6113-0001', requestId: 7 }, // again, after the split
        { to: '50261130003', phoneNumber: '+50261130003', requestId: null },
      ],
      2,
    )
    expect(first.map((m) => m.recipient)).toEqual(['+50261130001', '+50261130002'])
    expect(batch.total).toBe(4)
    // Two callers (the owner, and an instance resuming it): the rest is stored once.
    const [a, b] = await Promise.all([repository.storeRest(batch), repository.storeRest(batch)])
    const rest = a.length ? a : b
    expect([a.length, b.length].sort()).toEqual([0, 2])
    const stored = await repository.messages(batch.id)
    expect([...first, ...rest]).toEqual(stored)
    expect(stored.map((m) => [m.recipient, m.requestId, m.content, m.template])).toEqual([
      ['+50261130001', 4, 'Hola', template],
      ['+50261130002', null, 'Hola', template],
      ['+502 6113-0001', 7, 'Hola', template],
      ['+50261130003', null, 'Hola', template],
    ])
    const row = await prisma.templateBatch.findUniqueOrThrow({ where: { id: batch.id } })
    expect(row.unstored).toBeNull()
    const again = await prisma.conversation.findFirstOrThrow({ where: { phoneNumber: '50261130001' } })
    expect([again.requestId, again.lastMessageId]).toEqual([7, stored[2].id])
  })

  it.runIf(TEST_DATABASE.kind === 'postgres')(
    'stores concurrent fan-outs to the same numbers in opposite orders, alongside texts to them',
    async () => {
      const numbers = Array.from({ length: 60 }, (_, i) => `+50262${String(i).padStart(6, '0')}`)
      const fanOut = (list: string[]) =>
        ctx.t.rest('POST', '/api/whatsapp/send-template', {
          ...documented,
          recipients: list.map((phoneNumber, i) => ({ phoneNumber, requestId: i + 1 })),
        })
      const results = await Promise.all([
        fanOut(numbers),
        fanOut([...numbers].reverse()),
        ...numbers
          .slice(0, 20)
          .map((phoneNumber) => ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber, content: 'x' })),
      ])
      expect(results.map((r) => r.status)).toEqual(Array(22).fill(200))
      expect(results[0].body.summary).toEqual({ total: 60, sent: 60, failed: 0 })
      expect(results[1].body.summary).toEqual({ total: 60, sent: 60, failed: 0 })
    },
  )

  it('still reports Meta’s own refusal per recipient (a template deleted at Meta since the sync: 132001)', async () => {
    ctx.meta.templates = [appointmentReminder] // service_confirmation is gone at Meta; our copy is still synced
    try {
      const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', documented)
      expect(res.status).toBe(200)
      expect(res.body.summary).toEqual({ total: 2, sent: 0, failed: 2 })
      expect(res.body.results[0].error.meta.code).toBe(132001)
    } finally {
      ctx.meta.templates = [appointmentReminder, serviceConfirmation]
    }
  })

  it.each([
    [{ ...documented, recipients: [] }, 'recipients', /at least one/],
    [
      { ...documented, recipients: [{ phoneNumber: '+50212345678' }, { phoneNumber: '5555' }] },
      'recipients[1].phoneNumber',
      /international/,
    ],
    [{ ...documented, templateName: 'Bad Name' }, 'templateName', /template name/],
    [{ ...documented, languageCode: 'spanish' }, 'languageCode', /language code/],
    [{ ...documented, components: [{ type: 'footer', parameters: [] }] }, 'components[0].type', /header, body, button/],
    [{ ...documented, components: [{ type: 'button', index: '0', parameters: [] }] }, 'components[0].sub_type', /url/],
    [
      { ...documented, components: [{ type: 'body', parameters: [{ type: 'text' }] }] },
      'components[0].parameters[0].text',
      /required/,
    ],
    [
      { ...documented, recipients: Array.from({ length: 1001 }, () => ({ phoneNumber: '+50212345678' })) },
      'recipients',
      /1000/,
    ],
  ])('refuses an invalid request with 422 at the exact field, sending nothing (%#)', async (body, path, message) => {
    const before = ctx.meta.requests.length
    const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', body)
    expect(res.status).toBe(422)
    expect(res.body.error.code).toBe('VALIDATION_FAILED')
    expect(res.body.error.fields).toContainEqual({ path, message: expect.stringMatching(message) })
    expect(ctx.meta.requests.length).toBe(before)
  })
})
