import { describe, expect, it } from 'vitest'
import { ConversationDocument, ConversationsDocument } from './graphql/generated.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { nodes } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'sr_update', language: 'es' })] },
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' },
})

const applied = () => ctx.t.app.webhooks.drained()
const prisma = () => ctx.t.app.database.prisma
const send = (phoneNumber: string, content: string) =>
  ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber, content })
const conversationIdsFor = async (phoneNumber: string) => {
  const res = await ctx.t.rest('GET', `/api/whatsapp/conversations?phoneNumber=${encodeURIComponent(phoneNumber)}`)
  expect(res.status).toBe(200)
  return (res.body.data as { conversation_id: number }[]).map((c) => c.conversation_id)
}
const usernameOnly = (userId: string, wamid: string, text: string) => {
  const payload = inboundText({ from: 'x', wamid, text }) as any
  const value = payload.entry[0].changes[0].value
  delete value.messages[0].from
  value.messages[0].from_user_id = userId
  value.contacts = [{ profile: { name: 'Cliente' }, user_id: userId }]
  return payload
}

describe("the customer's identity is the WhatsApp id Meta answers with", () => {
  // Mexico: typed as +52 55 …, Meta's WhatsApp id carries the old mobile prefix 521.
  const typed = '525512340001'
  const waId = '5215512340001'

  it('keeps one conversation for the number sent to and the WhatsApp id Meta named, both ways', async () => {
    ctx.meta.identify(typed, waId, 'MX.77001')
    const first = await send('+52 55 1234 0001', 'Su técnico llega mañana')
    expect(first.status).toBe(200)
    const id = first.body.data.conversation.conversation_id as number

    // The conversation now knows the customer by Meta's WhatsApp id and user id.
    const row = await prisma().conversation.findFirstOrThrow({ where: { id } })
    expect(row).toMatchObject({ phoneNumber: typed, waId, waUserId: 'MX.77001' })

    // The customer answers from the WhatsApp id: the reply lands in the conversation of the send.
    await postWebhook(ctx.t, inboundText({ from: waId, wamid: 'wamid.MX.REPLY', text: 'Gracias' }))
    // …and as a username user, by the user id Meta named.
    await postWebhook(ctx.t, usernameOnly('MX.77001', 'wamid.MX.USERNAME', 'Sigo aquí'))
    await applied()
    expect(await prisma().conversation.count({ where: { OR: [{ phoneNumber: waId }, { waId }] } })).toBe(1)

    // Later sends find it, to the number as typed and to the WhatsApp id; so does a template fan-out.
    expect((await send(`+${typed}`, 'Otra vez')).body.data.conversation.conversation_id).toBe(id)
    expect((await send(`+${waId}`, 'Y por su id')).body.data.conversation.conversation_id).toBe(id)
    await ctx.t.rest('GET', '/api/whatsapp/templates')
    const fanOut = await ctx.t.rest('POST', '/api/whatsapp/send-template', {
      templateName: 'sr_update',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
      recipients: [{ phoneNumber: `+${waId}` }, { phoneNumber: `+${typed}` }],
    })
    expect(fanOut.status).toBe(200)
    const batchId = Number(fanOut.headers.get('x-template-batch-id'))
    const batchMessages = await prisma().message.findMany({ where: { batchId } })
    expect(batchMessages.map((m) => m.conversationId)).toEqual([id, id])

    const { body } = await ctx.t.gql(ConversationDocument, { id, first: 10 })
    expect(body.data!.conversation).toMatchObject({ phoneNumber: typed, waId, waUserId: 'MX.77001' })
    expect(nodes(body.data!.conversation.messages).map((m) => m.content)).toEqual(
      expect.arrayContaining(['Su técnico llega mañana', 'Gracias', 'Sigo aquí', 'Otra vez', 'Y por su id']),
    )
    expect(
      await prisma().conversation.count({ where: { OR: [{ phoneNumber: { in: [typed, waId] } }, { waId }] } }),
    ).toBe(1)
  })

  it('is found by a search for either number, in REST and GraphQL, and shown as wa_id', async () => {
    const [byTyped, byWaId] = [await conversationIdsFor('+52 55 1234 0001'), await conversationIdsFor(waId)]
    expect(byTyped).toHaveLength(1)
    expect(byWaId).toEqual(byTyped)
    const res = await ctx.t.rest('GET', `/api/whatsapp/conversations?phoneNumber=${waId}`)
    expect(res.body.data[0]).toMatchObject({ phone_number: typed, wa_id: waId })
    const { body } = await ctx.t.gql(ConversationsDocument, { first: 5, filter: { phoneNumber: waId } })
    expect(nodes(body.data!.conversations).map((c) => [c.id, c.waId])).toEqual([[byTyped[0], waId]])
  })

  it('takes the WhatsApp id a customer writes from as their identity when they write first', async () => {
    await postWebhook(ctx.t, inboundText({ from: '50255570001', wamid: 'wamid.GT.FIRST', text: 'Hola' }))
    await applied()
    const row = await prisma().conversation.findFirstOrThrow({ where: { phoneNumber: '50255570001' } })
    expect(row.waId).toBe('50255570001')
    const reply = await send('+502 5557-0001', 'Buenos días')
    expect(reply.body.data.conversation.conversation_id).toBe(row.id)
  })

  it('leaves a WhatsApp id with the conversation that has it when Meta names it for another number', async () => {
    // The customer wrote first from their WhatsApp id; a send to a number typed otherwise, which
    // Meta maps to that id, cannot take it from them (the reply still reaches the first one).
    await postWebhook(ctx.t, inboundText({ from: '5215512340002', wamid: 'wamid.MX.FIRST2', text: 'Hola' }))
    await applied()
    ctx.meta.identify('525512340002', '5215512340002')
    const res = await send('+52 55 1234 0002', 'Hola, ¿en qué le ayudamos?')
    expect(res.status).toBe(200)
    const holders = await prisma().conversation.findMany({ where: { waId: '5215512340002' } })
    expect(holders.map((c) => c.phoneNumber)).toEqual(['5215512340002'])
    await postWebhook(ctx.t, inboundText({ from: '5215512340002', wamid: 'wamid.MX.AGAIN2', text: 'Otra' }))
    await applied()
    const again = await prisma().message.findUniqueOrThrow({ where: { wamid: 'wamid.MX.AGAIN2' } })
    expect(again.conversationId).toBe(holders[0].id)
  })
})
