import { beforeAll, describe, expect, it } from 'vitest'
import { tokenPrincipal } from '../src/auth/auth.js'
import { META_ERRORS } from './helpers/fake-meta.js'
import { type TestApp, API_TOKEN } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

let conversationId: number

const ctx = useTestApp()
beforeAll(async () => {
  const res = await ctx.t.rest('POST', '/api/whatsapp/send', {
    phoneNumber: '+50212345678',
    content: 'Hola',
    requestId: 123,
  })
  conversationId = res.body.data.conversation.conversation_id
})

const post = (id: number | string, body: unknown, options?: Parameters<TestApp['rest']>[3]) =>
  ctx.t.rest('POST', `/api/whatsapp/conversations/${id}/messages`, body, options)

describe('POST /api/whatsapp/conversations/:id/messages', () => {
  it('texts the conversation’s number and answers the documented shape', async () => {
    const content = 'Thank you for your patience. A technician will contact you shortly.'
    const res = await post(conversationId, { content })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      success: true,
      data: {
        message_id: expect.any(Number),
        conversation_id: conversationId,
        content,
        status: 'sent',
        wamid: ctx.meta.accepted.at(-1)!.wamid,
        // Added after the documented fields, for the other kinds of message.
        message_type: 'text',
        direction: 'outbound',
        created_at: expect.any(String),
        media: null,
        location: null,
        interactive: null,
        contacts: null,
        reply_to_message_id: null,
        sent_by: tokenPrincipal(API_TOKEN).name,
        reactions: [],
      },
    })
    expect(Object.keys(res.body.data).slice(0, 5)).toEqual([
      'message_id',
      'conversation_id',
      'content',
      'status',
      'wamid',
    ])
    expect(ctx.meta.requests.at(-1)!.body).toMatchObject({ to: '50212345678', type: 'text', text: { body: content } })
  })

  it('accepts "type": "text" and refuses a type WhatsApp has not with 422 on the type field', async () => {
    expect((await post(conversationId, { content: 'ok', type: 'text' })).status).toBe(200)
    const before = ctx.meta.requests.length
    const res = await post(conversationId, { content: 'a poll', type: 'poll' })
    expect(res.status).toBe(422)
    expect(res.body.error.fields).toEqual([
      { path: 'type', message: expect.stringContaining('text, image, video, audio, document, sticker') },
    ])
    expect(ctx.meta.requests.length).toBe(before)
  })

  it('answers 404 for an unknown conversation, and 422 for an id that is not one', async () => {
    const missing = await post(999999, { content: 'hola' })
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({
      success: false,
      error: { code: 'NOT_FOUND', message: expect.stringContaining('999999') },
    })

    for (const id of ['abc', '0', '-4', '99999999999']) {
      const res = await post(id, { content: 'hola' })
      expect(res.status, id).toBe(422)
      expect(res.body.error.fields[0].path).toBe('conversationId')
    }
  })

  it('refuses missing or empty content with 422', async () => {
    expect((await post(conversationId, {})).body.error.fields).toEqual([{ path: 'content', message: 'is required' }])
    expect((await post(conversationId, { content: '' })).status).toBe(422)
  })

  it('answers 502 with Meta’s error when Meta refuses (token expired) and records the failure', async () => {
    ctx.meta.failNext(META_ERRORS.tokenExpired())
    const res = await post(conversationId, { content: 'x' })
    expect(res.status).toBe(502)
    expect(res.body.error).toMatchObject({ code: 'META_TOKEN_INVALID', meta: { code: 190, error_subcode: 463 } })
    const last = await ctx.t.app.database.prisma.message.findFirst({ orderBy: { id: 'desc' } })
    expect(last).toMatchObject({ status: 'failed', errorCode: 190, content: 'x' })
  })

  it('requires the bearer token', async () => {
    expect((await post(conversationId, { content: 'x' }, { token: null })).status).toBe(401)
  })
})
