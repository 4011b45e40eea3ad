import { describe, expect, it } from 'vitest'
import { ConversationDocument } from './graphql/generated.js'
import { useTestApp } from './helpers/setup.js'
import { webhookEnv } from './helpers/webhooks.js'

const ctx = useTestApp({ env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' } })

const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url')

describe('inputs PostgreSQL cannot hold are refused with field errors, never 500', () => {
  it('a NUL character anywhere', async () => {
    const conversations = await ctx.t.app.database.prisma.conversation.count()
    const send = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'a\u0000b' })
    expect(send.status).toBe(422)
    expect(send.body.error.fields).toEqual([{ path: 'content', message: expect.stringContaining('NUL') }])
    expect(await ctx.t.app.database.prisma.conversation.count()).toBe(conversations)
    const search = await ctx.t.rest('GET', '/api/whatsapp/conversations?search=%00ab')
    expect(search.status).toBe(422)
    expect(search.body.error.fields[0].path).toBe('search')
  })

  it.each([
    ['a time past the Date range', cursor([1e300, 1])],
    ['a negative time', cursor([-1e15, 1])],
    ['an id over int4', cursor([null, 3_000_000_000])],
  ])('a cursor with %s', async (_what, after) => {
    const res = await ctx.t.rest('GET', `/api/whatsapp/conversations?after=${after}`)
    expect(res.status).toBe(422)
    expect(res.body.error.fields[0].path).toBe('after')
  })

  it('a message cursor over int4, and a date out of range', async () => {
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'hola' })
    const id = sent.body.data.conversation.conversation_id
    const messages = await ctx.t.gql(ConversationDocument, { id, after: cursor([3_000_000_000]) })
    expect(messages.body.errors![0].extensions).toMatchObject({ code: 'VALIDATION_FAILED' })
    const since = await ctx.t.rest('GET', '/api/whatsapp/conversations?updatedSince=-100000-01-01T00:00:00Z')
    expect(since.status).toBe(422)
  })

  it('a malformed URL gets the documented error shape', async () => {
    const res = await ctx.t.rest('GET', '/api/whatsapp/conversations/%E0%A4%A/messages')
    expect(res.status).toBe(400)
    expect(res.body).toEqual({ success: false, error: { code: 'MALFORMED_REQUEST', message: expect.any(String) } })
  })
})
