import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConversationDocument, ConversationsDocument, TemplatesDocument } from './graphql/generated.js'
import { FakeMetaServer, metaTemplate } from './helpers/fake-meta.js'
import { nodes, startTestApp, type TestApp } from './helpers/test-app.js'

let meta: FakeMetaServer
let t: TestApp

beforeAll(async () => {
  meta = await FakeMetaServer.start({ templates: [metaTemplate({ name: 'aviso', language: 'es' })] })
  t = await startTestApp({ meta, env: { WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' } })
})
afterAll(async () => {
  await t?.close()
  await meta?.close()
})

/** Runs `fn` and answers what it did: the statements that reached the database (rate limits aside). */
async function statementsOf<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = []
  const stop = t.app.database.onQuery((sql) => {
    if (!/rate_limit_windows/.test(sql)) statements.push(sql)
  })
  try {
    return { result: await fn(), statements }
  } finally {
    stop()
  }
}

const list = (phoneNumber: string) => t.gql(ConversationsDocument, { first: 5, filter: { phoneNumber } })
const send = (phoneNumber: string, content: string) =>
  t.rest('POST', '/api/whatsapp/send', { phoneNumber, content, requestId: 7 })

describe('GraphQL response cache', () => {
  it('answers a repeated query from memory while nothing was written: one snapshot read, no execution', async () => {
    expect((await send('+50244440001', 'hola')).status).toBe(200)
    const first = await list('50244440001')
    await list('50244440001') // learned on the first, kept on the second
    // On PostgreSQL the snapshot is the whole server's, and other test files write to their own
    // databases meanwhile: a request may find it changed. Some of a few in a row are answered from memory.
    const tries = []
    for (let i = 0; i < 20; i++) {
      const { result, statements } = await statementsOf(() => list('50244440001'))
      expect(result.status).toBe(200)
      expect(result.body).toEqual(first.body)
      tries.push(statements)
      if (statements.length === 1) break
    }
    const hit = tries.at(-1)!
    expect(hit).toHaveLength(1)
    expect(hit[0]).toMatch(/pg_current_snapshot/)
    // Other variables are another answer.
    const other = await statementsOf(() =>
      t.gql(ConversationsDocument, { first: 4, filter: { phoneNumber: '50244440001' } }),
    )
    expect(other.statements.some((sql) => /FROM "?public"?\."?conversations"?/i.test(sql))).toBe(true)
  })

  it('sees every write committed before the request: through the API, or straight into the database', async () => {
    expect((await send('+50244440002', 'uno')).status).toBe(200)
    for (let i = 0; i < 3; i++) await list('50244440002')
    expect(nodes((await list('50244440002')).body.data!.conversations)[0].lastMessage?.content).toBe('uno')

    expect((await send('+50244440002', 'dos')).status).toBe(200)
    expect(nodes((await list('50244440002')).body.data!.conversations)[0].lastMessage?.content).toBe('dos')
    await list('50244440002')

    // Not through the service at all (another program, or another instance): no notice to rely on.
    const conversation = await t.app.database.prisma.conversation.findUniqueOrThrow({
      where: { phoneNumber: '50244440002' },
    })
    await t.app.database.prisma.message.update({
      where: { id: conversation.lastMessageId! },
      data: { content: 'corregido' },
    })
    const after = await statementsOf(() => list('50244440002'))
    expect(nodes(after.result.body.data!.conversations)[0].lastMessage?.content).toBe('corregido')
    expect(after.statements.length).toBeGreaterThan(1)
  })

  it('keeps only error-free answers to database reads, and lets no one past the gate', async () => {
    const missing = () => statementsOf(() => t.gql(ConversationDocument, { id: 2_000_000 }))
    for (let i = 0; i < 2; i++) await missing()
    const third = await missing()
    expect(third.result.body.errors?.[0].extensions?.code).toBe('NOT_FOUND')
    expect(third.statements.some((sql) => /conversations/.test(sql))).toBe(true)

    // templates may ask Meta first: never kept.
    for (let i = 0; i < 2; i++) await t.gql(TemplatesDocument, {})
    const templates = await statementsOf(() => t.gql(TemplatesDocument, {}))
    expect(templates.result.body.data!.templates).toEqual([])
    expect(templates.statements.some((sql) => /templates/.test(sql))).toBe(true)

    expect((await send('+50244440003', 'hola')).status).toBe(200)
    for (let i = 0; i < 3; i++) await list('50244440003')
    const anonymous = await t.gql(
      ConversationsDocument,
      { first: 5, filter: { phoneNumber: '50244440003' } },
      { token: null },
    )
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.data ?? null).toBeNull()
    expect(anonymous.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED')
    const wrong = await t.gql(
      ConversationsDocument,
      { first: 5, filter: { phoneNumber: '50244440003' } },
      { token: 'nope' },
    )
    expect(wrong.status).toBe(401)
  })

  it('counts every request against the rate limit once, answered from memory or not', async () => {
    // Limits count per clock minute: not across a minute's end.
    const left = 60_000 - (Date.now() % 60_000)
    if (left < 10_000) await new Promise((r) => setTimeout(r, left + 50))
    const limited = await startTestApp({ meta, env: { API_RATE_LIMIT_PER_MINUTE: '6' } })
    try {
      const read = () => limited.gql(ConversationsDocument, { first: 5 })
      const answers = []
      for (let i = 0; i < 6; i++) answers.push(await read())
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200])
      expect(answers[5].body).toEqual(answers[2].body)
      expect(answers[5].headers.get('x-request-id')).toMatch(/\S/)
      const over = await read()
      expect(over.status).toBe(429)
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(over.body.errors?.[0].extensions?.code).toBe('RATE_LIMITED')
    } finally {
      await limited.close()
    }
  })
})
