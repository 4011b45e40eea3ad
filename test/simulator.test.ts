import { describe, expect, it } from 'vitest'
import {
  ConversationDocument,
  MessageAddedDocument,
  MessageStatusChangedDocument,
  SendTemplateDocument,
  SendTextDocument,
  SimulateInboundMessageDocument,
  TemplatesDocument,
} from './graphql/generated.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { startTestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

// No WHATSAPP_ACCESS_TOKEN: simulator mode.
const ctx = useTestApp({ meta: false, env: { WHATSAPP_SIMULATOR_STATUS_DELAY_MS: '20' } })

describe('simulator mode (no Meta account)', () => {
  it('serves realistic approved templates', async () => {
    const { body } = await ctx.t.gql(TemplatesDocument, { refresh: true, status: 'APPROVED' })
    expect(body.data!.templates.map((x) => `${x.name}/${x.language}`)).toEqual(
      expect.arrayContaining(['appointment_reminder/es', 'service_confirmation/es']),
    )
  })

  it('accepts sends with wamid ids; an unknown template is refused before sending', async () => {
    const { body } = await ctx.t.gql(SendTemplateDocument, {
      input: {
        templateName: 'appointment_reminder',
        languageCode: 'es',
        components: [
          {
            type: 'BODY',
            parameters: [
              { type: 'TEXT', text: 'Ana' },
              { type: 'TEXT', text: 'martes' },
            ],
          },
        ],
        recipients: [{ phoneNumber: '+50212345678' }],
      },
    })
    expect(body.data!.sendTemplate.results[0]).toMatchObject({
      success: true,
      wamid: expect.stringMatching(/^wamid\./),
    })
    expect(body.data!.sendTemplate.results[0].message!.content).toBe(
      'Hola Ana, te recordamos tu cita para el martes.\nServicios Profesionales',
    )

    const unknown = await ctx.t.rest('POST', '/api/whatsapp/send-template', {
      templateName: 'nope',
      languageCode: 'es',
      recipients: [{ phoneNumber: '+50212345678' }],
    })
    expect(unknown.status).toBe(422)
    expect(unknown.body.error.fields).toEqual([
      { path: 'templateName', message: expect.stringContaining('no template nope') },
    ])
  })

  it('posts signed delivered and then read webhooks after a send, seen live by a subscription', async () => {
    const sub = ctx.t.subscribe(MessageStatusChangedDocument, {})
    await sub.ready()
    const { body } = await ctx.t.gql(SendTextDocument, { input: { phoneNumber: '+50211112222', content: 'hola' } })
    const wamid = body.data!.sendText.message!.wamid
    // Each event carries the message as it is when read, so under load one state may be skipped;
    // what is seen only moves forward and ends READ, and both webhooks were applied.
    const seen: string[] = []
    while (seen.at(-1) !== 'READ') {
      const { data } = await sub.next()
      if (data!.messageStatusChanged.wamid === wamid) seen.push(data!.messageStatusChanged.status)
    }
    const order = ['PENDING', 'SENT', 'DELIVERED', 'READ']
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort())
    const stored = await ctx.t.app.database.prisma.message.findUniqueOrThrow({ where: { wamid: wamid! } })
    expect(stored).toMatchObject({ status: 'read', deliveredAt: expect.any(Date), readAt: expect.any(Date) })
    // The READ event is published as the status is applied, a moment before its delivery is marked applied.
    await ctx.t.app.webhooks.drained()
    const events = await ctx.t.app.database.prisma.webhookEvent.findMany({ where: { body: { contains: 'delivered' } } })
    expect(events.length).toBeGreaterThan(0)
    expect(events.every((e) => e.status === 'applied')).toBe(true)
    await sub.close()
  })

  it('simulates a customer writing in, live, opening the service window', async () => {
    const sub = ctx.t.subscribe(MessageAddedDocument, {})
    await sub.ready()
    const { body } = await ctx.t.gql(SimulateInboundMessageDocument, {
      input: { phoneNumber: '+50233330000', content: '¿A qué hora llega el técnico?', contactName: 'Ana López' },
    })
    expect(body.errors).toBeUndefined()
    const message = body.data!.simulateInboundMessage
    expect(message).toMatchObject({ direction: 'INBOUND', content: '¿A qué hora llega el técnico?' })
    expect((await sub.next()).data!.messageAdded).toMatchObject({ wamid: message.wamid })

    const conversation = (await ctx.t.gql(ConversationDocument, { id: message.conversationId })).body.data!.conversation
    expect(conversation).toMatchObject({ phoneNumber: '50233330000', contactName: 'Ana López' })
    expect(Date.parse(conversation.serviceWindowExpiresAt!)).toBeGreaterThan(Date.now() + 23 * 3600 * 1000)
    await sub.close()

    const bad = await ctx.t.gql(SimulateInboundMessageDocument, { input: { phoneNumber: '123', content: '' } })
    expect(bad.body.errors![0].extensions).toMatchObject({ code: 'VALIDATION_FAILED' })
  })
})

describe('production mode', () => {
  it('refuses the simulated inbound message, and hides introspection and Apollo Sandbox', async () => {
    const meta = await FakeMetaServer.start()
    const prod = await startTestApp({
      meta,
      env: { NODE_ENV: 'production', WHATSAPP_APP_SECRET: 'prod-secret-0123456789' },
    })
    try {
      const { body } = await prod.gql(SimulateInboundMessageDocument, {
        input: { phoneNumber: '+50233330000', content: 'hola' },
      })
      expect(body.errors![0].extensions!.code).toBe('FORBIDDEN')

      const introspection = await prod.rest('POST', '/graphql', { query: '{ __schema { types { name } } }' })
      expect(introspection.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED')
      const page = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } })
      expect(await page.text()).not.toMatch(/sandbox/i)
    } finally {
      await prod.close()
      await meta.close()
    }
  })
})
