/**
 * Every kind of WhatsApp message through the public surface: sends (REST and GraphQL) checked
 * against the exact body the fake Meta received, Meta's limits refused before anything is sent,
 * inbound kinds from signed webhooks, reactions both ways, and read receipts.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import {
  RichConversationDocument,
  RichConversationsDocument,
  RichMarkConversationReadDocument,
  RichMessageAddedDocument,
  RichMessageUpdatedDocument,
  RichSendInConversationDocument,
  RichSendMessageDocument,
  type SendInConversationInput,
} from './graphql/generated.js'
import { tokenPrincipal } from '../src/auth/auth.js'
import { META_ERRORS } from './helpers/fake-meta.js'
import { API_TOKEN, nodes, TEST_DATABASE } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { inboundMessage, postWebhook, webhookEnv } from './helpers/webhooks.js'

// One app (and one fake Meta) for the whole file: each test uses its own customers' numbers.
const ctx = useTestApp({ env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' } })

const BUSINESS_NUMBER = '50222223333'
const WAMID = /^wamid\./
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const send = (body: unknown) => ctx.t.rest('POST', '/api/whatsapp/send', body)
const post = (conversationId: number | string, body: unknown) =>
  ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, body)
const read = (conversationId: number | string, body: unknown = {}) =>
  ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/read`, body)

/** The body of Meta's last request. */
const lastMetaBody = () => ctx.meta.requests.at(-1)!.body

/** Meta's send body as the gateway must write it, for message `messageId` to `to`. */
const metaSend = (to: string, messageId: number, part: Record<string, unknown>) => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to,
  ...part,
  biz_opaque_callback_data: `wa-gateway:message:${messageId}`,
})

/** A REST message: the documented fields, then the others, all empty unless given. */
const restMessage = (fields: Record<string, unknown>) => ({
  message_id: expect.any(Number),
  conversation_id: expect.any(Number),
  content: null,
  message_type: 'text',
  direction: 'outbound',
  status: 'sent',
  wamid: expect.stringMatching(WAMID),
  created_at: expect.stringMatching(ISO),
  media: null,
  location: null,
  interactive: null,
  contacts: null,
  reply_to_message_id: null,
  // Ours were sent with the test token; a customer's message has no key.
  sent_by: (fields.direction ?? 'outbound') === 'outbound' ? tokenPrincipal(API_TOKEN).name : null,
  reactions: [],
  ...fields,
})

/** A GraphQL message (RichMessageFields), all parts empty unless given. */
const gqlMessage = (fields: Record<string, unknown>) => ({
  id: expect.any(Number),
  conversationId: expect.any(Number),
  direction: 'OUTBOUND',
  type: 'text',
  content: null,
  status: 'SENT',
  wamid: expect.stringMatching(WAMID),
  payload: null,
  replyToMessageId: null,
  replyTo: null,
  location: null,
  interactive: null,
  contacts: null,
  reactions: [],
  ...fields,
})

/** A GraphQL MessageInteractive with every field, null unless given. */
const gqlInteractive = (fields: Record<string, unknown>) => ({
  type: null,
  header: null,
  body: null,
  footer: null,
  buttons: null,
  list: null,
  id: null,
  title: null,
  description: null,
  payload: null,
  ...fields,
})

/** A conversation with `phoneNumber`, started by a plain text send; its id and that message. */
async function conversationWith(phoneNumber: string) {
  const res = await send({ phoneNumber: `+${phoneNumber}`, content: `Hola ${phoneNumber}` })
  expect(res.status).toBe(200)
  return { id: res.body.data.conversation.conversation_id as number, first: res.body.data.message }
}

/** The conversation's messages read back through REST (newest first) and its message count. */
async function restMessages(conversationId: number) {
  const res = await ctx.t.rest('GET', `/api/whatsapp/conversations/${conversationId}/messages?first=100`)
  expect(res.status).toBe(200)
  return res.body as { data: Record<string, any>[]; total_count: number }
}

async function gqlConversation(conversationId: number) {
  const { body } = await ctx.t.gql(RichConversationDocument, { id: conversationId, first: 100 })
  expect(body.errors).toBeUndefined()
  return body.data!.conversation
}

/** One message as both reads show it. */
async function readBack(conversationId: number, messageId: number) {
  const [rest, conversation] = await Promise.all([restMessages(conversationId), gqlConversation(conversationId)])
  return {
    rest: rest.data.find((m) => m.message_id === messageId),
    gql: nodes(conversation.messages).find((m) => m.id === messageId),
  }
}

/** `promise`, or a failure naming the deadline when it takes longer than `ms`. */
const within = <T>(ms: number, promise: Promise<T>) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms).unref()),
  ])

/** A signed inbound webhook, applied before this resolves. */
async function receive(from: string, message: Record<string, unknown>, at?: Date) {
  const res = await postWebhook(ctx.t, inboundMessage(from, message, at))
  expect(res.status).toBe(200)
  await ctx.t.app.webhooks.drained()
}

async function conversationIdOf(phoneNumber: string): Promise<number> {
  const res = await ctx.t.rest('GET', `/api/whatsapp/conversations?phoneNumber=${phoneNumber}`)
  expect(res.status).toBe(200)
  expect(res.body.data).toHaveLength(1)
  return res.body.data[0].conversation_id
}

describe(`sending every kind of message (${TEST_DATABASE.kind})`, () => {
  it('keeps a plain text send exactly as documented (REST and GraphQL)', async () => {
    const res = await send({ phoneNumber: '+50230000001', content: 'Su técnico llega a las 10:00', requestId: 41 })
    expect(res.status).toBe(200)
    const message = res.body.data.message
    expect(res.body).toEqual({
      success: true,
      data: {
        message: restMessage({ content: 'Su técnico llega a las 10:00' }),
        conversation: {
          conversation_id: message.conversation_id,
          phone_number: '50230000001',
          request_id: 41,
          contact_name: null,
          service_window_expires_at: null,
          wa_id: '50230000001',
          business_phone_number_id: ctx.meta.phoneNumberId,
        },
      },
    })
    expect(lastMetaBody()).toEqual(
      metaSend('50230000001', message.message_id, {
        type: 'text',
        text: { preview_url: false, body: 'Su técnico llega a las 10:00' },
      }),
    )
    expect(ctx.meta.accepted.at(-1)!.wamid).toBe(message.wamid)

    const inConversation = await post(message.conversation_id, { content: 'Segundo' })
    expect(Object.keys(inConversation.body.data).slice(0, 5)).toEqual([
      'message_id',
      'conversation_id',
      'content',
      'status',
      'wamid',
    ])
    expect(inConversation.body.data).toEqual(
      restMessage({
        message_id: inConversation.body.data.message_id,
        conversation_id: message.conversation_id,
        content: 'Segundo',
      }),
    )

    const gql = await ctx.t.gql(RichSendMessageDocument, { input: { phoneNumber: '+50230000001', content: 'Tercero' } })
    expect(gql.body.errors).toBeUndefined()
    const sent = gql.body.data!.sendMessage.message!
    expect(sent).toEqual(gqlMessage({ conversationId: message.conversation_id, content: 'Tercero' }))
    expect(lastMetaBody()).toEqual(
      metaSend('50230000001', sent.id, { type: 'text', text: { preview_url: false, body: 'Tercero' } }),
    )
  })

  it('sends a location (REST /send) and reads it back through REST and GraphQL', async () => {
    const location = {
      latitude: 14.6349,
      longitude: -90.5069,
      name: 'Oficina central',
      address: '6a Avenida 10-20, Zona 1, Guatemala',
    }
    const res = await send({ phoneNumber: '+50230000002', type: 'location', location })
    expect(res.status).toBe(200)
    const message = res.body.data.message
    expect(message).toEqual(restMessage({ message_type: 'location', content: 'Oficina central', location }))
    expect(lastMetaBody()).toEqual(metaSend('50230000002', message.message_id, { type: 'location', location }))

    const back = await readBack(message.conversation_id, message.message_id)
    expect(back.rest).toEqual(message)
    expect(back.gql).toEqual(
      gqlMessage({
        id: message.message_id,
        conversationId: message.conversation_id,
        wamid: message.wamid,
        type: 'location',
        content: 'Oficina central',
        location,
      }),
    )
  })

  it('sends a location without name or address (GraphQL sendMessage): Meta gets only the coordinates', async () => {
    const { body } = await ctx.t.gql(RichSendMessageDocument, {
      input: { phoneNumber: '+50230000003', type: 'LOCATION', location: { latitude: -33.45, longitude: 0 } },
    })
    expect(body.errors).toBeUndefined()
    const sent = body.data!.sendMessage.message!
    const location = { latitude: -33.45, longitude: 0, name: null, address: null }
    expect(sent).toEqual(gqlMessage({ type: 'location', content: '-33.45, 0', location }))
    expect(lastMetaBody()).toEqual(
      metaSend('50230000003', sent.id, { type: 'location', location: { latitude: -33.45, longitude: 0 } }),
    )
    const back = await readBack(sent.conversationId, sent.id)
    expect(back.rest).toEqual(
      restMessage({ message_id: sent.id, wamid: sent.wamid, message_type: 'location', content: '-33.45, 0', location }),
    )
    expect(back.gql).toEqual(sent)
  })

  it('sends reply buttons with header and footer (REST, in a conversation)', async () => {
    const { id } = await conversationWith('50230000004')
    const buttons = [
      { id: 'slot-tue-10', title: 'Martes 10:00' },
      { id: 'slot-wed-15', title: 'Miércoles 15:00' },
      { id: 'other', title: 'Otro horario' },
    ]
    const res = await post(id, {
      type: 'interactive',
      header: 'Su cita',
      content: '¿Qué horario le queda mejor para la visita del técnico?',
      footer: 'Servicio técnico',
      buttons,
    })
    expect(res.status).toBe(200)
    const message = res.body.data
    const interactive = {
      type: 'button',
      header: 'Su cita',
      body: '¿Qué horario le queda mejor para la visita del técnico?',
      footer: 'Servicio técnico',
      buttons,
    }
    expect(message).toEqual(
      restMessage({
        conversation_id: id,
        message_type: 'interactive',
        content: '¿Qué horario le queda mejor para la visita del técnico?',
        interactive,
      }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000004', message.message_id, {
        type: 'interactive',
        interactive: {
          type: 'button',
          header: { type: 'text', text: 'Su cita' },
          body: { text: '¿Qué horario le queda mejor para la visita del técnico?' },
          footer: { text: 'Servicio técnico' },
          action: { buttons: buttons.map((reply) => ({ type: 'reply', reply })) },
        },
      }),
    )
    const back = await readBack(id, message.message_id)
    expect(back.rest).toEqual(message)
    expect(back.gql).toEqual(
      gqlMessage({
        id: message.message_id,
        conversationId: id,
        wamid: message.wamid,
        type: 'interactive',
        content: interactive.body,
        interactive: gqlInteractive(interactive),
      }),
    )
  })

  it('sends reply buttons without header or footer (GraphQL sendMessage): Meta gets neither', async () => {
    const { body } = await ctx.t.gql(RichSendMessageDocument, {
      input: {
        phoneNumber: '+50230000005',
        type: 'INTERACTIVE',
        content: '¿Confirma la visita?',
        buttons: [
          { id: 'yes', title: 'Sí' },
          { id: 'no', title: 'No' },
        ],
      },
    })
    expect(body.errors).toBeUndefined()
    const sent = body.data!.sendMessage.message!
    expect(sent.interactive).toEqual(
      gqlInteractive({
        type: 'button',
        body: '¿Confirma la visita?',
        buttons: [
          { id: 'yes', title: 'Sí' },
          { id: 'no', title: 'No' },
        ],
      }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000005', sent.id, {
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: '¿Confirma la visita?' },
          action: {
            buttons: [
              { type: 'reply', reply: { id: 'yes', title: 'Sí' } },
              { type: 'reply', reply: { id: 'no', title: 'No' } },
            ],
          },
        },
      }),
    )
  })

  it('sends a list (GraphQL sendInConversation) and reads it back', async () => {
    const { id } = await conversationWith('50230000006')
    const list = {
      button: 'Ver servicios',
      sections: [
        {
          title: 'Reparaciones',
          rows: [
            { id: 'fridge', title: 'Refrigerador', description: 'No enfría o hace ruido' },
            { id: 'washer', title: 'Lavadora' },
          ],
        },
        { title: 'Mantenimiento', rows: [{ id: 'ac', title: 'Aire acondicionado', description: 'Limpieza anual' }] },
      ],
    }
    const { body } = await ctx.t.gql(RichSendInConversationDocument, {
      input: {
        conversationId: id,
        type: 'INTERACTIVE',
        content: 'Elija el servicio',
        footer: 'Hasta 10 opciones',
        list,
      },
    })
    expect(body.errors).toBeUndefined()
    const sent = body.data!.sendInConversation
    const storedList = {
      button: 'Ver servicios',
      sections: [
        {
          title: 'Reparaciones',
          rows: [
            { id: 'fridge', title: 'Refrigerador', description: 'No enfría o hace ruido' },
            { id: 'washer', title: 'Lavadora', description: null },
          ],
        },
        { title: 'Mantenimiento', rows: [{ id: 'ac', title: 'Aire acondicionado', description: 'Limpieza anual' }] },
      ],
    }
    expect(sent).toEqual(
      gqlMessage({
        conversationId: id,
        type: 'interactive',
        content: 'Elija el servicio',
        interactive: gqlInteractive({
          type: 'list',
          body: 'Elija el servicio',
          footer: 'Hasta 10 opciones',
          list: storedList,
        }),
      }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000006', sent.id, {
        type: 'interactive',
        interactive: {
          type: 'list',
          body: { text: 'Elija el servicio' },
          footer: { text: 'Hasta 10 opciones' },
          action: list,
        },
      }),
    )
    const back = await readBack(id, sent.id)
    expect(back.gql).toEqual(sent)
    expect(back.rest).toEqual(
      restMessage({
        message_id: sent.id,
        conversation_id: id,
        wamid: sent.wamid,
        message_type: 'interactive',
        content: 'Elija el servicio',
        interactive: {
          type: 'list',
          header: null,
          body: 'Elija el servicio',
          footer: 'Hasta 10 opciones',
          list: storedList,
        },
      }),
    )
  })

  it('quotes one of the conversation’s messages with replyTo, on any type (REST and GraphQL)', async () => {
    const { id, first } = await conversationWith('50230000007')

    const text = await post(id, { content: 'Sobre esto:', replyTo: first.message_id })
    expect(text.status).toBe(200)
    expect(text.body.data).toEqual(
      restMessage({ conversation_id: id, content: 'Sobre esto:', reply_to_message_id: first.message_id }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000007', text.body.data.message_id, {
        context: { message_id: first.wamid },
        type: 'text',
        text: { preview_url: false, body: 'Sobre esto:' },
      }),
    )

    // /send finds the number's conversation for the message quoted.
    const location = { latitude: 14.5, longitude: -90.5, name: 'Aquí', address: null }
    const byNumber = await send({
      phoneNumber: '+50230000007',
      type: 'location',
      location: { latitude: 14.5, longitude: -90.5, name: 'Aquí' },
      replyTo: text.body.data.message_id,
    })
    expect(byNumber.status).toBe(200)
    expect(byNumber.body.data.message).toEqual(
      restMessage({
        conversation_id: id,
        message_type: 'location',
        content: 'Aquí',
        location,
        reply_to_message_id: text.body.data.message_id,
      }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000007', byNumber.body.data.message.message_id, {
        context: { message_id: text.body.data.wamid },
        type: 'location',
        location: { latitude: 14.5, longitude: -90.5, name: 'Aquí' },
      }),
    )

    const { body } = await ctx.t.gql(RichSendInConversationDocument, {
      input: {
        conversationId: id,
        type: 'INTERACTIVE',
        content: '¿Es correcta la dirección?',
        buttons: [{ id: 'ok', title: 'Sí' }],
        replyTo: byNumber.body.data.message.message_id,
      },
    })
    expect(body.errors).toBeUndefined()
    const quoted = body.data!.sendInConversation
    expect(quoted.replyToMessageId).toBe(byNumber.body.data.message.message_id)
    expect(quoted.replyTo).toEqual({
      id: byNumber.body.data.message.message_id,
      wamid: byNumber.body.data.message.wamid,
    })
    expect(lastMetaBody()).toMatchObject({ context: { message_id: byNumber.body.data.message.wamid } })

    const back = await readBack(id, text.body.data.message_id)
    expect(back.rest).toEqual(text.body.data)
    expect(back.gql).toMatchObject({
      replyToMessageId: first.message_id,
      replyTo: { id: first.message_id, wamid: first.wamid },
    })
  })

  it('refuses with 422 on replyTo a message of another conversation, an unknown one, or one Meta never took', async () => {
    const mine = await conversationWith('50230000008')
    const other = await conversationWith('50230000009')
    ctx.meta.failNext(META_ERRORS.undeliverable())
    const failed = await post(mine.id, { content: 'no llegó' })
    expect(failed.status).toBe(502)
    const failedId = (await restMessages(mine.id)).data.find((m) => m.content === 'no llegó')!.message_id

    const requests = ctx.meta.requests.length
    const messages = await ctx.t.app.database.prisma.message.count()
    const cases: [string, () => ReturnType<typeof post>, string][] = [
      [
        'another conversation',
        () => post(mine.id, { content: 'x', replyTo: other.first.message_id }),
        'is not in this conversation',
      ],
      ['unknown', () => post(mine.id, { content: 'x', replyTo: 99_999_999 }), 'is not in this conversation'],
      [
        'another conversation, by number',
        () => send({ phoneNumber: '+50230000008', type: 'reaction', emoji: '👍', replyTo: other.first.message_id }),
        'is not in this conversation',
      ],
      [
        'a number with no conversation',
        () => send({ phoneNumber: '+50230000010', content: 'x', replyTo: mine.first.message_id }),
        'is not in this conversation',
      ],
      ['never accepted by Meta', () => post(mine.id, { content: 'x', replyTo: failedId }), 'never accepted by Meta'],
    ]
    for (const [name, call, message] of cases) {
      const res = await call()
      expect(res.status, name).toBe(422)
      expect(res.body.error.code, name).toBe('VALIDATION_FAILED')
      expect(res.body.error.fields, name).toEqual([{ path: 'replyTo', message: expect.stringContaining(message) }])
    }
    const gql = await ctx.t.gql(RichSendInConversationDocument, {
      input: { conversationId: mine.id, content: 'x', replyTo: other.first.message_id },
    })
    expect(gql.body.errors![0].extensions).toEqual({
      code: 'VALIDATION_FAILED',
      fields: [{ path: 'replyTo', message: expect.stringContaining('is not in this conversation') }],
    })
    expect(ctx.meta.requests.length).toBe(requests)
    expect(await ctx.t.app.database.prisma.message.count()).toBe(messages)
  })

  it('reacts to a customer’s message, shows the reaction on it (not as a message), and removes it', async () => {
    const { id } = await conversationWith('50230000011')
    await receive('50230000011', { id: 'wamid.REACT_TARGET', type: 'text', text: { body: 'Gracias por venir' } })
    const target = (await restMessages(id)).data.find((m) => m.wamid === 'wamid.REACT_TARGET')!
    const before = await restMessages(id)
    expect(before.total_count).toBe(2)

    const res = await post(id, { type: 'reaction', replyTo: target.message_id, emoji: '👍' })
    expect(res.status).toBe(200)
    const reaction = res.body.data
    expect(reaction).toEqual(
      restMessage({
        conversation_id: id,
        message_type: 'reaction',
        content: '👍',
        reply_to_message_id: target.message_id,
      }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000011', reaction.message_id, {
        type: 'reaction',
        reaction: { message_id: 'wamid.REACT_TARGET', emoji: '👍' },
      }),
    )

    const after = await restMessages(id)
    expect(after.total_count).toBe(2)
    expect(after.data.map((m) => m.message_type)).toEqual(['text', 'text'])
    // Nor the conversation's last message: that is still the customer's text.
    const row = await ctx.t.app.database.prisma.conversation.findFirstOrThrow({ where: { id } })
    expect(row.lastMessageId).toBe(target.message_id)
    // A reaction is nothing to quote or react to.
    const onReaction = await post(id, { type: 'reaction', replyTo: reaction.message_id, emoji: '😀' })
    expect(onReaction.status).toBe(422)
    expect(onReaction.body.error.fields).toEqual([{ path: 'replyTo', message: expect.stringContaining('a reaction') }])
    expect(after.data.find((m) => m.message_id === target.message_id)!.reactions).toEqual([
      { emoji: '👍', by: 'business', reacted_at: reaction.created_at },
    ])
    const conversation = await gqlConversation(id)
    expect(conversation.messageCount).toBe(2)
    expect(conversation.messages.totalCount).toBe(2)
    expect(nodes(conversation.messages).map((m) => m.type)).toEqual(['text', 'text'])
    expect(nodes(conversation.messages).find((m) => m.id === target.message_id)!.reactions).toEqual([
      { emoji: '👍', by: 'BUSINESS', reactedAt: reaction.created_at },
    ])

    // A new emoji replaces ours (GraphQL), "" removes it.
    const { body } = await ctx.t.gql(RichSendInConversationDocument, {
      input: { conversationId: id, type: 'REACTION', replyTo: target.message_id, emoji: '🙏🏽' },
    })
    expect(body.errors).toBeUndefined()
    expect(body.data!.sendInConversation).toMatchObject({ type: 'reaction', content: '🙏🏽' })
    expect(lastMetaBody()).toMatchObject({
      type: 'reaction',
      reaction: { message_id: 'wamid.REACT_TARGET', emoji: '🙏🏽' },
    })
    expect((await readBack(id, target.message_id)).gql!.reactions).toEqual([
      { emoji: '🙏🏽', by: 'BUSINESS', reactedAt: expect.stringMatching(ISO) },
    ])

    const removal = await post(id, { type: 'reaction', replyTo: target.message_id, emoji: '' })
    expect(removal.status).toBe(200)
    expect(removal.body.data).toMatchObject({ message_type: 'reaction', content: null })
    expect(lastMetaBody()).toEqual(
      metaSend('50230000011', removal.body.data.message_id, {
        type: 'reaction',
        reaction: { message_id: 'wamid.REACT_TARGET', emoji: '' },
      }),
    )
    const gone = await readBack(id, target.message_id)
    expect(gone.rest!.reactions).toEqual([])
    expect(gone.gql!.reactions).toEqual([])
    expect((await restMessages(id)).total_count).toBe(2)
  })

  it('tells dashboards of our reaction as a change of the message, not as a new message', async () => {
    const { id } = await conversationWith('50230000013')
    await receive('50230000013', { id: 'wamid.REACT_LIVE', type: 'text', text: { body: 'Listo' } })
    const target = (await restMessages(id)).data.find((m) => m.wamid === 'wamid.REACT_LIVE')!
    const added = ctx.t.subscribe(RichMessageAddedDocument, { conversationId: id })
    const updated = ctx.t.subscribe(RichMessageUpdatedDocument, { conversationId: id })
    await Promise.all([added.ready(), updated.ready()])
    expect((await post(id, { type: 'reaction', replyTo: target.message_id, emoji: '👌' })).status).toBe(200)
    const { data } = await within(5000, updated.next())
    expect(data!.messageUpdated).toEqual({ id: target.message_id, reactions: [{ emoji: '👌', by: 'BUSINESS' }] })
    // The next messageAdded is the text sent after the reaction, not the reaction.
    const text = await post(id, { content: 'Gracias' })
    const next = await within(5000, added.next())
    expect(next.data!.messageAdded.id).toBe(text.body.data.message_id)
    await Promise.all([added.close(), updated.close()])
  })

  it('reacts through /send and GraphQL sendMessage to the number’s conversation', async () => {
    const { id, first } = await conversationWith('50230000012')
    const res = await send({ phoneNumber: '+50230000012', type: 'reaction', replyTo: first.message_id, emoji: '🇬🇹' })
    expect(res.status).toBe(200)
    expect(res.body.data.message).toEqual(
      restMessage({
        conversation_id: id,
        message_type: 'reaction',
        content: '🇬🇹',
        reply_to_message_id: first.message_id,
      }),
    )
    expect(lastMetaBody()).toEqual(
      metaSend('50230000012', res.body.data.message.message_id, {
        type: 'reaction',
        reaction: { message_id: first.wamid, emoji: '🇬🇹' },
      }),
    )
    const { body } = await ctx.t.gql(RichSendMessageDocument, {
      input: { phoneNumber: '+50230000012', type: 'REACTION', replyTo: first.message_id, emoji: '❤️' },
    })
    expect(body.errors).toBeUndefined()
    expect(body.data!.sendMessage.message).toMatchObject({ type: 'reaction', replyToMessageId: first.message_id })
    const back = await readBack(id, first.message_id)
    expect(back.rest!.reactions).toEqual([{ emoji: '❤️', by: 'business', reacted_at: expect.stringMatching(ISO) }])
    expect((await restMessages(id)).total_count).toBe(1)
  })
})

describe(`Meta’s limits, refused before anything is sent (${TEST_DATABASE.kind})`, () => {
  let conversationId: number
  let targetId: number

  beforeAll(async () => {
    const started = await conversationWith('50231000001')
    conversationId = started.id
    targetId = started.first.message_id
  })

  const titles = (n: number, prefix = 'Opción') => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`)
  const interactive = (extra: Record<string, unknown>) => ({ type: 'interactive', content: 'Elija', ...extra })
  const rows = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({ id: `row-${from + i}`, title: `Fila ${from + i}` }))

  // [what, request body (REST), the fields named]
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['4 buttons', interactive({ buttons: titles(4).map((title, i) => ({ id: `b${i}`, title })) }), ['buttons']],
    [
      'a button title of 21 characters',
      interactive({ buttons: [{ id: 'b', title: 'x'.repeat(21) }] }),
      ['buttons[0].title'],
    ],
    [
      'duplicate button ids',
      interactive({
        buttons: [
          { id: 'same', title: 'Uno' },
          { id: 'same', title: 'Dos' },
        ],
      }),
      ['buttons'],
    ],
    [
      '11 rows in all',
      interactive({
        list: {
          button: 'Ver',
          sections: [
            { title: 'A', rows: rows(6) },
            { title: 'B', rows: rows(5, 6) },
          ],
        },
      }),
      ['list.sections'],
    ],
    [
      'a row title of 25 characters',
      interactive({ list: { button: 'Ver', sections: [{ rows: [{ id: 'r', title: 'x'.repeat(25) }] }] } }),
      ['list.sections[0].rows[0].title'],
    ],
    [
      'a row description of 73 characters',
      interactive({
        list: { button: 'Ver', sections: [{ rows: [{ id: 'r', title: 'r', description: 'd'.repeat(73) }] }] },
      }),
      ['list.sections[0].rows[0].description'],
    ],
    [
      'several sections, one without a title',
      interactive({ list: { button: 'Ver', sections: [{ title: 'A', rows: rows(1) }, { rows: rows(1, 1) }] } }),
      ['list.sections[1].title'],
    ],
    [
      'a list button of 21 characters',
      interactive({ list: { button: 'b'.repeat(21), sections: [{ rows: rows(1) }] } }),
      ['list.button'],
    ],
    [
      'a header of 61 characters',
      interactive({ header: 'h'.repeat(61), buttons: [{ id: 'b', title: 'B' }] }),
      ['header'],
    ],
    [
      'an interactive body of 1,025 characters',
      interactive({ content: 'x'.repeat(1025), buttons: [{ id: 'b', title: 'B' }] }),
      ['content'],
    ],
    ['an interactive message without buttons or list', interactive({}), ['buttons']],
    [
      'both buttons and list',
      interactive({ buttons: [{ id: 'b', title: 'B' }], list: { button: 'Ver', sections: [{ rows: rows(1) }] } }),
      ['buttons'],
    ],
    ['a text of 4,097 characters', { content: 'x'.repeat(4097) }, ['content']],
    [
      'a caption of 1,025 characters',
      { type: 'image', link: 'https://example.com/a.jpg', caption: 'c'.repeat(1025) },
      ['caption'],
    ],
    [
      'a caption on an audio message',
      { type: 'audio', link: 'https://example.com/a.ogg', caption: 'escuche' },
      ['caption'],
    ],
    ['an http: link', { type: 'image', link: 'http://example.com/a.jpg' }, ['link']],
    ['latitude 91', { type: 'location', location: { latitude: 91, longitude: 0 } }, ['location.latitude']],
    ['longitude -180.5', { type: 'location', location: { latitude: 0, longitude: -180.5 } }, ['location.longitude']],
    [
      'a location without coordinates',
      { type: 'location', location: { name: 'Casa' } },
      ['location.latitude', 'location.longitude'],
    ],
    ['a location field on a text', { content: 'hola', location: { latitude: 1, longitude: 1 } }, ['location']],
    ['a reaction without replyTo', { type: 'reaction', emoji: '👍' }, ['replyTo']],
    ['a reaction without emoji', { type: 'reaction', replyTo: 1 }, ['emoji']],
    ['emoji "ab"', { type: 'reaction', replyTo: 1, emoji: 'ab' }, ['emoji']],
    ['two emoji', { type: 'reaction', replyTo: 1, emoji: '👍👍' }, ['emoji']],
    ['an unknown type', { type: 'poll', content: '¿Sí o no?' }, ['type']],
  ]

  it.each(cases)('REST refuses %s with 422 naming the field; nothing is sent or stored', async (_, body, paths) => {
    const requests = ctx.meta.requests.length
    const messages = await ctx.t.app.database.prisma.message.count()
    const inConversation = await post(conversationId, body)
    expect(inConversation.status).toBe(422)
    expect(inConversation.body).toEqual({
      success: false,
      error: {
        code: 'VALIDATION_FAILED',
        message: expect.any(String),
        fields: paths.map((path) => ({ path, message: expect.any(String) })),
      },
    })
    const byNumber = await send({ phoneNumber: '+50231000001', ...body })
    expect(byNumber.status).toBe(422)
    expect(byNumber.body.error.fields.map((f: { path: string }) => f.path)).toEqual(paths)
    expect(ctx.meta.requests.length).toBe(requests)
    expect(await ctx.t.app.database.prisma.message.count()).toBe(messages)
  })

  /** The REST body as a GraphQL input: the type is an enum value there. */
  const asGraphQL = (body: Record<string, unknown>): SendInConversationInput =>
    ({
      conversationId,
      ...body,
      ...(body.type ? { type: String(body.type).toUpperCase() } : {}),
    }) as SendInConversationInput

  it.each(cases.filter(([what]) => what !== 'an unknown type' && what !== 'a location without coordinates'))(
    'GraphQL refuses %s with VALIDATION_FAILED and the same fields',
    async (_, body, paths) => {
      const requests = ctx.meta.requests.length
      const { status, body: answer } = await ctx.t.gql(RichSendInConversationDocument, { input: asGraphQL(body) })
      expect(status).toBe(200)
      expect(answer.data).toBeNull()
      expect(answer.errors).toHaveLength(1)
      expect(answer.errors![0].extensions!.code).toBe('VALIDATION_FAILED')
      expect(answer.errors![0].extensions!.fields.map((f: { path: string }) => f.path)).toEqual(paths)
      expect(ctx.meta.requests.length).toBe(requests)
    },
  )

  it('GraphQL refuses an unknown type or a location without coordinates before running the mutation', async () => {
    const requests = ctx.meta.requests.length
    for (const input of [
      { conversationId, type: 'POLL', content: 'x' },
      { conversationId, type: 'LOCATION', location: { name: 'Casa' } },
    ]) {
      const { status, body } = await ctx.t.gql(RichSendInConversationDocument, { input: input as never })
      expect(status, JSON.stringify(input)).toBe(400)
      expect(body.errors![0].extensions!.code).toBe('BAD_USER_INPUT')
    }
    expect(ctx.meta.requests.length).toBe(requests)
  })

  it('takes the limits themselves: 3 buttons of 20 characters, 10 rows of 24, a body of 1,024, a text of 4,096', async () => {
    const ok = [
      interactive({
        content: 'x'.repeat(1024),
        buttons: titles(3, 'x'.repeat(17)).map((title, i) => ({ id: `b${i}`, title })),
      }),
      interactive({
        header: 'h'.repeat(60),
        footer: 'f'.repeat(60),
        list: {
          button: 'b'.repeat(20),
          sections: [
            { title: 't'.repeat(24), rows: rows(5).map((r) => ({ ...r, title: `${r.title}`.padEnd(24, '.') })) },
            { title: 'Otra', rows: rows(5, 5).map((r) => ({ ...r, description: 'd'.repeat(72) })) },
          ],
        },
      }),
      { content: 'x'.repeat(4096) },
      { type: 'image', link: 'https://example.com/a.jpg', caption: 'c'.repeat(1024) },
      { type: 'location', location: { latitude: -90, longitude: 180 } },
      { type: 'reaction', replyTo: targetId, emoji: '👨‍👩‍👧‍👦' },
      { type: 'reaction', replyTo: targetId, emoji: '1️⃣' },
    ]
    for (const body of ok) {
      const res = await post(conversationId, body)
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(200)
      expect(ctx.meta.accepted.at(-1)!.wamid).toBe(res.body.data.wamid)
    }
  })
})

describe(`receiving every kind of message (${TEST_DATABASE.kind})`, () => {
  const CUSTOMER = '50232000001'
  let conversationId: number
  let buttons: Record<string, any>
  let list: Record<string, any>
  let text: Record<string, any>

  beforeAll(async () => {
    const started = await conversationWith(CUSTOMER)
    conversationId = started.id
    text = started.first
    buttons = (
      await post(conversationId, {
        type: 'interactive',
        content: '¿Qué horario prefiere?',
        buttons: [
          { id: 'slot-1', title: 'Martes 10:00' },
          { id: 'slot-2', title: 'Jueves 15:00' },
        ],
      })
    ).body.data
    list = (
      await post(conversationId, {
        type: 'interactive',
        content: 'Elija el servicio',
        list: {
          button: 'Servicios',
          sections: [{ rows: [{ id: 'fridge', title: 'Refrigerador', description: 'No enfría' }] }],
        },
      })
    ).body.data
    expect([buttons.wamid, list.wamid]).toEqual([expect.stringMatching(WAMID), expect.stringMatching(WAMID)])
  })

  const context = (wamid: string) => ({ from: BUSINESS_NUMBER, id: wamid })

  /** The inbound message with this wamid, as REST and GraphQL read it back. */
  async function stored(wamid: string) {
    const [rest, conversation] = await Promise.all([restMessages(conversationId), gqlConversation(conversationId)])
    return {
      rest: rest.data.find((m) => m.wamid === wamid)!,
      gql: nodes(conversation.messages).find((m) => m.wamid === wamid)!,
    }
  }

  const inboundRest = (fields: Record<string, unknown>) =>
    restMessage({ conversation_id: conversationId, direction: 'inbound', status: 'delivered', ...fields })
  const inboundGql = (fields: Record<string, unknown>) =>
    gqlMessage({ conversationId, direction: 'INBOUND', status: 'DELIVERED', payload: expect.any(Object), ...fields })

  it('stores a location with its coordinates, name and address', async () => {
    const location = { latitude: 14.5987, longitude: -90.5133, name: 'Casa de Ana', address: '12 Calle 1-25, Zona 10' }
    await receive(CUSTOMER, { id: 'wamid.IN_LOCATION', type: 'location', location })
    const { rest, gql } = await stored('wamid.IN_LOCATION')
    expect(rest).toEqual(
      inboundRest({ wamid: 'wamid.IN_LOCATION', message_type: 'location', content: 'Casa de Ana', location }),
    )
    expect(gql).toEqual(inboundGql({ wamid: 'wamid.IN_LOCATION', type: 'location', content: 'Casa de Ana', location }))
    expect(gql.payload).toEqual({
      from: CUSTOMER,
      id: 'wamid.IN_LOCATION',
      timestamp: expect.any(String),
      type: 'location',
      location,
    })

    // A pin without a name: the coordinates are its text.
    await receive(CUSTOMER, { id: 'wamid.IN_PIN', type: 'location', location: { latitude: 14.6, longitude: -90.52 } })
    expect((await stored('wamid.IN_PIN')).rest).toMatchObject({
      content: '14.6, -90.52',
      location: { latitude: 14.6, longitude: -90.52, name: null, address: null },
    })
  })

  it('stores shared contacts: their names as the content, the cards as Meta sent them', async () => {
    const contacts = [
      {
        name: { formatted_name: 'Juan Pérez', first_name: 'Juan', last_name: 'Pérez' },
        phones: [{ phone: '+502 5555 0101', type: 'CELL', wa_id: '50255550101' }],
      },
      {
        name: { first_name: 'María', formatted_name: 'María Gómez' },
        emails: [{ email: 'maria@example.com', type: 'WORK' }],
      },
    ]
    await receive(CUSTOMER, { id: 'wamid.IN_CONTACTS', type: 'contacts', contacts })
    const { rest, gql } = await stored('wamid.IN_CONTACTS')
    expect(rest).toEqual(
      inboundRest({
        wamid: 'wamid.IN_CONTACTS',
        message_type: 'contacts',
        content: 'Juan Pérez, María Gómez',
        contacts,
      }),
    )
    expect(gql).toEqual(
      inboundGql({ wamid: 'wamid.IN_CONTACTS', type: 'contacts', content: 'Juan Pérez, María Gómez', contacts }),
    )
  })

  it('links a button reply to our buttons message through context.id', async () => {
    await receive(CUSTOMER, {
      id: 'wamid.IN_BUTTON_REPLY',
      type: 'interactive',
      context: context(buttons.wamid),
      interactive: { type: 'button_reply', button_reply: { id: 'slot-2', title: 'Jueves 15:00' } },
    })
    const reply = { type: 'button_reply', id: 'slot-2', title: 'Jueves 15:00', description: null, payload: null }
    const { rest, gql } = await stored('wamid.IN_BUTTON_REPLY')
    expect(rest).toEqual(
      inboundRest({
        wamid: 'wamid.IN_BUTTON_REPLY',
        message_type: 'interactive',
        content: 'Jueves 15:00',
        interactive: reply,
        reply_to_message_id: buttons.message_id,
      }),
    )
    expect(gql).toEqual(
      inboundGql({
        wamid: 'wamid.IN_BUTTON_REPLY',
        type: 'interactive',
        content: 'Jueves 15:00',
        interactive: gqlInteractive(reply),
        replyToMessageId: buttons.message_id,
        replyTo: { id: buttons.message_id, wamid: buttons.wamid },
      }),
    )
  })

  it('links a list reply to our list through context.id', async () => {
    await receive(CUSTOMER, {
      id: 'wamid.IN_LIST_REPLY',
      type: 'interactive',
      context: context(list.wamid),
      interactive: {
        type: 'list_reply',
        list_reply: { id: 'fridge', title: 'Refrigerador', description: 'No enfría' },
      },
    })
    const reply = { type: 'list_reply', id: 'fridge', title: 'Refrigerador', description: 'No enfría', payload: null }
    const { rest, gql } = await stored('wamid.IN_LIST_REPLY')
    expect(rest).toEqual(
      inboundRest({
        wamid: 'wamid.IN_LIST_REPLY',
        message_type: 'interactive',
        content: 'Refrigerador',
        interactive: reply,
        reply_to_message_id: list.message_id,
      }),
    )
    expect(gql).toMatchObject({
      interactive: gqlInteractive(reply),
      replyToMessageId: list.message_id,
      replyTo: { id: list.message_id, wamid: list.wamid },
    })
  })

  it('stores a template quick-reply tap with its payload, linked to the message it answers', async () => {
    await receive(CUSTOMER, {
      id: 'wamid.IN_QUICK_REPLY',
      type: 'button',
      context: context(text.wamid),
      button: { text: 'Confirmar', payload: 'CONFIRM_SR-1042' },
    })
    const reply = { type: 'button', id: null, title: 'Confirmar', description: null, payload: 'CONFIRM_SR-1042' }
    const { rest, gql } = await stored('wamid.IN_QUICK_REPLY')
    expect(rest).toEqual(
      inboundRest({
        wamid: 'wamid.IN_QUICK_REPLY',
        message_type: 'button',
        content: 'Confirmar',
        interactive: reply,
        reply_to_message_id: text.message_id,
      }),
    )
    expect(gql).toMatchObject({
      type: 'button',
      interactive: gqlInteractive(reply),
      replyTo: { id: text.message_id, wamid: text.wamid },
    })
  })

  it('links a text quoting one of our messages; a quote of a message we do not know stays unlinked', async () => {
    await receive(CUSTOMER, {
      id: 'wamid.IN_QUOTE',
      type: 'text',
      text: { body: '¿A qué hora exactamente?' },
      context: context(buttons.wamid),
    })
    await receive(CUSTOMER, {
      id: 'wamid.IN_QUOTE_UNKNOWN',
      type: 'text',
      text: { body: 'Y esto' },
      context: context('wamid.NOT_OURS'),
    })
    const quote = await stored('wamid.IN_QUOTE')
    expect(quote.rest).toEqual(
      inboundRest({
        wamid: 'wamid.IN_QUOTE',
        content: '¿A qué hora exactamente?',
        reply_to_message_id: buttons.message_id,
      }),
    )
    expect(quote.gql.replyTo).toEqual({ id: buttons.message_id, wamid: buttons.wamid })
    const unknown = await stored('wamid.IN_QUOTE_UNKNOWN')
    expect(unknown.rest).toMatchObject({ content: 'Y esto', reply_to_message_id: null })
    expect(unknown.gql.replyTo).toBeNull()
  })

  it('keeps unsupported, system and unknown future types with Meta’s payload and a visible content', async () => {
    const unsupported = {
      id: 'wamid.IN_UNSUPPORTED',
      type: 'unsupported',
      unsupported: { type: 'edit' },
      errors: [
        {
          code: 131051,
          title: 'Message type unknown',
          message: 'Message type unknown',
          error_data: { details: 'Message type is currently not supported.' },
        },
      ],
    }
    const system = {
      id: 'wamid.IN_SYSTEM',
      type: 'system',
      system: {
        body: 'Ana López changed their phone number to a new number 50232000009',
        wa_id: '50232000009',
        type: 'user_changed_number',
      },
    }
    const order = {
      id: 'wamid.IN_ORDER',
      type: 'order',
      order: {
        catalog_id: '5521849641282101',
        product_items: [{ product_retailer_id: 'filtro-agua', quantity: 2, item_price: 150, currency: 'GTQ' }],
        text: 'Dos filtros',
      },
    }
    const poll = { id: 'wamid.IN_POLL', type: 'poll' }
    const at = new Date('2026-03-02T15:00:00Z')
    for (const message of [unsupported, system, order, poll]) await receive(CUSTOMER, message, at)

    const expected: [Record<string, unknown>, string][] = [
      [unsupported, '[unsupported message: Message type unknown]'],
      [system, 'Ana López changed their phone number to a new number 50232000009'],
      [order, '[order message]'],
      [poll, '[poll message]'],
    ]
    for (const [message, content] of expected) {
      const { rest, gql } = await stored(message.id as string)
      expect(rest, content).toEqual(inboundRest({ wamid: message.id, message_type: message.type, content }))
      expect(gql.payload, content).toEqual({ from: CUSTOMER, timestamp: String(at.getTime() / 1000), ...message })
      expect(gql.type).toBe(message.type)
    }
  })

  describe('customer reactions', () => {
    const reactTo = (wamid: string, emoji: string | null, at: Date, id: string) =>
      receive(
        CUSTOMER,
        { id, type: 'reaction', reaction: { message_id: wamid, ...(emoji === null ? {} : { emoji }) } },
        at,
      )
    const reactionsOn = async (messageId: number) => {
      const [rest, gql] = await Promise.all([restMessages(conversationId), gqlConversation(conversationId)])
      return {
        rest: rest.data.find((m) => m.message_id === messageId)!.reactions,
        gql: nodes(gql.messages).find((m) => m.id === messageId)!.reactions,
        count: rest.total_count,
        gqlCount: gql.messageCount,
      }
    }

    it('attach to our message, replace, remove, and an older one never comes back', async () => {
      const before = await reactionsOn(buttons.message_id)
      expect(before.rest).toEqual([])
      const t0 = new Date('2026-03-02T16:00:00Z')
      const later = (s: number) => new Date(t0.getTime() + s * 1000)

      await reactTo(buttons.wamid, '❤️', t0, 'wamid.R1')
      let now = await reactionsOn(buttons.message_id)
      expect(now.rest).toEqual([{ emoji: '❤️', by: 'customer', reacted_at: t0.toISOString() }])
      expect(now.gql).toEqual([{ emoji: '❤️', by: 'CUSTOMER', reactedAt: t0.toISOString() }])
      // Not a message of its own.
      expect([now.count, now.gqlCount]).toEqual([before.count, before.count])
      expect(await ctx.t.app.database.prisma.message.count({ where: { wamid: 'wamid.R1' } })).toBe(0)

      await reactTo(buttons.wamid, '😮', later(10), 'wamid.R2')
      now = await reactionsOn(buttons.message_id)
      expect(now.rest).toEqual([{ emoji: '😮', by: 'customer', reacted_at: later(10).toISOString() }])

      // Out of order: an older reaction after a newer one changes nothing.
      await reactTo(buttons.wamid, '😢', later(5), 'wamid.R_OLD')
      expect((await reactionsOn(buttons.message_id)).rest).toEqual([
        { emoji: '😮', by: 'customer', reacted_at: later(10).toISOString() },
      ])

      // A reaction without emoji removes it; an older one arriving afterwards does not bring one back.
      await reactTo(buttons.wamid, null, later(20), 'wamid.R_REMOVE')
      expect((await reactionsOn(buttons.message_id)).rest).toEqual([])
      await reactTo(buttons.wamid, '👍', later(15), 'wamid.R_OLDER')
      now = await reactionsOn(buttons.message_id)
      expect(now.rest).toEqual([])
      expect(now.gql).toEqual([])
      expect([now.count, now.gqlCount]).toEqual([before.count, before.count])
    })

    it('show next to ours, each side once', async () => {
      const at = new Date('2026-03-02T17:00:00Z')
      await reactTo(list.wamid, '🙏', at, 'wamid.R_LIST')
      const ours = await post(conversationId, { type: 'reaction', replyTo: list.message_id, emoji: '👍' })
      expect(ours.status).toBe(200)
      const now = await reactionsOn(list.message_id)
      expect(now.rest).toEqual([
        { emoji: '🙏', by: 'customer', reacted_at: at.toISOString() },
        { emoji: '👍', by: 'business', reacted_at: ours.body.data.created_at },
      ])
      expect(now.gql).toEqual([
        { emoji: '🙏', by: 'CUSTOMER', reactedAt: at.toISOString() },
        { emoji: '👍', by: 'BUSINESS', reactedAt: ours.body.data.created_at },
      ])
    })

    it('publish messageUpdated for the message reacted to', async () => {
      const sub = ctx.t.subscribe(RichMessageUpdatedDocument, { conversationId })
      await sub.ready()
      await reactTo(text.wamid, '🎉', new Date(), 'wamid.R_LIVE')
      const { data, errors } = await within(5000, sub.next())
      expect(errors).toBeUndefined()
      expect(data!.messageUpdated).toEqual({ id: text.message_id, reactions: [{ emoji: '🎉', by: 'CUSTOMER' }] })
      await sub.close()
    })
  })
})

describe(`read receipts and unread counts (${TEST_DATABASE.kind})`, () => {
  const CUSTOMER = '50233000001'

  const unreadOf = async (conversationId: number) => {
    const rest = await ctx.t.rest('GET', `/api/whatsapp/conversations?phoneNumber=${CUSTOMER}`)
    const one = await gqlConversation(conversationId)
    const list = await ctx.t.gql(RichConversationsDocument, { first: 100 })
    const inList = nodes(list.body.data!.conversations).find((c) => c.id === conversationId)!
    return [rest.body.data[0].unread_count, one.unreadCount, inList.unreadCount]
  }

  it('counts unread inbound messages, marks them read at Meta (with typing), and counts new ones', async () => {
    const at = Date.now() - 60_000
    for (const [i, body] of ['Hola', '¿Vienen hoy?', '¿A qué hora?'].entries()) {
      await receive(CUSTOMER, { id: `wamid.UNREAD${i}`, type: 'text', text: { body } }, new Date(at + i * 1000))
    }
    const conversationId = await conversationIdOf(CUSTOMER)
    // Our reply is not unread, nor is a customer's reaction.
    const reply = await post(conversationId, { content: 'Sí, a las 10:00' })
    await receive(CUSTOMER, {
      id: 'wamid.UNREAD_REACTION',
      type: 'reaction',
      reaction: { message_id: reply.body.data.wamid, emoji: '👍' },
    })
    expect(await unreadOf(conversationId)).toEqual([3, 3, 3])
    const latest = (await restMessages(conversationId)).data.find((m) => m.wamid === 'wamid.UNREAD2')!

    const res = await read(conversationId, {})
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      success: true,
      data: {
        conversation_id: conversationId,
        last_read_message_id: latest.message_id,
        read_at: expect.stringMatching(ISO),
        unread_count: 0,
      },
    })
    expect(lastMetaBody()).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.UNREAD2' })
    expect(ctx.meta.readReceipts.at(-1)).toMatchObject({ messageId: 'wamid.UNREAD2', typing: false })
    expect(await unreadOf(conversationId)).toEqual([0, 0, 0])
    const listed = await ctx.t.rest('GET', `/api/whatsapp/conversations?phoneNumber=${CUSTOMER}`)
    expect(listed.body.data[0].last_read_at).toBe(res.body.data.read_at)

    await receive(CUSTOMER, { id: 'wamid.UNREAD3', type: 'text', text: { body: 'Gracias' } })
    expect(await unreadOf(conversationId)).toEqual([1, 1, 1])

    const typing = await read(conversationId, { typing: true })
    expect(typing.status).toBe(200)
    expect(typing.body.data).toMatchObject({ unread_count: 0 })
    expect(lastMetaBody()).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.UNREAD3',
      typing_indicator: { type: 'text' },
    })
    expect(ctx.meta.readReceipts.at(-1)).toMatchObject({ messageId: 'wamid.UNREAD3', typing: true })
  })

  it('markConversationRead does the same through GraphQL', async () => {
    const conversationId = await conversationIdOf(CUSTOMER)
    await receive(CUSTOMER, { id: 'wamid.UNREAD_GQL1', type: 'location', location: { latitude: 1, longitude: 2 } })
    await receive(CUSTOMER, { id: 'wamid.UNREAD_GQL2', type: 'text', text: { body: 'Aquí estoy' } })
    expect(await unreadOf(conversationId)).toEqual([2, 2, 2])

    const receipts = ctx.meta.readReceipts.length
    const { body } = await ctx.t.gql(RichMarkConversationReadDocument, { conversationId, typing: true })
    expect(body.errors).toBeUndefined()
    expect(body.data!.markConversationRead).toEqual({ id: conversationId, unreadCount: 0 })
    expect(ctx.meta.readReceipts.length).toBe(receipts + 1)
    expect(lastMetaBody()).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.UNREAD_GQL2',
      typing_indicator: { type: 'text' },
    })

    await receive(CUSTOMER, { id: 'wamid.UNREAD_GQL3', type: 'text', text: { body: 'otra' } })
    const plain = await ctx.t.gql(RichMarkConversationReadDocument, { conversationId })
    expect(plain.body.data!.markConversationRead.unreadCount).toBe(0)
    expect(lastMetaBody()).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.UNREAD_GQL3' })
  })

  it('answers 200 without calling Meta when the customer never wrote; 404 for an unknown conversation', async () => {
    const { id } = await conversationWith('50233000002')
    const requests = ctx.meta.requests.length
    const res = await read(id)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      success: true,
      data: { conversation_id: id, last_read_message_id: null, read_at: null, unread_count: 0 },
    })
    const gql = await ctx.t.gql(RichMarkConversationReadDocument, { conversationId: id })
    expect(gql.body.data!.markConversationRead).toEqual({ id, unreadCount: 0 })
    expect(ctx.meta.requests.length).toBe(requests)

    const missing = await read(99_999_999)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({
      success: false,
      error: { code: 'NOT_FOUND', message: expect.stringContaining('99999999') },
    })
    const gqlMissing = await ctx.t.gql(RichMarkConversationReadDocument, { conversationId: 99_999_999 })
    expect(gqlMissing.body.errors![0].extensions!.code).toBe('NOT_FOUND')
    const bad = await read(id, { typing: 'yes' })
    expect(bad.status).toBe(422)
    expect(bad.body.error.fields).toEqual([{ path: 'typing', message: 'must be true or false' }])
    expect(ctx.meta.requests.length).toBe(requests)
  })
})

it('never sent Meta a request it refuses as malformed', () => {
  expect(ctx.meta.requests.length).toBeGreaterThan(30)
  expect(ctx.meta.malformed).toEqual([])
})
