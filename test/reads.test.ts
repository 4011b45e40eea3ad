import { describe, expect, it } from 'vitest'
import {
  ConversationDocument,
  ConversationsDocument,
  MessageByWamidDocument,
  MessageDocument,
  TemplatesDocument,
} from './graphql/generated.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { nodes } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

const ctx = useTestApp({
  meta: {
    templates: [
      metaTemplate({ name: 'a_utility', language: 'es' }),
      metaTemplate({ name: 'a_utility', language: 'en_US' }),
      metaTemplate({ name: 'b_marketing', category: 'MARKETING' }),
    ],
  },
  // These tests count what executing a query costs; the response cache has its own (response-cache.test.ts).
  env: { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false', GRAPHQL_RESPONSE_CACHE_MB: '0' },
})

const send = (phoneNumber: string, content: string, requestId?: number) =>
  ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber, content, requestId })

/** `count` conversations with `perConversation` messages each, straight into the database. */
async function seed(prefix: string, count: number, perConversation: number) {
  const prisma = ctx.t.app.database.prisma
  const base = Date.parse('2026-01-01T00:00:00Z')
  for (let i = 0; i < count; i++) {
    const conversation = await prisma.conversation.create({
      data: { phoneNumber: `${prefix}${String(i).padStart(4, '0')}`, lastMessageAt: new Date(base + i * 1000) },
    })
    await prisma.message.createMany({
      data: Array.from({ length: perConversation }, (_, j) => ({
        conversationId: conversation.id,
        direction: 'outbound' as const,
        type: 'text',
        content: `m${j}`,
        status: 'sent' as const,
      })),
    })
    const last = await prisma.message.findFirst({ where: { conversationId: conversation.id }, orderBy: { id: 'desc' } })
    await prisma.conversation.update({ where: { id: conversation.id }, data: { lastMessageId: last?.id ?? null } })
  }
}

describe('conversations connection', () => {
  it('pages forward through every conversation once, newest activity first', async () => {
    await seed('5021100', 25, 1)
    const seen: string[] = []
    let after: string | null | undefined
    let pages = 0
    for (;;) {
      const { body } = await ctx.t.gql(ConversationsDocument, { first: 7, after, filter: { phoneNumber: '5021100' } })
      const page = body.data!.conversations
      expect(page.totalCount).toBe(25)
      seen.push(...nodes(page).map((c) => c.phoneNumber!))
      pages++
      if (!page.pageInfo.hasNextPage) break
      after = page.pageInfo.endCursor
    }
    expect(pages).toBe(4)
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `5021100${String(24 - i).padStart(4, '0')}`))
  })

  it('filters by phone number in any format, request id, last message and text, and updated since', async () => {
    await send('+502 4444-0101', 'Su técnico llega a las 10', 501)
    await send('+50244440202', 'otra cosa', 502)
    await postWebhook(ctx.t, inboundText({ from: '50244440303', wamid: 'wamid.FILTER', text: 'Necesito ayuda' }))
    await ctx.t.app.webhooks.drained()
    const find = async (filter: Record<string, unknown>) => {
      const { body } = await ctx.t.gql(ConversationsDocument, { first: 100, filter })
      expect(body.errors).toBeUndefined()
      return nodes(body.data!.conversations).map((c) => c.phoneNumber)
    }
    expect(await find({ phoneNumber: '+502 4444-0101' })).toEqual(['50244440101'])
    expect(await find({ phoneNumber: '4444 0202' })).toEqual(['50244440202'])
    expect(await find({ requestId: 501 })).toEqual(['50244440101'])
    expect(await find({ phoneNumber: '50244440', lastMessageDirection: 'INBOUND' })).toEqual(['50244440303'])
    expect(await find({ phoneNumber: '50244440', lastMessageStatus: 'SENT' })).toEqual(['50244440202', '50244440101'])
    expect(await find({ search: 'TÉCNICO' })).toEqual(['50244440101'])
    expect(await find({ updatedSince: new Date(Date.now() + 60_000).toISOString() })).toEqual([])
    expect((await find({ updatedSince: new Date(Date.now() - 60_000).toISOString() })).length).toBeGreaterThanOrEqual(3)
  })

  it('resolves 50 conversations with last message and count in a constant number of queries', async () => {
    await seed('5021200', 50, 2)
    const countOnce = async (first: number) => {
      let queries = 0
      const stop = ctx.t.app.database.onQuery((sql) => {
        queries++
        if (process.env.SHOW_SQL) console.log('SQL', sql.slice(0, 100))
      })
      const { body } = await ctx.t.gql(ConversationsDocument, { first, filter: { phoneNumber: '5021200' } })
      stop()
      const list = nodes(body.data!.conversations)
      expect(list).toHaveLength(first)
      expect(list.every((c) => c.messageCount === 2 && c.lastMessage?.content === 'm1')).toBe(true)
      return queries
    }
    // The fewer of two: the batch sweep (every 5 s) may run a statement while one is counted.
    const countQueries = async (first: number) => Math.min(await countOnce(first), await countOnce(first))
    const forFifty = await countQueries(50)
    expect(forFifty).toBe(await countQueries(5))
    // rate limit + page + total count + last messages + message counts + the messages' conversations
    expect(forFifty).toBeLessThanOrEqual(6)
  })

  it('counts matching conversations only when totalCount is asked for', async () => {
    await seed('5021777', 3, 1)
    const read = async (selection: string) => {
      const counts: string[] = []
      const stop = ctx.t.app.database.onQuery((sql) => {
        if (/\bCOUNT\(/i.test(sql)) counts.push(sql)
      })
      const res = await ctx.t.rest('POST', '/graphql', {
        query: `{ conversations(first: 2, filter: { phoneNumber: "5021777" }) { ${selection} } }`,
      })
      stop()
      expect(res.body.errors).toBeUndefined()
      return { data: res.body.data.conversations, counts }
    }
    const without = await read('edges { node { id } }')
    expect(without.data.edges).toHaveLength(2)
    expect(without.counts).toEqual([])
    const withTotal = await read('totalCount edges { node { id } }')
    expect(withTotal.data.totalCount).toBe(3)
    expect(withTotal.counts).toHaveLength(1)
  })

  it('refuses a page size over the maximum and a forged cursor with field errors', async () => {
    const big = await ctx.t.gql(ConversationsDocument, { first: 101 })
    expect(big.body.errors![0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', fields: [{ path: 'first' }] })
    const forged = await ctx.t.gql(ConversationsDocument, { after: 'bm90LWEtY3Vyc29y' })
    expect(forged.body.errors![0].extensions).toMatchObject({ fields: [{ path: 'after' }] })
    const filter = await ctx.t.gql(ConversationsDocument, { filter: { search: 'x' } })
    expect(filter.body.errors![0].extensions).toMatchObject({ fields: [{ path: 'filter.search' }] })
  })
})

describe('messages connection', () => {
  it('pages newest first with no duplicates or gaps while new messages arrive', async () => {
    const first = await send('+50233339999', 'm0')
    const conversationId = first.body.data.conversation.conversation_id
    for (let i = 1; i < 30; i++)
      await ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: `m${i}` })

    const seen: string[] = []
    let after: string | null | undefined
    for (let page = 0; ; page++) {
      const { body } = await ctx.t.gql(ConversationDocument, { id: conversationId, first: 8, after })
      const messages = body.data!.conversation.messages
      seen.push(...nodes(messages).map((m) => m.content!))
      // a customer keeps the conversation going while the dashboard scrolls
      await ctx.t.rest('POST', `/api/whatsapp/conversations/${conversationId}/messages`, { content: `new${page}` })
      if (!messages.pageInfo.hasNextPage) break
      after = messages.pageInfo.endCursor
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `m${29 - i}`))
  })

  it('finds one message by id and by wamid; NOT_FOUND otherwise', async () => {
    const sent = await send('+50233338888', 'buscame')
    const { message_id, wamid } = sent.body.data.message
    expect((await ctx.t.gql(MessageDocument, { id: message_id })).body.data!.message).toMatchObject({
      content: 'buscame',
      wamid,
    })
    expect((await ctx.t.gql(MessageByWamidDocument, { wamid })).body.data!.messageByWamid.id).toBe(message_id)
    expect((await ctx.t.gql(MessageByWamidDocument, { wamid: 'wamid.NOPE' })).body.errors![0].extensions!.code).toBe(
      'NOT_FOUND',
    )
  })
})

describe('REST reads', () => {
  it('GET /api/whatsapp/conversations pages and filters like GraphQL', async () => {
    await seed('5021300', 5, 1)
    const first = await ctx.t.rest('GET', '/api/whatsapp/conversations?first=3&phoneNumber=5021300')
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ success: true, total_count: 5, page_info: { has_next_page: true } })
    expect(first.body.data[0]).toMatchObject({ conversation_id: expect.any(Number), phone_number: '50213000004' })
    const next = await ctx.t.rest(
      'GET',
      `/api/whatsapp/conversations?first=3&phoneNumber=5021300&after=${first.body.page_info.end_cursor}`,
    )
    expect(next.body.data.map((c: { phone_number: string }) => c.phone_number)).toEqual(['50213000001', '50213000000'])
    expect(next.body.page_info).toEqual({ has_next_page: false, end_cursor: expect.any(String) })

    const bad = await ctx.t.rest('GET', '/api/whatsapp/conversations?first=1000')
    expect(bad.status).toBe(422)
    expect(bad.body.error.fields[0].path).toBe('first')
    expect((await ctx.t.rest('GET', '/api/whatsapp/conversations', undefined, { token: null })).status).toBe(401)
  })

  it('GET /api/whatsapp/conversations/:id/messages pages newest first; 404 for unknown ids', async () => {
    const sent = await send('+50233337777', 'uno')
    const id = sent.body.data.conversation.conversation_id
    await ctx.t.rest('POST', `/api/whatsapp/conversations/${id}/messages`, { content: 'dos' })
    const res = await ctx.t.rest('GET', `/api/whatsapp/conversations/${id}/messages?first=1`)
    expect(res.body).toMatchObject({ success: true, total_count: 2, page_info: { has_next_page: true } })
    expect(res.body.data).toEqual([
      expect.objectContaining({ content: 'dos', direction: 'outbound', message_type: 'text' }),
    ])
    expect((await ctx.t.rest('GET', '/api/whatsapp/conversations/999999/messages')).status).toBe(404)
  })
})

describe('templates filters', () => {
  it('filters by status, language, category and name', async () => {
    await ctx.t.gql(TemplatesDocument, { refresh: true })
    const names = async (variables: Record<string, string>) =>
      (await ctx.t.gql(TemplatesDocument, variables)).body.data!.templates.map((x) => `${x.name}/${x.language}`)
    expect(await names({ language: 'en_US' })).toEqual(['a_utility/en_US'])
    expect(await names({ category: 'marketing' })).toEqual(['b_marketing/es'])
    expect(await names({ name: 'a_utility' })).toEqual(['a_utility/en_US', 'a_utility/es'])
    const rest = await ctx.t.rest('GET', '/api/whatsapp/templates?language=es&category=UTILITY')
    expect(rest.body.data.map((x: { name: string }) => x.name)).toEqual(['a_utility'])
  })
})
