/**
 * The dashboard's reads (conversation lists with their last and latest messages, a conversation's
 * message pages with their files, replies and reactions) against a straightforward reference: every
 * row of the seeded data read plainly, then filtered, sorted and paged here. The data has what
 * trips a list's SQL up: conversations without messages (sorted last), ties in last-message time,
 * reactions (never shown as bubbles), wildcard characters in texts, and pages cut at each of those.
 */
import { getNamedType, type GraphQLObjectType, isLeafType, isObjectType } from 'graphql'
import { describe, expect, it } from 'vitest'
import { getSchema } from '../src/graphql/schema.js'
import { useTestApp } from './helpers/setup.js'
import { PHONE_NUMBER_ID } from './helpers/webhooks.js'

const ctx = useTestApp({
  // What executing the reads returns, not the response cache (response-cache.test.ts).
  // (Many reads: the per-field checks below make a few hundred.)
  env: {
    WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false',
    GRAPHQL_RESPONSE_CACHE_MB: '0',
    API_RATE_LIMIT_PER_MINUTE: '100000',
  },
})

const PREFIX = '5029900'
const BASE = Date.parse('2026-02-01T00:00:00Z')
const STATUSES = ['pending', 'unknown', 'sent', 'delivered', 'read', 'failed'] as const
const TEXTS = ['Hola Técnico', 'precio 50% menos', 'nada que ver', 'HOLA de nuevo', 'código a_b']

interface Conv {
  id: number
  phoneNumber: string | null
  requestId: number | null
  lastMessageAt: Date | null
  lastMessageId: number | null
  updatedAt: Date
}
interface Msg {
  id: number
  conversationId: number
  direction: string
  type: string
  content: string | null
  status: string
  wamid: string | null
  mediaId: string | null
  replyToMessageId: number | null
  createdAt: Date
}

let seeded: Promise<{ conversations: Conv[]; messages: Msg[]; reactions: Map<string, string[]>; busy: number }> | null =
  null

/** 36 conversations: every 7th without messages, last-message times tied in threes, one long thread. */
function seed() {
  seeded ??= (async () => {
    const prisma = ctx.t.app.database.prisma
    await prisma.media.create({ data: { id: 'med_dash1', source: 'inbound', status: 'ready', mimeType: 'image/png' } })
    for (let i = 0; i < 36; i++) {
      const empty = i % 7 === 0
      const conversation = await prisma.conversation.create({
        data: {
          phoneNumber: `${PREFIX}${String(i).padStart(3, '0')}`,
          requestId: i % 4 === 0 ? 77 : null,
          lastMessageAt: empty ? null : new Date(BASE + Math.floor(i / 3) * 1000),
        },
      })
      if (empty) continue
      const count = i === 1 ? 13 : 1 + (i % 5)
      for (let j = 0; j < count; j++) {
        const last = j === count - 1
        await prisma.message.create({
          data: {
            conversationId: conversation.id,
            direction: (i + j) % 2 ? 'inbound' : 'outbound',
            type: i === 1 && j === 4 ? 'image' : 'text',
            content: `${TEXTS[(i + j) % TEXTS.length]} ${i}.${j}`,
            status: last ? STATUSES[i % STATUSES.length] : 'sent',
            wamid: `wamid.dash.${i}.${j}`,
            mediaId: i === 1 && j === 4 ? 'med_dash1' : null,
          },
        })
        // A reaction to the first message, stored as a message too (never a bubble).
        if (j === 1 && i % 3 === 0) {
          await prisma.message.create({
            data: {
              conversationId: conversation.id,
              direction: 'inbound',
              type: 'reaction',
              content: 'HOLA 👍',
              status: 'delivered',
              replyToWamid: `wamid.dash.${i}.0`,
            },
          })
          await prisma.reaction.create({
            data: { targetWamid: `wamid.dash.${i}.0`, actor: 'customer', emoji: '👍', reactedAt: new Date(BASE) },
          })
        }
      }
      const bubbles = await prisma.message.findMany({
        where: { conversationId: conversation.id, type: { not: 'reaction' } },
        orderBy: { id: 'desc' },
      })
      if (i === 1) {
        await prisma.message.update({
          where: { id: bubbles[1].id },
          data: { status: 'failed', errorCode: 131026, errorMessage: 'Message undeliverable', errorTraceId: 'Ab1' },
        })
        // Replies, and reactions from both sides on one message (one removed: not shown).
        await prisma.message.update({ where: { id: bubbles[0].id }, data: { replyToMessageId: bubbles[5].id } })
        await prisma.message.update({ where: { id: bubbles[2].id }, data: { replyToMessageId: bubbles[12].id } })
        await prisma.reaction.createMany({
          data: [
            { targetWamid: bubbles[3].wamid!, actor: 'customer', emoji: '❤️', reactedAt: new Date(BASE + 2000) },
            { targetWamid: bubbles[3].wamid!, actor: 'business', emoji: '🙏', reactedAt: new Date(BASE + 1000) },
            { targetWamid: bubbles[4].wamid!, actor: 'customer', emoji: null, reactedAt: new Date(BASE) },
          ],
        })
      }
      await prisma.conversation.update({ where: { id: conversation.id }, data: { lastMessageId: bubbles[0].id } })
    }
    // Times of change spread out, for updatedSince.
    await prisma.$executeRawUnsafe(
      `UPDATE conversations SET updated_at = $1::timestamptz + (id % 9) * interval '1 minute',
         last_inbound_at = CASE WHEN id % 2 = 0 THEN $1::timestamptz END, business_phone_number_id = '${PHONE_NUMBER_ID}'
       WHERE phone_number LIKE '${PREFIX}%'`,
      new Date(BASE).toISOString(),
    )
    const conversations = (await prisma.conversation.findMany({
      where: { phoneNumber: { startsWith: PREFIX } },
    })) as Conv[]
    const messages = (await prisma.message.findMany({
      where: { conversationId: { in: conversations.map((c) => c.id) } },
    })) as Msg[]
    const reactions = new Map<string, string[]>()
    for (const r of await prisma.reaction.findMany({ where: { emoji: { not: null } }, orderBy: { reactedAt: 'asc' } }))
      reactions.set(r.targetWamid, [...(reactions.get(r.targetWamid) ?? []), `${r.emoji}/${r.actor}`])
    const busy = conversations.find((c) => c.phoneNumber === `${PREFIX}001`)!.id
    return { conversations, messages, reactions, busy }
  })()
  return seeded
}

interface Filter {
  phoneNumber?: string
  requestId?: number
  lastMessageDirection?: 'INBOUND' | 'OUTBOUND'
  lastMessageStatus?: (typeof STATUSES)[number] extends infer S ? Uppercase<S & string> : never
  search?: string
  updatedSince?: string
}

/** SQL's ILIKE '%text%' as the filter has always run it: `%` and `_` in the text are wildcards. */
const likeInsensitive = (value: string, text: string) =>
  new RegExp(
    text
      .split('')
      .map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join(''),
    'is',
  ).test(value)

/** The conversations `filter` matches, in list order (newest activity first, none last, then id). */
function expectedList(data: Awaited<ReturnType<typeof seed>>, f: Filter): Conv[] {
  const byId = new Map(data.messages.map((m) => [m.id, m]))
  return data.conversations
    .filter((c) => {
      const last = c.lastMessageId === null ? null : byId.get(c.lastMessageId)!
      if (f.phoneNumber && !c.phoneNumber?.includes(f.phoneNumber.replace(/\D/g, ''))) return false
      if (f.requestId && c.requestId !== f.requestId) return false
      if (f.lastMessageDirection && last?.direction !== f.lastMessageDirection.toLowerCase()) return false
      if (f.lastMessageStatus && last?.status !== f.lastMessageStatus.toLowerCase()) return false
      if (
        f.search &&
        !data.messages.some((m) => m.conversationId === c.id && likeInsensitive(m.content ?? '', f.search!))
      )
        return false
      if (f.updatedSince && c.updatedAt < new Date(f.updatedSince)) return false
      return true
    })
    .sort((a, b) => {
      const at = (c: Conv) => c.lastMessageAt?.getTime() ?? -Infinity
      return at(b) - at(a) || b.id - a.id
    })
}

/** A conversation's bubbles, newest first. */
const expectedMessages = (data: Awaited<ReturnType<typeof seed>>, conversationId: number) =>
  data.messages.filter((m) => m.conversationId === conversationId && m.type !== 'reaction').sort((a, b) => b.id - a.id)

const gql = async (query: string, variables: Record<string, unknown>) => {
  const res = await ctx.t.rest('POST', '/graphql', { query, variables })
  expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined()
  return res.body.data
}

const LIST = `query List($first: Int, $after: String, $filter: ConversationFilterInput) {
  conversations(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id phoneNumber lastMessageAt
      lastMessage { id content status direction createdAt }
      messages(first: 3) { totalCount pageInfo { hasNextPage } edges { node { id content status } } }
    } }
  }
}`

const FILTERS: Filter[] = [
  {},
  { phoneNumber: '+502 9900-01' },
  { requestId: 77 },
  { lastMessageDirection: 'INBOUND' },
  { lastMessageStatus: 'FAILED' },
  { search: 'hola' },
  { search: '50%' },
  { search: 'a_b' },
  { search: 'O_A' },
  { search: 'hola', lastMessageStatus: 'READ' },
  { search: 'técnico', lastMessageDirection: 'OUTBOUND', requestId: 77 },
  { updatedSince: new Date(BASE + 5 * 60_000).toISOString() },
  { search: 'nowhere at all' },
  { phoneNumber: '5029999' },
]

describe('dashboard reads against a reference', () => {
  it.each(FILTERS.map((f) => [JSON.stringify(f), f] as const))(
    'conversations %s: every page size walks the reference order, with last and latest messages',
    async (_, filter) => {
      const data = await seed()
      const expected = expectedList(data, filter)
      const byId = new Map(data.messages.map((m) => [m.id, m]))
      for (const first of [1, 2, 3, 5, 40]) {
        const seen: number[] = []
        let after: string | null = null
        for (let pages = 0; ; pages++) {
          expect(pages).toBeLessThan(50)
          const { conversations: page } = await gql(LIST, { first, after, filter: { phoneNumber: PREFIX, ...filter } })
          expect(page.totalCount).toBe(expected.length)
          for (const { node } of page.edges) {
            const c = expected.find((e) => e.id === node.id)!
            expect(c).toBeDefined()
            const last = c.lastMessageId === null ? null : byId.get(c.lastMessageId)!
            expect(node.lastMessageAt).toBe(c.lastMessageAt?.toISOString() ?? null)
            expect(node.lastMessage).toEqual(
              last && {
                id: last.id,
                content: last.content,
                status: last.status.toUpperCase(),
                direction: last.direction.toUpperCase(),
                createdAt: last.createdAt.toISOString(),
              },
            )
            const latest = expectedMessages(data, c.id)
            expect(node.messages.totalCount).toBe(latest.length)
            expect(node.messages.pageInfo.hasNextPage).toBe(latest.length > 3)
            expect(node.messages.edges.map((e: { node: unknown }) => e.node)).toEqual(
              latest.slice(0, 3).map((m) => ({ id: m.id, content: m.content, status: m.status.toUpperCase() })),
            )
          }
          seen.push(...page.edges.map((e: { node: { id: number } }) => e.node.id))
          expect(page.pageInfo.hasNextPage).toBe(seen.length < expected.length)
          expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null)
          if (!page.pageInfo.hasNextPage) {
            // After the last row: an empty page, nothing more.
            if (page.pageInfo.endCursor) {
              const { conversations: end } = await gql(LIST, {
                first,
                after: page.pageInfo.endCursor,
                filter: { phoneNumber: PREFIX, ...filter },
              })
              expect(end).toMatchObject({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } })
            }
            break
          }
          after = page.pageInfo.endCursor
        }
        expect(seen).toEqual(expected.map((c) => c.id))
      }
    },
  )

  it('the filters tell cases apart: each keeps some conversations and drops others', async () => {
    const data = await seed()
    const all = expectedList(data, {}).length
    for (const filter of FILTERS.slice(1, -2)) {
      const kept = expectedList(data, filter).length
      expect([filter, kept > 0 && kept < all]).toEqual([filter, true])
    }
  })

  it('REST lists the same conversations in the same pages', async () => {
    const data = await seed()
    for (const filter of [{}, { search: 'hola', lastMessageStatus: 'read' }, { requestId: 77 }]) {
      const expected = expectedList(data, filter as Filter).map((c) => c.phoneNumber)
      const seen: string[] = []
      let after = ''
      for (;;) {
        const params = { first: '4', phoneNumber: PREFIX, ...filter }
        const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
        if (after) query.set('after', after)
        const res = await ctx.t.rest('GET', `/api/whatsapp/conversations?${query}`)
        expect(res.status).toBe(200)
        expect(res.body.total_count).toBe(expected.length)
        seen.push(...res.body.data.map((c: { phone_number: string }) => c.phone_number))
        if (!res.body.page_info.has_next_page) break
        after = res.body.page_info.end_cursor
      }
      expect(seen).toEqual(expected)
    }
  })

  const THREAD = `query Thread($id: Int!, $first: Int, $after: String) {
    conversation(id: $id) {
      id
      messages(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node {
          id type content status direction wamid replyToMessageId
          replyTo { id content }
          media { id status mimeType }
          reactions { emoji by }
        } }
      }
    }
  }`

  it('a conversation’s messages page through every size with replies, files and reactions', async () => {
    const data = await seed()
    const expected = expectedMessages(data, data.busy)
    const byId = new Map(data.messages.map((m) => [m.id, m]))
    for (const first of [1, 2, 4, 5, 13, 50]) {
      const seen: number[] = []
      let after: string | null = null
      for (;;) {
        const { conversation } = await gql(THREAD, { id: data.busy, first, after })
        const page = conversation.messages
        expect(page.totalCount).toBe(expected.length)
        for (const { node } of page.edges) {
          const m = byId.get(node.id)!
          const replyTo = m.replyToMessageId === null ? null : byId.get(m.replyToMessageId)!
          expect(node).toEqual({
            id: m.id,
            type: m.type,
            content: m.content,
            status: m.status.toUpperCase(),
            direction: m.direction.toUpperCase(),
            wamid: m.wamid,
            replyToMessageId: m.replyToMessageId,
            replyTo: replyTo && { id: replyTo.id, content: replyTo.content },
            media: m.mediaId ? { id: m.mediaId, status: 'READY', mimeType: 'image/png' } : null,
            reactions: (data.reactions.get(m.wamid!) ?? []).map((r) => {
              const [emoji, by] = r.split('/')
              return { emoji, by: by.toUpperCase() }
            }),
          })
        }
        seen.push(...page.edges.map((e: { node: { id: number } }) => e.node.id))
        expect(page.pageInfo.hasNextPage).toBe(seen.length < expected.length)
        if (!page.pageInfo.hasNextPage) {
          const end = await gql(THREAD, { id: data.busy, first, after: page.pageInfo.endCursor })
          expect(end.conversation.messages).toMatchObject({ edges: [], pageInfo: { hasNextPage: false } })
          break
        }
        after = page.pageInfo.endCursor
      }
      expect(seen).toEqual(expected.map((m) => m.id))
    }
    // What the thread shows: two replies, reactions from both sides, a file.
    const { conversation } = await gql(THREAD, { id: data.busy, first: 50 })
    const shown = conversation.messages.edges.map((e: { node: Record<string, unknown> }) => e.node)
    expect(shown.filter((m: { replyTo: unknown }) => m.replyTo)).toHaveLength(2)
    expect(shown.flatMap((m: { reactions: unknown[] }) => m.reactions)).toHaveLength(2)
    expect(shown.filter((m: { media: unknown }) => m.media)).toHaveLength(1)
  })

  it('two pages of one conversation in one operation each answer their own (read with it or not)', async () => {
    const data = await seed()
    const expected = expectedMessages(data, data.busy).map((m) => m.id)
    const ids = (page: { edges: { node: { id: number } }[] }) => page.edges.map((e) => e.node.id)
    const { conversation } = await gql(
      `query($id: Int!) { conversation(id: $id) {
        newest: messages(first: 2) { edges { node { id media { id } reactions { emoji } } } pageInfo { endCursor } }
        more: messages(first: 5) { edges { node { id } } } } }`,
      { id: data.busy },
    )
    expect(ids(conversation.newest)).toEqual(expected.slice(0, 2))
    expect(ids(conversation.more)).toEqual(expected.slice(0, 5))
    // A list's conversations with their newest messages, and the same field again with other arguments.
    const { conversations } = await gql(
      `{ conversations(first: 36) { edges { node { id
        messages(first: 1) { edges { node { id } } } older: messages(first: 1, after: "${conversation.newest.pageInfo.endCursor}") { edges { node { id } } } } } } }`,
      {},
    )
    const busy = conversations.edges.find((e: { node: { id: number } }) => e.node.id === data.busy).node
    expect(ids(busy.messages)).toEqual(expected.slice(0, 1))
    expect(ids(busy.older)).toEqual(expected.slice(2, 3))
  })

  it('a conversation without messages has an empty page; an unknown one is NOT_FOUND', async () => {
    const data = await seed()
    const empty = data.conversations.find((c) => c.lastMessageId === null)!
    const { conversation } = await gql(THREAD, { id: empty.id, first: 5 })
    expect(conversation.messages).toEqual({
      totalCount: 0,
      pageInfo: { hasNextPage: false, endCursor: null },
      edges: [],
    })
    const res = await ctx.t.rest('POST', '/graphql', { query: THREAD, variables: { id: 999999, first: 5 } })
    expect(res.body.errors[0].extensions.code).toBe('NOT_FOUND')
    const rest = await ctx.t.rest('GET', `/api/whatsapp/conversations/${empty.id}/messages?first=5`)
    expect(rest.body).toMatchObject({ data: [], total_count: 0, page_info: { has_next_page: false, end_cursor: null } })
  })
})

/**
 * Lists read only the columns an operation asks for. Each field of a conversation and of a message,
 * asked for alone through a list, answers what the same field answers when the whole row is read
 * (`conversation(id)`, `message(id)`): a field resolver reading a column it did not declare fails here.
 */
describe('each dashboard read is one statement', () => {
  const statementsOf = async (query: string, variables: Record<string, unknown>) => {
    let statements = 0
    const stop = ctx.t.app.database.onQuery(() => statements++)
    try {
      await gql(query, variables)
    } finally {
      stop()
    }
    return statements
  }

  it('a list with last messages, and with its newest messages; a thread with its messages, their files and reactions', async () => {
    const data = await seed()
    const list = `{ conversations(first: 20) { edges { node { id phoneNumber lastMessage { id content status createdAt } } } } }`
    expect(await statementsOf(list, {})).toBe(1)
    const withMessages = `query($search: String) { conversations(first: 20, filter: { search: $search }) { edges { node { id
      lastMessage { id status } messages(first: 3) { edges { node { id content media { id } reactions { emoji } } } } } } } }`
    expect(await statementsOf(withMessages, { search: 'de' })).toBe(1)
    expect(await statementsOf(withMessages, { search: 'hola' })).toBe(1)
    const thread = `query($id: Int!, $after: String) { conversation(id: $id) { id waId messages(first: 5, after: $after) {
      edges { cursor node { id content status media { id url } reactions { emoji by } error { code } } } pageInfo { endCursor } } } }`
    expect(await statementsOf(thread, { id: data.busy, after: null })).toBe(1)
    const { conversation } = await gql(thread, { id: data.busy, after: null })
    expect(await statementsOf(thread, { id: data.busy, after: conversation.messages.pageInfo.endCursor })).toBe(1)
  })
})

describe('lists read only the fields asked for, and answer them as a whole row does', () => {
  const selectionOf = async (typeName: string) => {
    const schema = await getSchema()
    const type = schema.getType(typeName) as GraphQLObjectType
    return Object.values(type.getFields()).flatMap((field) => {
      if (field.args.length) return [] // connections: read and compared above
      const named = getNamedType(field.type)
      if (!isObjectType(named)) return [field.name]
      const leaves = Object.values(named.getFields()).filter((f) => isLeafType(getNamedType(f.type)) && !f.args.length)
      return [`${field.name} { ${leaves.map((f) => f.name).join(' ')} }`]
    })
  }

  it('every Conversation field, alone in a list, with its last message', async () => {
    const data = await seed()
    const fields = await selectionOf('Conversation')
    const messageFields = await selectionOf('Message')
    const ids = data.conversations.map((c) => c.id)
    const whole = new Map<number, Record<string, unknown>>()
    for (const id of ids) {
      const { conversation } = await gql(`query($id: Int!) { conversation(id: $id) { id ${fields.join(' ')} } }`, {
        id,
      })
      whole.set(id, conversation)
    }
    for (const field of fields) {
      const { conversations } = await gql(
        `{ conversations(first: 100, filter: { phoneNumber: "${PREFIX}" }) { edges { node { id ${field} } } } }`,
        {},
      )
      expect(conversations.edges).toHaveLength(ids.length)
      const name = field.split(' ')[0]
      for (const { node } of conversations.edges)
        expect([field, node[name]]).toEqual([field, whole.get(node.id)![name]])
    }
    // A conversation with its messages (a thread) is read with only its fields asked for too
    // (some conversations: one without messages, the long thread, and others).
    const threads = [...new Set([...ids.slice(0, 8), data.busy])]
    for (const field of fields) {
      for (const id of threads) {
        const { conversation } = await gql(
          `query($id: Int!) { conversation(id: $id) { ${field} messages(first: 1) { edges { node { id } } } } }`,
          { id },
        )
        const name = field.split(' ')[0]
        expect([field, conversation[name]]).toEqual([field, whole.get(id)![name]])
      }
    }
    for (const field of messageFields) {
      const { conversations } = await gql(
        `{ conversations(first: 100, filter: { phoneNumber: "${PREFIX}" }) { edges { node { lastMessage { id ${field} } } } } }`,
        {},
      )
      const name = field.split(' ')[0]
      for (const { node } of conversations.edges) {
        if (!node.lastMessage) continue
        const { message } = await gql(`query($id: Int!) { message(id: $id) { ${field} } }`, { id: node.lastMessage.id })
        expect([field, node.lastMessage[name]]).toEqual([field, message[name]])
      }
    }
  })

  it('every Message field, alone in a page of messages', async () => {
    const data = await seed()
    const fields = await selectionOf('Message')
    const ids = data.messages.filter((m) => m.conversationId === data.busy && m.type !== 'reaction').map((m) => m.id)
    const whole = new Map<number, Record<string, unknown>>()
    for (const id of ids) {
      const { message } = await gql(`query($id: Int!) { message(id: $id) { id ${fields.join(' ')} } }`, { id })
      whole.set(id, message)
    }
    for (const field of fields) {
      const { conversation } = await gql(
        `query($id: Int!) { conversation(id: $id) { messages(first: 100) { edges { node { id ${field} } } } } }`,
        { id: data.busy },
      )
      expect(conversation.messages.edges).toHaveLength(ids.length)
      const name = field.split(' ')[0]
      for (const { node } of conversation.messages.edges) {
        expect([field, node[name]]).toEqual([field, whole.get(node.id)![name]])
      }
    }
  })
})
