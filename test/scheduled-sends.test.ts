/**
 * Scheduled sends on one instance: `sendAt` on the three REST sends and the schedule* mutations,
 * sent at their time through the same path as an immediate send, listed, cancelled, and refused
 * with 422 naming `sendAt` when the time is not one we can keep.
 */
import { describe, expect, it } from 'vitest'
import {
  CancelScheduledSendDocument,
  ScheduledSendDocument,
  ScheduledSendsDocument,
  ScheduleInConversationDocument,
  ScheduleTextDocument,
  SendMessageLaterDocument,
  SendTemplateLaterDocument,
  SendTextLaterDocument,
} from './graphql/generated.js'
import { until } from './helpers/child-app.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ meta: { templates: [metaTemplate({ name: 'recordatorio' })] } })

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()
const rest = (method: string, path: string, body?: unknown, headers?: { idempotencyKey?: string }) =>
  headers?.idempotencyKey
    ? fetch(`${ctx.t.url}/api/whatsapp${path}`, {
        method,
        headers: {
          authorization: `Bearer test-token-0123456789abcdef`,
          'content-type': 'application/json',
          'idempotency-key': headers.idempotencyKey,
        },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: await r.json() }))
    : ctx.t.rest(method, `/api/whatsapp${path}`, body)

const scheduledRow = async (id: number) => {
  const res = await ctx.t.gql(ScheduledSendDocument, { id })
  return res.body.data!.scheduledSend
}
const settled = (id: number) =>
  until(
    `scheduled send ${id} to settle`,
    async () => ['sent', 'failed'].includes((await scheduledRow(id)).status.toLowerCase()),
    15_000,
  )

describe('REST sendAt', () => {
  it('answers 202 with the scheduled id, and sends it at its time (within a second) as an immediate send', async () => {
    const sendAt = inMs(1_500)
    const res = await rest('POST', '/send', { phoneNumber: '+502 5555-0001', content: 'Mañana a las 9', sendAt })
    expect(res.status).toBe(202)
    expect(res.body).toEqual({
      success: true,
      data: { scheduled_id: expect.any(Number), send_at: sendAt, status: 'scheduled' },
    })
    const id = res.body.data.scheduled_id
    // Not before its time.
    expect(ctx.meta.sendsTo('50255550001')).toHaveLength(0)
    const pending = await rest('GET', '/scheduled')
    expect(pending.body.data.map((s: { scheduled_id: number }) => s.scheduled_id)).toContain(id)

    await until('the send at its time', () => ctx.meta.sendsTo('50255550001').length > 0, 10_000)
    const [sent] = ctx.meta.sendsTo('50255550001')
    const due = new Date(sendAt).getTime()
    expect(sent.at).toBeGreaterThanOrEqual(due - 5)
    expect(sent.at - due).toBeLessThan(1_000)
    expect(sent.request).toMatchObject({ type: 'text', text: { body: 'Mañana a las 9' } })

    await settled(id)
    const list = await rest('GET', '/scheduled?status=sent')
    const row = list.body.data.find((s: { scheduled_id: number }) => s.scheduled_id === id)
    expect(row).toMatchObject({ status: 'sent', late: false, phone_number: '50255550001', error: null })
    // Its outcome is the stored message, as an immediate send's.
    const stored = await ctx.t.app.database.prisma.message.findUnique({ where: { id: row.message_id } })
    expect(stored).toMatchObject({ status: 'sent', wamid: sent.wamid, content: 'Mañana a las 9' })
    // No longer pending.
    const after = await rest('GET', '/scheduled')
    expect(after.body.data.map((s: { scheduled_id: number }) => s.scheduled_id)).not.toContain(id)
  })

  it('sends in a conversation and a template to its recipients at their time', async () => {
    const first = await rest('POST', '/send', { phoneNumber: '+50255550002', content: 'Hola' })
    const conversationId = first.body.data.conversation.conversation_id
    const inConversation = await rest('POST', `/conversations/${conversationId}/messages`, {
      content: 'Su técnico llega mañana',
      sendAt: inMs(1_200),
    })
    expect(inConversation.status).toBe(202)
    const template = await rest('POST', '/send-template', {
      templateName: 'recordatorio',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      recipients: [{ phoneNumber: '+50255550003' }, { phoneNumber: '+50255550004' }],
      sendAt: inMs(1_200),
    })
    expect(template.status).toBe(202)
    expect(template.body.data.status).toBe('scheduled')

    await settled(inConversation.body.data.scheduled_id)
    await settled(template.body.data.scheduled_id)
    expect(ctx.meta.sendsTo('50255550002').map((s) => s.request)).toMatchObject([
      { text: { body: 'Hola' } },
      { text: { body: 'Su técnico llega mañana' } },
    ])
    expect(ctx.meta.sendsTo('50255550003')).toHaveLength(1)
    expect(ctx.meta.sendsTo('50255550004')).toHaveLength(1)
    expect(ctx.meta.sendsTo('50255550003')[0].request).toMatchObject({
      type: 'template',
      template: { name: 'recordatorio' },
    })

    const row = await scheduledRow(template.body.data.scheduled_id)
    expect(row).toMatchObject({ status: 'SENT', kind: 'SEND_TEMPLATE', templateName: 'recordatorio', late: false })
    const batch = await ctx.t.app.database.prisma.templateBatch.findUnique({ where: { id: row.batchId! } })
    expect(batch).toMatchObject({ status: 'completed', total: 2 })
    // GraphQL shows what it made, as it is now.
    expect(row.batch).toMatchObject({ id: row.batchId, status: 'COMPLETED', total: 2 })
    expect(row.message).toBeNull()
    const inConv = await scheduledRow(inConversation.body.data.scheduled_id)
    expect(inConv.message).toMatchObject({ id: inConv.messageId, status: 'SENT', content: 'Su técnico llega mañana' })
    expect(inConv.batch).toBeNull()
    expect(inConv).toMatchObject({ status: 'SENT', conversationId, messageId: expect.any(Number) })
  })

  it('never sends a cancelled one; cancelling answers 404 for an unknown id and 409 once it started', async () => {
    const res = await rest('POST', '/send', { phoneNumber: '+50255550005', content: 'Cancelado', sendAt: inMs(1_000) })
    const id = res.body.data.scheduled_id
    const cancelled = await rest('DELETE', `/scheduled/${id}`)
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.data).toMatchObject({ scheduled_id: id, status: 'cancelled' })
    // Cancelling again answers it as it is.
    expect((await rest('DELETE', `/scheduled/${id}`)).body.data.status).toBe('cancelled')

    const sent = await rest('POST', '/send', { phoneNumber: '+50255550006', content: 'Enviado', sendAt: inMs(1_000) })
    await settled(sent.body.data.scheduled_id)
    expect(ctx.meta.sendsTo('50255550006')).toHaveLength(1)
    // By now the cancelled one's time passed long ago.
    expect(ctx.meta.sendsTo('50255550005')).toHaveLength(0)
    expect((await scheduledRow(id)).status).toBe('CANCELLED')

    const started = await rest('DELETE', `/scheduled/${sent.body.data.scheduled_id}`)
    expect(started.status).toBe(409)
    expect(started.body.error).toMatchObject({ code: 'SCHEDULED_SEND_STARTED', status: 'sent' })
    const unknown = await rest('DELETE', '/scheduled/999999')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('NOT_FOUND')
    expect((await rest('DELETE', '/scheduled/abc')).status).toBe(422)
  })

  it.each([
    ['in the past', () => inMs(-60_000), 'must be in the future'],
    ['more than 30 days ahead', () => inMs(31 * 24 * 3600_000), 'at most 30 days'],
    ['without an offset', () => inMs(60_000).replace('Z', ''), 'offset'],
    ['not a date', () => 'mañana', 'ISO 8601'],
    ['an impossible date', () => '2026-02-30T10:00:00Z', 'ISO 8601'],
    ['a number', () => Date.now() + 60_000, 'must be a string'],
  ])('refuses a sendAt %s with 422 naming sendAt, on every send path', async (_, value, message) => {
    const bodies: [string, Record<string, unknown>][] = [
      ['/send', { phoneNumber: '+50255550007', content: 'x' }],
      ['/conversations/1/messages', { content: 'x' }],
      [
        '/send-template',
        {
          templateName: 'recordatorio',
          languageCode: 'es',
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
          recipients: [{ phoneNumber: '+50255550007' }],
        },
      ],
    ]
    for (const [path, body] of bodies) {
      const res = await rest('POST', path, { ...body, sendAt: value() })
      expect(res.status, path).toBe(422)
      expect(res.body.error.code).toBe('VALIDATION_FAILED')
      expect(res.body.error.fields).toEqual([{ path: 'sendAt', message: expect.stringContaining(message) }])
    }
    expect(ctx.meta.sendsTo('50255550007')).toHaveLength(0)
  })

  it('checks the request itself when it is scheduled: every invalid field at once, unknown conversations and templates', async () => {
    const bad = await rest('POST', '/send', { phoneNumber: 'abc', sendAt: inMs(-1_000) })
    expect(bad.status).toBe(422)
    expect(bad.body.error.fields.map((f: { path: string }) => f.path).sort()).toEqual([
      'content',
      'phoneNumber',
      'sendAt',
    ])

    const noConversation = await rest('POST', '/conversations/999999/messages', { content: 'x', sendAt: inMs(60_000) })
    expect(noConversation.status).toBe(404)
    // A username-only customer has no number to send to, now or later.
    const usernameOnly = await ctx.t.app.database.prisma.conversation.create({ data: { waUserId: 'GT.1234' } })
    const noNumber = await rest('POST', `/conversations/${usernameOnly.id}/messages`, {
      content: 'x',
      sendAt: inMs(60_000),
    })
    expect(noNumber.status).toBe(422)
    expect(noNumber.body.error.fields).toEqual([
      { path: 'conversationId', message: expect.stringContaining('no phone number') },
    ])

    const noTemplate = await rest('POST', '/send-template', {
      templateName: 'no_existe',
      languageCode: 'es',
      recipients: [{ phoneNumber: '+50255550008' }],
      sendAt: inMs(60_000),
    })
    expect(noTemplate.status).toBe(422)
    expect(noTemplate.body.error.fields).toEqual([{ path: 'templateName', message: expect.any(String) }])

    const wrongParameters = await rest('POST', '/send-template', {
      templateName: 'recordatorio',
      languageCode: 'es',
      components: [],
      recipients: [{ phoneNumber: '+50255550008' }],
      sendAt: inMs(60_000),
    })
    expect(wrongParameters.status).toBe(422)
    expect(wrongParameters.body.error.fields[0].path).toMatch(/^components/)
  })

  it('with an Idempotency-Key, the same request answers the same scheduled send', async () => {
    const body = { phoneNumber: '+50255550009', content: 'Una vez', sendAt: inMs(60_000) }
    const first = await rest('POST', '/send', body, { idempotencyKey: 'sched-key-1' })
    const again = await rest('POST', '/send', body, { idempotencyKey: 'sched-key-1' })
    expect(first.status).toBe(202)
    expect(again.body).toEqual(first.body)
    const other = await rest('POST', '/send', { ...body, content: 'Otra' }, { idempotencyKey: 'sched-key-1' })
    expect(other.status).toBe(422)
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    await rest('DELETE', `/scheduled/${first.body.data.scheduled_id}`)

    // A retry after its time (and after it went out) still answers the first answer, and sends nothing more.
    const soon = { phoneNumber: '+50255550011', content: 'Pronto', sendAt: inMs(800) }
    const scheduled = await rest('POST', '/send', soon, { idempotencyKey: 'sched-key-2' })
    expect(scheduled.status).toBe(202)
    await settled(scheduled.body.data.scheduled_id)
    const retried = await rest('POST', '/send', soon, { idempotencyKey: 'sched-key-2' })
    expect(retried).toEqual(scheduled)
    // Without a key, the same time is now in the past.
    expect((await rest('POST', '/send', soon)).status).toBe(422)
    expect(ctx.meta.sendsTo('50255550011')).toHaveLength(1)
  })

  it('pages the pending list soonest first, with the REST lists’ page_info and total_count', async () => {
    const ids: number[] = []
    for (const minutes of [30, 10, 20]) {
      const res = await rest('POST', '/send', {
        phoneNumber: '+50255550010',
        content: `${minutes}`,
        sendAt: inMs(minutes * 60_000),
      })
      ids.push(res.body.data.scheduled_id)
    }
    const page1 = await rest('GET', '/scheduled?first=2')
    expect(page1.body.data.map((s: { scheduled_id: number }) => s.scheduled_id)).toEqual([ids[1], ids[2]])
    expect(page1.body.page_info).toEqual({ has_next_page: true, end_cursor: expect.any(String) })
    expect(page1.body.total_count).toBe(3)
    expect(page1.body.data[0]).toMatchObject({
      status: 'scheduled',
      kind: 'sendText',
      phone_number: '50255550010',
      sent_at: null,
      late: false,
      message_id: null,
    })
    const page2 = await rest('GET', `/scheduled?first=2&after=${page1.body.page_info.end_cursor}`)
    expect(page2.body.data.map((s: { scheduled_id: number }) => s.scheduled_id)).toEqual([ids[0]])
    expect(page2.body.page_info.has_next_page).toBe(false)
    expect((await rest('GET', '/scheduled?status=nope')).status).toBe(422)
    expect((await rest('GET', '/scheduled?after=zzz')).status).toBe(422)
    for (const id of ids) await rest('DELETE', `/scheduled/${id}`)
    expect((await rest('GET', '/scheduled')).body.total_count).toBe(0)
  })
})

describe('GraphQL', () => {
  it('schedules with sendAt on the send mutations, lists with scheduledSends and cancels with cancelScheduledSend', async () => {
    const text = await ctx.t.gql(SendTextLaterDocument, {
      input: { phoneNumber: '+50255550020', content: 'Por GraphQL' },
      sendAt: inMs(1_200),
    })
    expect(text.body.errors).toBeUndefined()
    expect(text.body.data!.sendText).toMatchObject({
      message: null,
      conversation: null,
      scheduled: { status: 'SCHEDULED', kind: 'SEND_TEXT', phoneNumber: '50255550020', messageId: null },
    })
    const textId = text.body.data!.sendText.scheduled!.id
    const message = await ctx.t.gql(SendMessageLaterDocument, {
      input: { phoneNumber: '+50255550021', type: 'LOCATION', location: { latitude: 14.6, longitude: -90.5 } },
      sendAt: inMs(60_000),
    })
    expect(message.body.data!.sendMessage).toMatchObject({ message: null, scheduled: { status: 'SCHEDULED' } })
    const messageId = message.body.data!.sendMessage.scheduled!.id
    const template = await ctx.t.gql(SendTemplateLaterDocument, {
      input: {
        templateName: 'recordatorio',
        languageCode: 'es',
        components: [{ type: 'BODY', parameters: [{ type: 'TEXT', text: 'Ana' }] }],
        recipients: [{ phoneNumber: '+50255550022' }],
      },
      sendAt: inMs(60_000),
    })
    expect(template.body.data!.sendTemplate).toMatchObject({
      batch: null,
      summary: null,
      results: [],
      scheduled: { templateName: 'recordatorio', phoneNumber: '50255550022' },
    })
    const templateId = template.body.data!.sendTemplate.scheduled!.id
    // The deprecated twin answers the same kind of scheduled send.
    const twin = await ctx.t.gql(ScheduleTextDocument, {
      input: { phoneNumber: '+50255550025', content: 'Gemelo' },
      sendAt: inMs(60_000),
    })
    expect(twin.body.data!.scheduleText).toMatchObject({ status: 'SCHEDULED', kind: 'SEND_TEXT' })

    const list = await ctx.t.gql(ScheduledSendsDocument, { first: 10 })
    const ids = list.body.data!.scheduledSends.edges.map((e) => e.node.id)
    expect(ids).toEqual([textId, messageId, templateId, twin.body.data!.scheduleText.id])
    expect(list.body.data!.scheduledSends.totalCount).toBe(4)
    expect(ctx.meta.sendsTo('50255550020')).toHaveLength(0)

    const cancelled = await ctx.t.gql(CancelScheduledSendDocument, { id: messageId })
    expect(cancelled.body.data!.cancelScheduledSend.status).toBe('CANCELLED')
    await ctx.t.gql(CancelScheduledSendDocument, { id: templateId })
    await ctx.t.gql(CancelScheduledSendDocument, { id: twin.body.data!.scheduleText.id })

    await settled(textId)
    expect(ctx.meta.sendsTo('50255550020').map((s) => s.request)).toMatchObject([{ text: { body: 'Por GraphQL' } }])
    const sent = await ctx.t.gql(ScheduledSendsDocument, { status: ['SENT'] })
    expect(sent.body.data!.scheduledSends.edges.map((e) => e.node.id)).toContain(textId)

    const started = await ctx.t.gql(CancelScheduledSendDocument, { id: textId })
    expect(started.body.errors![0].extensions).toMatchObject({ code: 'SCHEDULED_SEND_STARTED' })
    const unknown = await ctx.t.gql(CancelScheduledSendDocument, { id: 999_999 })
    expect(unknown.body.errors![0].extensions!.code).toBe('NOT_FOUND')
    expect(ctx.meta.sendsTo('50255550021')).toHaveLength(0)
  })

  it('sends at once without sendAt: the same mutations answer scheduled null', async () => {
    const now = await ctx.t.gql(SendTextLaterDocument, { input: { phoneNumber: '+50255550026', content: 'Ya' } })
    expect(now.body.errors).toBeUndefined()
    expect(now.body.data!.sendText).toMatchObject({ message: { id: expect.any(Number) }, scheduled: null })
    expect(ctx.meta.sendsTo('50255550026')).toHaveLength(1)
  })

  it('schedules in a conversation', async () => {
    const first = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50255550023', content: 'Hola' })
    const conversationId = first.body.data.conversation.conversation_id
    const res = await ctx.t.gql(ScheduleInConversationDocument, {
      input: { conversationId, content: 'Luego' },
      sendAt: inMs(1_000),
    })
    expect(res.body.data!.scheduleInConversation).toMatchObject({ conversationId, kind: 'SEND_IN_CONVERSATION' })
    await settled(res.body.data!.scheduleInConversation.id)
    expect(ctx.meta.sendsTo('50255550023').map((s) => s.request)).toMatchObject([
      { text: { body: 'Hola' } },
      { text: { body: 'Luego' } },
    ])
  })

  it('refuses a bad sendAt with VALIDATION_FAILED naming sendAt', async () => {
    for (const sendAt of [inMs(-5_000), inMs(40 * 24 * 3600_000), '2026-12-04T10:00:00', 'pronto']) {
      const res = await ctx.t.gql(SendTextLaterDocument, {
        input: { phoneNumber: '+50255550024', content: 'x' },
        sendAt,
      })
      expect(res.body.data, sendAt).toBeNull()
      expect(res.body.errors![0].extensions).toMatchObject({
        code: 'VALIDATION_FAILED',
        fields: [{ path: 'sendAt', message: expect.any(String) }],
      })
    }
  })
})
