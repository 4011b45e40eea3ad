import { describe, expect, it } from 'vitest'
import { SendInConversationDocument } from './graphql/generated.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

// With an app secret, webhooks tell us when customers write, so the window is enforced by default.
const enforcing = useTestApp({ meta: { templates: [metaTemplate({ name: 'appointment_reminder' })] }, env: webhookEnv })
const lenient = useTestApp({
  meta: () => enforcing.meta,
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' },
})

const hoursAgo = (h: number) => new Date(Date.now() - h * 3600 * 1000)

describe('the 24-hour customer-service window', () => {
  it('refuses a text to a customer who never wrote with 409 WINDOW_CLOSED, without calling Meta', async () => {
    const before = enforcing.meta.requests.length
    const res = await enforcing.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50280000001', content: 'hola' })
    expect(res.status).toBe(409)
    expect(res.body.error).toMatchObject({ code: 'WINDOW_CLOSED', message: expect.stringMatching(/template/) })
    expect(enforcing.meta.requests.length).toBe(before)
    expect(await enforcing.t.app.database.prisma.conversation.count({ where: { phoneNumber: '50280000001' } })).toBe(0)
  })

  it('allows texts within 24 hours of the customer’s last message, and refuses them after', async () => {
    await postWebhook(
      enforcing.t,
      inboundText({ from: '50280000002', wamid: 'wamid.W1', text: 'hola', at: hoursAgo(23) }),
    )
    await postWebhook(
      enforcing.t,
      inboundText({ from: '50280000003', wamid: 'wamid.W2', text: 'hola', at: hoursAgo(25) }),
    )
    await enforcing.t.app.webhooks.drained()

    const open = await enforcing.t.rest('POST', '/api/whatsapp/send', {
      phoneNumber: '+50280000002',
      content: 'respuesta',
    })
    expect(open.status).toBe(200)
    expect(Date.parse(open.body.data.conversation.service_window_expires_at)).toBeGreaterThan(Date.now())

    const closedId = (await enforcing.t.app.database.prisma.conversation.findFirst({
      where: { phoneNumber: '50280000003' },
    }))!.id
    const closed = await enforcing.t.rest('POST', `/api/whatsapp/conversations/${closedId}/messages`, {
      content: 'tarde',
    })
    expect(closed.status).toBe(409)
    expect(Date.parse(closed.body.error.serviceWindowExpiresAt)).toBeLessThan(Date.now())

    const { body } = await enforcing.t.gql(SendInConversationDocument, {
      input: { conversationId: closedId, content: 'tarde' },
    })
    expect(body.errors![0].extensions!.code).toBe('WINDOW_CLOSED')
  })

  it('always allows templates', async () => {
    const res = await enforcing.t.rest('POST', '/api/whatsapp/send-template', {
      templateName: 'appointment_reminder',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      recipients: [{ phoneNumber: '+50280000004' }],
    })
    expect(res.body.summary).toEqual({ total: 1, sent: 1, failed: 0 })
  })

  it('leaves the decision to Meta when switched off', async () => {
    const res = await lenient.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50280000005', content: 'hola' })
    expect(res.status).toBe(200)
  })
})
