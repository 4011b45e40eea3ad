import { describe, expect, it } from 'vitest'
import { tokenPrincipal } from '../src/auth/auth.js'
import { ConversationDocument } from './graphql/generated.js'
import { FakeMetaServer, META_ERRORS } from './helpers/fake-meta.js'
import { chronological, type TestApp, API_TOKEN } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { MessageRepository } from '../src/messages/message.repository.js'

const ctx = useTestApp()

const send = (body: unknown, options?: Parameters<TestApp['rest']>[3]) =>
  ctx.t.rest('POST', '/api/whatsapp/send', body, options)

describe('POST /api/whatsapp/send', () => {
  it('sends a text through Meta, stores it and answers the documented shape', async () => {
    const res = await send({
      phoneNumber: '+50212345678',
      content: 'Hello! Your service request has been received.',
      requestId: 123,
    })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      success: true,
      data: {
        message: {
          message_id: expect.any(Number),
          conversation_id: expect.any(Number),
          content: 'Hello! Your service request has been received.',
          message_type: 'text',
          direction: 'outbound',
          status: 'sent',
          wamid: expect.stringMatching(/^wamid\./),
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
          // Added for the other kinds of message; a text has none of them.
          media: null,
          location: null,
          interactive: null,
          contacts: null,
          reply_to_message_id: null,
          sent_by: tokenPrincipal(API_TOKEN).name,
          reactions: [],
        },
        conversation: {
          conversation_id: expect.any(Number),
          phone_number: '50212345678',
          request_id: 123,
          contact_name: null,
          service_window_expires_at: null,
          wa_id: '50212345678',
          business_phone_number_id: ctx.meta.phoneNumberId,
        },
      },
    })
    expect(res.body.data.message.conversation_id).toBe(res.body.data.conversation.conversation_id)

    const last = ctx.meta.requests.at(-1)!
    expect(last.method).toBe('POST')
    expect(last.path).toBe(`/v24.0/${ctx.meta.phoneNumberId}/messages`)
    expect(last.authorization).toBe(`Bearer ${ctx.meta.accessToken}`)
    expect(last.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '50212345678',
      type: 'text',
      text: { preview_url: false, body: 'Hello! Your service request has been received.' },
      // Our message id, echoed in its status webhooks: it settles the message if Meta's answer is lost.
      biz_opaque_callback_data: `wa-gateway:message:${res.body.data.message.message_id}`,
    })
    expect(ctx.meta.accepted.at(-1)!.wamid).toBe(res.body.data.message.wamid)
  })

  it('reuses the conversation of a number, however it is typed, and links the newest request id', async () => {
    const first = await send({ phoneNumber: '+502 5555-0101', content: 'uno', requestId: 7 })
    const second = await send({ phoneNumber: '+50255550101', content: 'dos' })
    const third = await send({ phoneNumber: '00502 5555 0101', content: 'tres', requestId: 8 })
    expect([first.status, second.status, third.status]).toEqual([200, 200, 200])
    const id = first.body.data.conversation.conversation_id
    expect(second.body.data.conversation).toMatchObject({
      conversation_id: id,
      phone_number: '50255550101',
      request_id: 7,
    })
    expect(third.body.data.conversation).toMatchObject({
      conversation_id: id,
      phone_number: '50255550101',
      request_id: 8,
    })

    const { body } = await ctx.t.gql(ConversationDocument, { id })
    expect(chronological(body.data!.conversation.messages).map((m) => [m.content, m.status, m.requestId])).toEqual([
      ['uno', 'SENT', 7],
      ['dos', 'SENT', 7],
      ['tres', 'SENT', 8],
    ])
  })

  it('stores a send in one statement before Meta and one after, moving the conversation to it', async () => {
    await send({ phoneNumber: '+50233330000', content: 'first' })
    const statements: string[] = []
    // The shared limits (request rate, send rate) and change notices are taken in blocks, not per send.
    const stop = ctx.t.app.database.onQuery((sql) => {
      if (!/rate_limit_windows|send_rate_slots|pg_notify/.test(sql)) statements.push(sql)
    })
    const res = await send({ phoneNumber: '+50233330000', content: 'second' })
    stop()
    expect(res.status).toBe(200)
    expect(statements).toHaveLength(2)
    const conversation = await ctx.t.app.database.prisma.conversation.findFirstOrThrow({
      where: { id: res.body.data.conversation.conversation_id },
    })
    expect(conversation.lastMessageId).toBe(res.body.data.message.message_id)
    expect(conversation.lastMessageAt!.getTime()).toBe(Date.parse(res.body.data.message.created_at))
  })

  it('stores concurrent sends to different numbers in one statement, each with its own conversation', async () => {
    const repository = new MessageRepository(ctx.t.app.database.prisma, ctx.t.app.database.sql)
    await send({ phoneNumber: '+50244550000', content: 'existing', requestId: 41 })
    const numbers = Array.from({ length: 8 }, (_, i) => `5024455000${i}`)
    let statements = 0
    const stop = ctx.t.app.database.onQuery((sql) => {
      if (sql.includes('INSERT INTO conversations')) statements++
    })
    const stored = await Promise.all(
      numbers.map((n, i) =>
        repository.addToNumber(ctx.meta.phoneNumberId, n, i % 2 ? 50 + i : null, {
          direction: 'outbound',
          type: 'text',
          content: `to ${n}`,
          status: 'pending',
        }),
      ),
    )
    stop()
    expect(statements).toBe(1)
    stored.forEach(({ conversation, message }, i) => {
      expect(conversation.phoneNumber).toBe(numbers[i])
      expect(conversation.lastMessageId).toBe(message.id)
      expect(message).toMatchObject({ conversationId: conversation.id, content: `to ${numbers[i]}`, status: 'pending' })
      // Its own request id, else the conversation's (41 for the number texted before).
      expect(message.requestId).toBe(i % 2 ? 50 + i : i === 0 ? 41 : null)
    })
    expect(new Set(stored.map((s) => s.conversation.id)).size).toBe(8)
  })

  it('fails only the send the database refuses when sends share a statement', async () => {
    const repository = new MessageRepository(ctx.t.app.database.prisma, ctx.t.app.database.sql)
    const message = { direction: 'outbound', type: 'text', content: 'x', status: 'pending' } as const
    const results = await Promise.allSettled([
      repository.addToNumber(ctx.meta.phoneNumberId, '50245660001', null, message),
      repository.addToNumber(ctx.meta.phoneNumberId, '50245660002', 2 ** 31, message), // out of range for the column
      repository.addToNumber(ctx.meta.phoneNumberId, '50245660003', null, message),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(await ctx.t.app.database.prisma.conversation.count({ where: { phoneNumber: '50245660002' } })).toBe(0)
  })

  it('stores and sends a text with a lone UTF-16 surrogate (as U+FFFD), not a 500', async () => {
    const res = await ctx.t.rest('POST', '/api/whatsapp/send', undefined, {
      raw: '{"phoneNumber": "+50245670001", "content": "Hola \\ud800 mundo"}',
    })
    expect(res.status).toBe(200)
    expect(res.body.data.message.content).toBe('Hola \ufffd mundo')
  })

  it('creates one conversation when the same new number is texted concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => send({ phoneNumber: '+50277770000', content: `m${i}` })),
    )
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200))
    expect(new Set(results.map((r) => r.body.data.conversation.conversation_id)).size).toBe(1)
  })

  it.each([
    [{ phoneNumber: '12345678', content: 'x' }, 'phoneNumber', /international format/],
    [{ phoneNumber: '+0502123', content: 'x' }, 'phoneNumber', /international format/],
    [{ phoneNumber: 50212345678, content: 'x' }, 'phoneNumber', /string/i],
    [{ content: 'x' }, 'phoneNumber', /required/],
    [{ phoneNumber: '+50212345678', content: '   ' }, 'content', /empty/],
    [{ phoneNumber: '+50212345678', content: 'x'.repeat(4097) }, 'content', /4096/],
    [{ phoneNumber: '+50212345678', content: 'x', requestId: -1 }, 'requestId', /positive integer/],
    [{ phoneNumber: '+50212345678', content: 'x', requestId: 1.5 }, 'requestId', /positive integer/],
    [{ phoneNumber: '+50212345678', content: 'x', requestId: 2 ** 31 }, 'requestId', /too large/],
  ])('refuses %j with 422 naming the field', async (body, field, message) => {
    const before = ctx.meta.requests.length
    const res = await send(body)
    expect(res.status).toBe(422)
    expect(res.body.success).toBe(false)
    expect(res.body.error.code).toBe('VALIDATION_FAILED')
    expect(res.body.error.fields).toContainEqual({ path: field, message: expect.stringMatching(message) })
    expect(ctx.meta.requests.length).toBe(before)
  })

  it('refuses a body that is not an object with 422, and unparsable JSON with 400', async () => {
    const notObject = await send([1, 2])
    expect(notObject.status).toBe(422)
    expect(notObject.body.error.code).toBe('VALIDATION_FAILED')

    const bad = await send(undefined, { raw: '{"phoneNumber": ' })
    expect(bad.status).toBe(400)
    expect(bad.body).toEqual({ success: false, error: { code: 'MALFORMED_REQUEST', message: expect.any(String) } })

    const wrongType = await send(undefined, { raw: 'phoneNumber=1', contentType: 'text/plain' })
    expect(wrongType.status).toBe(415)
    expect(wrongType.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE')
  })

  it('refuses a body over the size limit with 413', async () => {
    const res = await send({ phoneNumber: '+50212345678', content: 'x'.repeat(2 * 1024 * 1024) })
    expect(res.status).toBe(413)
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE')
  })

  it('answers 401 without a valid bearer token, and sends nothing', async () => {
    const before = ctx.meta.requests.length
    for (const token of [null, 'wrong-token-0123456789', '']) {
      const res = await send({ phoneNumber: '+50212345678', content: 'x' }, { token })
      expect(res.status).toBe(401)
      expect(res.body).toEqual({ success: false, error: { code: 'UNAUTHENTICATED', message: expect.any(String) } })
    }
    expect(ctx.meta.requests.length).toBe(before)
  })

  it("answers 502 with Meta's code, details and fbtrace_id when Meta refuses, and keeps the failed message", async () => {
    ctx.meta.failFor('50299990000', META_ERRORS.undeliverable)
    const res = await send({ phoneNumber: '+50299990000', content: 'no llega' })
    expect(res.status).toBe(502)
    expect(res.body).toEqual({
      success: false,
      error: {
        code: 'META_API_ERROR',
        message: '(#131026) Message Undeliverable',
        meta: {
          code: 131026,
          type: 'OAuthException',
          details: 'Message Undeliverable.',
          fbtrace_id: expect.stringMatching(/^A/),
        },
      },
    })
    const conversations = await ctx.t.app.database.prisma.conversation.findFirst({
      where: { phoneNumber: '50299990000' },
      include: { messages: true },
    })
    expect(conversations!.messages).toEqual([
      expect.objectContaining({
        content: 'no llega',
        status: 'failed',
        wamid: null,
        errorCode: 131026,
        errorDetails: 'Message Undeliverable.',
        errorTraceId: res.body.error.meta.fbtrace_id,
      }),
    ])
  })

  it('answers 502 META_UNREACHABLE when Meta cannot be reached', async () => {
    const down = await FakeMetaServer.start()
    const env = down.env()
    await down.close()
    const offline = await (
      await import('./helpers/test-app.js')
    ).startTestApp({
      env: { ...env, WHATSAPP_REQUEST_TIMEOUT_MS: '2000' },
    })
    try {
      const res = await offline.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'x' })
      expect(res.status).toBe(502)
      expect(res.body.error.code).toBe('META_UNREACHABLE')
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/)
    } finally {
      await offline.close()
    }
  })

  it('answers unknown routes with 404 in the same error shape', async () => {
    const res = await ctx.t.rest('GET', '/api/whatsapp/nope')
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ success: false, error: { code: 'NOT_FOUND', message: expect.any(String) } })
  })
})
