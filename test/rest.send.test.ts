import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeMetaServer, META_ERRORS } from './helpers/fake-meta.js'
import { startTestApp, type TestApp } from './helpers/test-app.js'

let meta: FakeMetaServer
let t: TestApp

beforeAll(async () => {
  meta = await FakeMetaServer.start()
  t = await startTestApp({ meta })
})
afterAll(async () => {
  await t?.close()
  await meta?.close()
})

describe('POST /api/whatsapp/send', () => {
  it('sends a text through Meta, stores it and answers the documented shape', async () => {
    const res = await t.rest('POST', '/api/whatsapp/send', {
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
        },
        conversation: { conversation_id: expect.any(Number), phone_number: '50212345678', request_id: 123 },
      },
    })
    expect(res.body.data.message.conversation_id).toBe(res.body.data.conversation.conversation_id)

    const last = meta.requests.at(-1)!
    expect(last.method).toBe('POST')
    expect(last.path).toBe(`/v24.0/${meta.phoneNumberId}/messages`)
    expect(last.authorization).toBe(`Bearer ${meta.accessToken}`)
    expect(last.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '50212345678',
      type: 'text',
      text: { preview_url: false, body: 'Hello! Your service request has been received.' },
    })
    expect(meta.accepted.at(-1)!.wamid).toBe(res.body.data.message.wamid)
  })
})
