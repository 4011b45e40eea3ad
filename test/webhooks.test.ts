import { describe, expect, it } from 'vitest'
import { ConversationDocument, ConversationsDocument, TemplatesDocument } from './graphql/generated.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { chronological, nodes } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import {
  APP_SECRET,
  inboundMessage,
  inboundText,
  metaJson,
  postWebhook,
  PREVIOUS_APP_SECRET,
  statusUpdate,
  templateStatus,
  VERIFY_TOKEN,
  webhookEnv,
} from './helpers/webhooks.js'

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'sr_update' })] },
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' },
})

const applied = () => ctx.t.app.webhooks.drained()
const conversationOf = async (phoneNumber: string) => {
  const row = await ctx.t.app.database.prisma.conversation.findFirst({ where: { phoneNumber } })
  if (!row) return null
  const { body } = await ctx.t.gql(ConversationDocument, { id: row.id })
  return body.data!.conversation
}
const shuffle = <T>(items: T[]) =>
  items
    .map((item) => ({ item, key: Math.random() }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.item)

describe('GET /webhooks/whatsapp (Meta’s verification)', () => {
  const verify = (query: string) => fetch(`${ctx.t.url}/webhooks/whatsapp?${query}`)

  it('answers the challenge as plain text when the verify token matches', async () => {
    const res = await verify(`hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe('1158201444')
  })

  it.each([
    'hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1',
    `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`,
    `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}`,
    '',
  ])('answers 403 to %j', async (query) => {
    expect((await verify(query)).status).toBe(403)
  })
})

describe('POST /webhooks/whatsapp', () => {
  it('stores an inbound text (escaped unicode, signed over the raw bytes) and shows it in GraphQL', async () => {
    const at = new Date('2026-11-25T15:00:00Z')
    const payload = inboundText({
      from: '50255551234',
      wamid: 'wamid.IN1',
      text: '¿Cuándo llega? https://x.gt/a',
      name: 'Ana López',
      at,
      userId: 'GT.1349120865',
    })
    expect(metaJson(payload)).toContain('\\u00bfCu\\u00e1ndo llega? https:\\/\\/x.gt\\/a')
    const res = await postWebhook(ctx.t, payload)
    expect(res.status).toBe(200)
    await applied()

    const conversation = await conversationOf('50255551234')
    expect(conversation).toMatchObject({
      contactName: 'Ana López',
      waUserId: 'GT.1349120865',
      lastInboundAt: at.toISOString(),
      serviceWindowExpiresAt: new Date(at.getTime() + 24 * 3600 * 1000).toISOString(),
    })
    expect(nodes(conversation!.messages)).toEqual([
      expect.objectContaining({
        direction: 'INBOUND',
        type: 'text',
        content: '¿Cuándo llega? https://x.gt/a',
        wamid: 'wamid.IN1',
        sentByCustomerAt: at.toISOString(),
        payload: expect.objectContaining({ id: 'wamid.IN1', text: { body: '¿Cuándo llega? https://x.gt/a' } }),
      }),
    ])
  })

  it('takes a contact without a profile, replies, and unsupported types (kept raw, with a visible marker)', async () => {
    await postWebhook(ctx.t, inboundText({ from: '50255550001', wamid: 'wamid.NOPROFILE', text: 'hola' }))
    await postWebhook(
      ctx.t,
      inboundMessage('50255550001', {
        id: 'wamid.BTN',
        type: 'button',
        button: { text: 'Confirmar', payload: 'CONFIRM_SR-1042' },
        context: { from: '50222223333', id: 'wamid.OUT1' },
      }),
    )
    await postWebhook(
      ctx.t,
      inboundMessage('50255550001', {
        id: 'wamid.INTERACTIVE',
        type: 'interactive',
        interactive: { type: 'button_reply', button_reply: { id: 'slot-1', title: 'Martes 10:00' } },
      }),
    )
    await postWebhook(
      ctx.t,
      inboundMessage('50255550001', {
        id: 'wamid.UNSUPPORTED',
        type: 'unsupported',
        unsupported: { type: 'poll' },
        errors: [{ code: 131051, title: 'Message type unknown', details: 'Message type unknown' }],
      }),
    )
    await applied()
    const conversation = await conversationOf('50255550001')
    expect(conversation!.contactName).toBe('Ana López') // from the later deliveries' profile
    // Deliveries are applied concurrently, so the stored order may differ from the posting order.
    const stored = chronological(conversation!.messages)
    expect(stored.map((m) => [m.wamid, m.type, m.content]).sort()).toEqual([
      ['wamid.BTN', 'button', 'Confirmar'],
      ['wamid.INTERACTIVE', 'interactive', 'Martes 10:00'],
      ['wamid.NOPROFILE', 'text', 'hola'],
      ['wamid.UNSUPPORTED', 'unsupported', '[unsupported message: Message type unknown]'],
    ])
    expect(stored.find((m) => m.wamid === 'wamid.UNSUPPORTED')!.payload).toMatchObject({ errors: [{ code: 131051 }] })
  })

  it('takes a username-only customer (no phone number, Meta’s user id instead)', async () => {
    const payload = inboundText({ from: 'x', wamid: 'wamid.USERNAME', text: 'hola', name: 'Luis' }) as any
    const value = payload.entry[0].changes[0].value
    delete value.messages[0].from
    value.messages[0].from_user_id = 'GT.99887766'
    value.contacts = [{ profile: { name: 'Luis' }, user_id: 'GT.99887766' }]
    expect((await postWebhook(ctx.t, payload)).status).toBe(200)
    await applied()
    const row = await ctx.t.app.database.prisma.conversation.findFirst({ where: { waUserId: 'GT.99887766' } })
    expect(row).toMatchObject({ phoneNumber: null, contactName: 'Luis' })
    const { body } = await ctx.t.gql(ConversationDocument, { id: row!.id })
    expect(nodes(body.data!.conversation.messages).map((m) => m.content)).toEqual(['hola'])
    const reply = await ctx.t.rest('POST', `/api/whatsapp/conversations/${row!.id}/messages`, { content: 'x' })
    expect(reply.status).toBe(422)
  })

  it('stores one message per wamid when a delivery is replayed three times at once', async () => {
    const payload = inboundText({ from: '50255550002', wamid: 'wamid.DUP', text: 'una vez' })
    const answers = await Promise.all([1, 2, 3].map(() => postWebhook(ctx.t, payload)))
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200])
    await applied()
    expect(await ctx.t.app.database.prisma.message.count({ where: { wamid: 'wamid.DUP' } })).toBe(1)
    expect(await ctx.t.app.database.prisma.conversation.count({ where: { phoneNumber: '50255550002' } })).toBe(1)
  })

  it('accepts the previous app secret during a rotation', async () => {
    const res = await postWebhook(ctx.t, inboundText({ from: '50255550003', wamid: 'wamid.OLD', text: 'x' }), {
      secret: PREVIOUS_APP_SECRET,
    })
    expect(res.status).toBe(200)
  })

  it('refuses missing, malformed, wrong and stale signatures with 401 and changes nothing', async () => {
    const payload = inboundText({ from: '50255550004', wamid: 'wamid.FORGED', text: '¿Cuándo?' })
    const body = metaJson(payload)
    const events = await ctx.t.app.database.prisma.webhookEvent.count()
    const { signWebhook } = await import('../src/meta/meta.webhooks.js')
    const forged = [
      null,
      'sha256=nothex',
      'sha1=' + 'a'.repeat(40),
      signWebhook(body, 'not-the-secret'),
      // re-serialised JSON (unescaped) signed with the right secret does not match the bytes sent
      signWebhook(JSON.stringify(payload), APP_SECRET),
    ]
    for (const signature of forged) {
      const res = await postWebhook(ctx.t, payload, { signature, raw: body })
      expect(res.status, String(signature)).toBe(401)
      expect((await res.json()).error.code).toBe('UNAUTHENTICATED')
    }
    await applied()
    expect(await ctx.t.app.database.prisma.webhookEvent.count()).toBe(events)
    expect(await ctx.t.app.database.prisma.message.count({ where: { wamid: 'wamid.FORGED' } })).toBe(0)
  })

  it('keeps a signed payload it cannot apply, for inspection, and still answers 200', async () => {
    const raw = '{"object":"page","entry":[]}'
    const res = await postWebhook(ctx.t, undefined, { raw })
    expect(res.status).toBe(200)
    await applied()
    const event = await ctx.t.app.database.prisma.webhookEvent.findFirst({ orderBy: { id: 'desc' } })
    expect(event).toMatchObject({
      body: raw,
      status: 'failed',
      error: expect.stringContaining('whatsapp_business_account'),
    })
  })

  it('stores concurrent deliveries in one statement, each its own row in arrival order, and applies each', async () => {
    const { signWebhook } = await import('../src/meta/meta.webhooks.js')
    const bodies = Array.from({ length: 6 }, (_, i) =>
      metaJson(inboundText({ from: `5025556100${i}`, wamid: `wamid.SHARED${i}`, text: `n${i}` })),
    )
    // The same delivery twice (Meta retries): two rows, one message.
    bodies.push(bodies[0])
    let inserts = 0
    const stop = ctx.t.app.database.onQuery((sql) => {
      if (/INSERT INTO ("public"\.)?"?webhook_events/.test(sql)) inserts++
    })
    const ids = await Promise.all(
      bodies.map((body) => ctx.t.app.webhooks.receive(Buffer.from(body), signWebhook(body, APP_SECRET))),
    )
    await applied()
    stop()
    expect(inserts).toBe(1)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    const events = await ctx.t.app.database.prisma.webhookEvent.findMany({
      where: { id: { in: ids } },
      orderBy: { id: 'asc' },
    })
    expect(events.map((e) => [e.body, e.status])).toEqual(bodies.map((b) => [b, 'applied']))
    expect(await ctx.t.app.database.prisma.message.count({ where: { wamid: { startsWith: 'wamid.SHARED' } } })).toBe(6)
  })

  it('keeps at most queuedBodiesMax waiting bodies in memory, reading the rest back in their turn', async () => {
    const { WebhookService } = await import('../src/webhooks/webhook.service.js')
    const { WebhookRepository } = await import('../src/webhooks/webhook.repository.js')
    const { ConversationRepository } = await import('../src/conversations/conversation.repository.js')
    const { MessageRepository } = await import('../src/messages/message.repository.js')
    const { DeliveryRepository } = await import('../src/messages/delivery.repository.js')
    const { TemplateRepository } = await import('../src/templates/template.repository.js')
    const { DeliveryStatusService } = await import('../src/messages/delivery-status.service.js')
    const { InProcessEventBus } = await import('../src/events/event-bus.js')
    const { signWebhook } = await import('../src/meta/meta.webhooks.js')
    const { prisma, sql } = ctx.t.app.database
    const messages = new MessageRepository(prisma, sql)
    const events = new InProcessEventBus()
    const { ReactionRepository } = await import('../src/messages/reaction.repository.js')
    const noMedia = { recordInbound: async () => 'med_none' } as never
    const service = new WebhookService(
      new WebhookRepository(prisma, sql),
      new ConversationRepository(prisma, sql),
      messages,
      { reactions: new ReactionRepository(prisma), media: noMedia, onMediaRecorded: () => {} },
      new TemplateRepository(prisma),
      new DeliveryStatusService(new DeliveryRepository(prisma), events),
      events,
      {
        appSecrets: [APP_SECRET],
        verifyToken: null,
        allowSimulation: false,
        phoneNumberId: '1',
        concurrency: 1,
        queuedBodiesMax: 2,
      },
    )
    const bodies = Array.from({ length: 6 }, (_, i) =>
      metaJson(inboundText({ from: `5025556200${i}`, wamid: `wamid.BACKLOG${i}`, text: `b${i}` })),
    )
    let readBack = 0
    const stop = ctx.t.app.database.onQuery((sql) => {
      if (/^SELECT .* FROM "public"\."webhook_events" WHERE .*"id" = /.test(sql)) readBack++
    })
    await Promise.all(bodies.map((body) => service.receive(Buffer.from(body), signWebhook(body, APP_SECRET))))
    await service.drained()
    stop()
    // One applying at once: the first is taken at once, two wait with their body, three without.
    expect(readBack).toBe(3)
    const stored = await prisma.message.findMany({ where: { wamid: { startsWith: 'wamid.BACKLOG' } } })
    expect(stored.map((m) => m.content).sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5'])
  })

  it('applies a delivery stored by an earlier run that never applied it', async () => {
    const body = metaJson(inboundText({ from: '50255550005', wamid: 'wamid.RESUMED', text: 'x' }))
    await ctx.t.app.database.prisma.webhookEvent.create({ data: { body } })
    await ctx.t.app.webhooks.resumeUnapplied()
    await applied()
    expect(await ctx.t.app.database.prisma.message.count({ where: { wamid: 'wamid.RESUMED' } })).toBe(1)
  })
})

describe('delivery statuses', () => {
  const sendOne = async (to: string) => {
    const res = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: `+${to}`, content: 'estado' })
    return res.body.data.message as { message_id: number; wamid: string }
  }
  const messageById = (id: number) => ctx.t.app.database.prisma.message.findUniqueOrThrow({ where: { id } })

  it('apply concurrently in one statement, each to its own message, a failure with its error', async () => {
    const { DeliveryRepository } = await import('../src/messages/delivery.repository.js')
    const repository = new DeliveryRepository(ctx.t.app.database.prisma)
    const sent = await Promise.all(['50212349001', '50212349002', '50212349003'].map(sendOne))
    const at = new Date('2026-11-25T17:00:00Z')
    let statements = 0
    const stop = ctx.t.app.database.onQuery((sql) => {
      if (sql.includes('UPDATE messages m SET')) statements++
    })
    const results = await Promise.all([
      repository.applyStatus({ wamid: sent[0].wamid, status: 'delivered', timestamp: at, error: null }),
      repository.applyStatus({ wamid: sent[1].wamid, status: 'sent', timestamp: at, error: null }), // no change
      repository.applyStatus({
        wamid: sent[2].wamid,
        status: 'failed',
        timestamp: at,
        error: { code: 131026, title: 'Message undeliverable', details: 'Not on WhatsApp' },
      }),
      repository.applyStatus({ wamid: 'wamid.NOBODY', status: 'read', timestamp: at, error: null }),
    ])
    stop()
    expect(statements).toBe(1)
    expect(results.map((r) => r && [r.message.id, r.message.status, r.changed])).toEqual([
      [sent[0].message_id, 'delivered', true],
      [sent[1].message_id, 'sent', false],
      [sent[2].message_id, 'failed', true],
      null,
    ])
    expect(await messageById(sent[0].message_id)).toMatchObject({ status: 'delivered', deliveredAt: at })
    expect(await messageById(sent[2].message_id)).toMatchObject({
      status: 'failed',
      failedAt: at,
      errorCode: 131026,
      errorMessage: 'Message undeliverable',
      errorDetails: 'Not on WhatsApp',
    })
  })

  it('only move forward, whatever the order and duplication; each time is kept', async () => {
    const { message_id, wamid } = await sendOne('50212340001')
    const base = Date.parse('2026-11-25T16:00:00Z')
    const deliveries = shuffle(
      (['sent', 'delivered', 'read'] as const).flatMap((status, i) =>
        [1, 2, 3].map(() => statusUpdate({ wamid, status, to: '50212340001', at: new Date(base + i * 60_000) })),
      ),
    )
    // read before delivered, for certain, and the rest concurrently
    await postWebhook(ctx.t, statusUpdate({ wamid, status: 'read', at: new Date(base + 120_000) }))
    await applied()
    await Promise.all(deliveries.map((d) => postWebhook(ctx.t, d)))
    await applied()
    const message = await messageById(message_id)
    expect(message).toMatchObject({
      status: 'read',
      sentAt: new Date(base),
      deliveredAt: new Date(base + 60_000),
      readAt: new Date(base + 120_000),
      failedAt: null,
    })
  })

  it('failed (131047) is final and keeps Meta’s code, title and details', async () => {
    const { message_id, wamid } = await sendOne('50212340002')
    await postWebhook(ctx.t, statusUpdate({ wamid, status: 'sent' }))
    await applied()
    await postWebhook(ctx.t, statusUpdate({ wamid, status: 'failed', errorCode: 131047 }))
    await applied()
    await Promise.all(
      ['delivered', 'read', 'sent'].map((status) => postWebhook(ctx.t, statusUpdate({ wamid, status }))),
    )
    await applied()
    const { body } = await ctx.t.gql(ConversationDocument, { id: (await messageById(message_id)).conversationId })
    expect(nodes(body.data!.conversation.messages)[0]).toMatchObject({
      status: 'FAILED',
      failedAt: expect.any(String),
      error: {
        code: 131047,
        message: 'Re-engagement message',
        details: expect.stringContaining('more than 24 hours'),
      },
    })
  })

  it('a status for a wamid we do not know yet is kept and applied when the message appears', async () => {
    const wamid = 'wamid.EARLY_STATUS'
    const deliveredAt = new Date('2026-11-20T10:00:01Z')
    const readAt = new Date('2026-11-20T10:00:07Z')
    await postWebhook(ctx.t, statusUpdate({ wamid, status: 'delivered', to: '50212340003', at: deliveredAt }))
    await postWebhook(ctx.t, statusUpdate({ wamid, status: 'read', to: '50212340003', at: readAt }))
    await applied()
    expect(await ctx.t.app.database.prisma.earlyStatus.count({ where: { wamid } })).toBe(2)

    ctx.meta.useWamid(wamid)
    const { message_id } = await sendOne('50212340003')
    expect(await messageById(message_id)).toMatchObject({ wamid, status: 'read', deliveredAt, readAt })
    expect(await ctx.t.app.database.prisma.earlyStatus.count({ where: { wamid } })).toBe(0)
  })

  it('template status updates change the stored template', async () => {
    await ctx.t.gql(TemplatesDocument, { refresh: true })
    await postWebhook(ctx.t, templateStatus('sr_update', 'es', 'PAUSED'))
    await applied()
    const { body } = await ctx.t.gql(TemplatesDocument, {})
    expect(body.data!.templates.find((x) => x.name === 'sr_update')!.status).toBe('PAUSED')
  })
})

describe('applying deliveries', () => {
  it('keeps the message when a customer first wrote as a username user, then with their number', async () => {
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50277001122', content: 'hola' })
    const byNumber = sent.body.data.conversation.conversation_id
    const usernameOnly = inboundText({ from: 'x', wamid: 'wamid.U1', text: 'soy yo', name: 'Luis' }) as any
    delete usernameOnly.entry[0].changes[0].value.messages[0].from
    usernameOnly.entry[0].changes[0].value.messages[0].from_user_id = 'GT.5550001'
    usernameOnly.entry[0].changes[0].value.contacts = [{ profile: { name: 'Luis' }, user_id: 'GT.5550001' }]
    await postWebhook(ctx.t, usernameOnly)
    await applied()
    await postWebhook(
      ctx.t,
      inboundText({ from: '50277001122', userId: 'GT.5550001', wamid: 'wamid.U2', text: 'con número' }),
    )
    await applied()
    const message = await ctx.t.app.database.prisma.message.findUnique({ where: { wamid: 'wamid.U2' } })
    expect(message).toMatchObject({ conversationId: byNumber, content: 'con número' })
  })

  it('stores and applies a returning customer’s text in four statements, none a transaction of several', async () => {
    const from = '50277005566'
    await postWebhook(ctx.t, inboundText({ from, wamid: 'wamid.ONE', text: 'hola', name: 'Ana' }))
    await applied()
    const statements: string[] = []
    const stop = ctx.t.app.database.onQuery((sql) => statements.push(sql.replace(/\s+/g, ' ').trim()))
    const at = new Date(Date.now() + 60_000)
    try {
      await postWebhook(ctx.t, inboundText({ from, wamid: 'wamid.TWO', text: 'otra', name: 'Ana', at }))
      await applied()
    } finally {
      stop()
    }
    // Stored as received; then the conversation found, the message stored with the conversation's
    // summary moved, the delivery marked applied. Every inbound message pays for each of these.
    expect(statements).toHaveLength(4)
    expect(statements.filter((sql) => /^(BEGIN|COMMIT)/i.test(sql))).toEqual([])
    const { body } = await ctx.t.gql(ConversationsDocument, { filter: { phoneNumber: from } })
    const [conversation] = nodes(body.data!.conversations)
    expect(conversation).toMatchObject({ contactName: 'Ana', lastMessage: { content: 'otra', direction: 'INBOUND' } })
    const second = Math.floor(at.getTime() / 1000) * 1000
    expect(new Date(conversation.lastMessageAt!).getTime()).toBe(second)
    expect(new Date((await conversationOf(from))!.lastInboundAt!).getTime()).toBe(second)
  })

  it('retries a delivery whose applying failed on our side, instead of losing it', async () => {
    const prisma = ctx.t.app.database.prisma
    await prisma.$executeRawUnsafe('ALTER TABLE messages RENAME TO messages_away')
    let renamedBack = false
    try {
      await postWebhook(ctx.t, inboundText({ from: '50277003344', wamid: 'wamid.RETRIED', text: 'otra vez' }))
      let event = null
      for (let i = 0; i < 100 && !event; i++) {
        event = await prisma.webhookEvent.findFirst({
          where: { body: { contains: 'wamid.RETRIED' }, attempts: { gte: 1 } },
        })
        if (!event) await new Promise((r) => setTimeout(r, 20))
      }
      expect(event).toMatchObject({ status: 'received', error: expect.stringContaining('messages') })
      await prisma.$executeRawUnsafe('ALTER TABLE messages_away RENAME TO messages')
      renamedBack = true
      let stored = null
      for (let i = 0; i < 200 && !stored; i++) {
        stored = await prisma.message.findUnique({ where: { wamid: 'wamid.RETRIED' } })
        if (!stored) await new Promise((r) => setTimeout(r, 20))
      }
      expect(stored).toMatchObject({ content: 'otra vez' })
    } finally {
      if (!renamedBack) await prisma.$executeRawUnsafe('ALTER TABLE messages_away RENAME TO messages')
    }
  })
})

describe('last message under concurrency', () => {
  it('is the newest stored message after concurrent sends and inbound messages', async () => {
    const first = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50266660000', content: 'start' })
    const conversationId = first.body.data.conversation.conversation_id
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) =>
        ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: `out${i}` }),
      ),
      ...Array.from({ length: 6 }, (_, i) =>
        postWebhook(ctx.t, inboundText({ from: '50266660000', wamid: `wamid.CONC${i}`, text: `in${i}` })),
      ),
    ])
    await ctx.t.app.webhooks.drained()
    const newest = await ctx.t.app.database.prisma.message.findFirst({
      where: { conversationId },
      orderBy: { id: 'desc' },
    })
    const { body } = await ctx.t.gql(ConversationsDocument, { filter: { phoneNumber: '50266660000' } })
    expect(nodes(body.data!.conversations)[0].lastMessage!.id).toBe(newest!.id)
    expect(nodes(body.data!.conversations)[0].messageCount).toBe(13)
  })
})
