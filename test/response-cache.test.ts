import { describe, expect, it } from 'vitest'
import { GraphQLResponseCache } from '../src/graphql/response-cache.js'
import { ConversationDocument, ConversationsDocument, TemplatesDocument } from './graphql/generated.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { nodes, startTestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({
  meta: { templates: [metaTemplate({ name: 'aviso', language: 'es' })] },
  env: { WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false', GRAPHQL_RESPONSE_CACHE_MB: '8' },
})

/** Runs `fn` and answers what it did: the statements that reached the database (rate limits aside). */
async function statementsOf<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = []
  const stop = ctx.t.app.database.onQuery((sql) => {
    if (!/rate_limit_windows/.test(sql)) statements.push(sql)
  })
  try {
    return { result: await fn(), statements }
  } finally {
    stop()
  }
}

const list = (phoneNumber: string) => ctx.t.gql(ConversationsDocument, { first: 5, filter: { phoneNumber } })
const send = (phoneNumber: string, content: string) =>
  ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber, content, requestId: 7 })

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
      ctx.t.gql(ConversationsDocument, { first: 4, filter: { phoneNumber: '50244440001' } }),
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
    const conversation = await ctx.t.app.database.prisma.conversation.findFirstOrThrow({
      where: { phoneNumber: '50244440002' },
    })
    await ctx.t.app.database.prisma.message.update({
      where: { id: conversation.lastMessageId! },
      data: { content: 'corregido' },
    })
    const after = await statementsOf(() => list('50244440002'))
    expect(nodes(after.result.body.data!.conversations)[0].lastMessage?.content).toBe('corregido')
    expect(after.statements.length).toBeGreaterThan(1)
  })

  it('keeps only error-free answers to database reads, and lets no one past the gate', async () => {
    const missing = () => statementsOf(() => ctx.t.gql(ConversationDocument, { id: 2_000_000 }))
    for (let i = 0; i < 2; i++) await missing()
    const third = await missing()
    expect(third.result.body.errors?.[0].extensions?.code).toBe('NOT_FOUND')
    expect(third.statements.some((sql) => /conversations/.test(sql))).toBe(true)

    // templates may ask Meta first: never kept.
    for (let i = 0; i < 2; i++) await ctx.t.gql(TemplatesDocument, {})
    const templates = await statementsOf(() => ctx.t.gql(TemplatesDocument, {}))
    expect(templates.result.body.data!.templates).toEqual([])
    expect(templates.statements.some((sql) => /templates/.test(sql))).toBe(true)

    expect((await send('+50244440003', 'hola')).status).toBe(200)
    for (let i = 0; i < 3; i++) await list('50244440003')
    const anonymous = await ctx.t.gql(
      ConversationsDocument,
      { first: 5, filter: { phoneNumber: '50244440003' } },
      { token: null },
    )
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.data ?? null).toBeNull()
    expect(anonymous.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED')
    const wrong = await ctx.t.gql(
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
    const limited = await startTestApp({ meta: ctx.meta, env: { API_RATE_LIMIT_PER_MINUTE: '6' } })
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

describe('GraphQLResponseCache', () => {
  const query = '{ conversations { totalCount } }'
  const request = (q = query) => ({ method: 'POST', headers: {}, body: { query: q, variables: { first: 1 } } }) as never
  const reply = () => {
    const r = {
      statusCode: 200,
      code: () => r,
      header: () => r,
      getHeader: () => 'application/json; charset=utf-8',
    }
    return r as never
  }
  /** Lets the promise chains started so far run to their next wait. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
  }
  /** The cache over a snapshot the test moves, and an "Apollo" that answers with its run count. */
  function setup(maxBytes = 1 << 20) {
    let snapshot = 1
    const reads: { resolve: () => void }[] = []
    let runs = 0
    const cache = new GraphQLResponseCache(
      () =>
        new Promise<string>((resolve) => {
          const seen = snapshot // what the database says when the read runs
          reads.push({ resolve: () => resolve(`v${seen}`) })
        }),
      maxBytes,
    )
    const handle = cache.handler(
      async () => ({ phoneNumberIds: null }),
      async (req) => {
        const state = cache.stateOf(req as never)
        if (state) state.cacheable = true
        return `answer ${++runs}`
      },
    )
    return {
      handle,
      reads,
      runs: () => runs,
      write: () => snapshot++,
      settle,
      /** Serves one request, answering every snapshot read as it comes. */
      async serve(req = request()) {
        const answer = handle(req, reply())
        for (;;) {
          await settle()
          const read = reads.shift()
          if (!read) return answer
          read.resolve()
        }
      },
    }
  }

  it('never vouches for a request with a snapshot read that started before it arrived', async () => {
    const c = setup()
    expect(await c.serve()).toBe('answer 1') // learned
    expect(await c.serve()).toBe('answer 2') // kept, at snapshot v1
    expect(await c.serve()).toBe('answer 2')
    // A read is in flight (it saw v1) when a write commits and a second request arrives.
    const early = c.handle(request(), reply())
    await c.settle()
    expect(c.reads).toHaveLength(1)
    c.write()
    const late = c.handle(request(), reply())
    c.reads.shift()!.resolve()
    expect(await early).toBe('answer 2')
    await c.settle()
    expect(c.reads).toHaveLength(1) // the late request waits for a read of its own…
    c.reads.shift()!.resolve()
    expect(await late).toBe('answer 3') // …which sees the write
  })

  it('shares one snapshot read among the requests waiting for it', async () => {
    const c = setup()
    await c.serve()
    await c.serve()
    const answers = Array.from({ length: 20 }, () => c.handle(request(), reply()))
    await c.settle()
    expect(c.reads).toHaveLength(1)
    c.reads.shift()!.resolve()
    expect(new Set(await Promise.all(answers))).toEqual(new Set(['answer 2']))
  })

  it('leaves to Apollo what it must check itself, every time', async () => {
    const odd = [
      { method: 'POST', headers: {}, body: { query, operationName: 5 } },
      { method: 'POST', headers: {}, body: { query, operationName: 'a\nb' } },
      { method: 'POST', headers: {}, body: { query, variables: { first: Number.POSITIVE_INFINITY } } },
      { method: 'POST', headers: {}, body: { query, variables: [1] } },
      { method: 'POST', headers: {}, body: { query, extensions: { persistedQuery: { version: 1 } } } },
      { method: 'GET', headers: {}, query: { query } },
    ]
    for (const req of odd) {
      const c = setup()
      for (let i = 1; i <= 3; i++) expect(await c.serve(req as never)).toBe(`answer ${i}`)
    }
  })

  it('keeps one answer per media type asked for', async () => {
    const c = setup()
    const asking = (accept: string) => ({ ...(request() as object), headers: { accept } }) as never
    await c.serve(asking('application/json'))
    expect(await c.serve(asking('application/json'))).toBe('answer 2')
    expect(await c.serve(asking('application/graphql-response+json'))).toBe('answer 3')
    expect(await c.serve(asking('application/json'))).toBe('answer 2')
  })

  it('computes an answer once for the requests that read the same snapshot, and again after a write', async () => {
    const releases: (() => void)[] = []
    let runs = 0
    const reads: (() => void)[] = []
    let snapshot = 1
    const cache = new GraphQLResponseCache(
      () => new Promise<string>((resolve) => reads.push(() => resolve(`v${snapshot}`))),
      1 << 20,
    )
    const handle = cache.handler(
      async () => ({ phoneNumberIds: null }),
      async (req) => {
        cache.stateOf(req as never)!.cacheable = true
        const n = ++runs
        if (n > 1) await new Promise<void>((resolve) => releases.push(resolve))
        return `answer ${n}`
      },
    )
    /** Starts a request and answers its snapshot read; the answer is still to come. */
    const arrive = async () => {
      const answer = handle(request(), reply())
      await settle()
      reads.shift()!()
      await settle()
      return { answer }
    }
    expect(await handle(request(), reply())).toBe('answer 1') // learned
    const pollers = Array.from({ length: 10 }, () => handle(request(), reply()))
    await settle()
    expect(reads).toHaveLength(1)
    reads.shift()!()
    await settle()
    expect(runs).toBe(2) // one of the ten computes…
    releases.shift()!()
    expect(new Set(await Promise.all(pollers))).toEqual(new Set(['answer 2'])) // …for all of them

    snapshot = 2 // a write
    const first = await arrive()
    expect(runs).toBe(3)
    const same = await arrive() // reads v2 too: waits for the answer being computed
    expect(runs).toBe(3)
    snapshot = 3 // another write while it is computed at v2
    const newer = await arrive()
    expect(runs).toBe(4) // does not take the v2 answer
    releases.shift()!()
    expect(await first.answer).toBe('answer 3')
    expect(await same.answer).toBe('answer 3')
    releases.shift()!()
    expect(await newer.answer).toBe('answer 4')
  })

  it('hands those waiting an answer too large to keep, and lets them compute one that failed', async () => {
    const outcomes: ((value: string | Error) => void)[] = []
    let runs = 0
    const reads: (() => void)[] = []
    const cache = new GraphQLResponseCache(() => new Promise<string>((resolve) => reads.push(() => resolve('v1'))), 800)
    const handle = cache.handler(
      async () => ({ phoneNumberIds: null }),
      async (req) => {
        cache.stateOf(req as never)!.cacheable = true
        if (++runs === 1) return 'learned'
        const outcome = await new Promise<string | Error>((resolve) => outcomes.push(resolve))
        if (outcome instanceof Error) throw outcome
        return outcome
      },
    )
    const together = async (n: number) => {
      const answers = Array.from({ length: n }, () => handle(request(), reply()).catch((err: Error) => err.message))
      await settle()
      reads.shift()!()
      await settle()
      return answers
    }
    await handle(request(), reply())
    const big = 'x'.repeat(1_000) // over an eighth of 800 bytes: never kept
    let waiting = await together(5)
    expect(runs).toBe(2)
    outcomes.shift()!(big)
    expect(await Promise.all(waiting)).toEqual(Array(5).fill(big))

    waiting = await together(3)
    expect(runs).toBe(3)
    outcomes.shift()!(new Error('database gone'))
    await settle()
    expect(runs).toBe(5) // the two waiting ran it themselves
    outcomes.shift()!('a')
    outcomes.shift()!('b')
    expect((await Promise.all(waiting)).sort()).toEqual(['a', 'b', 'database gone'])
  })

  it('keeps answers within its memory, the least recently used going first', async () => {
    // Each answer here takes 2 × (key + body + snapshot) + 200 ≈ 396 bytes: eight fit in 3,200.
    const c = setup(3_200)
    const queries = Array.from({ length: 9 }, (_, i) => `{ q${i}: conversations { totalCount } }`)
    for (const q of queries) {
      await c.serve(request(q))
      await c.serve(request(q))
    }
    const runs = c.runs()
    await c.serve(request(queries[0])) // the oldest is gone
    expect(c.runs()).toBe(runs + 1)
    await c.serve(request(queries[8])) // the newest is still there
    expect(c.runs()).toBe(runs + 1)
  })
})
