import { describe, expect, it } from 'vitest'
import { bearerAuthenticator } from '../src/auth/auth.js'
import { sendTemplateSchema } from '../src/messaging/messaging.schemas.js'
import { forEachConcurrently } from '../src/batches/batch.service.js'
import { Coalescer } from '../src/db/coalescer.js'
import { GraphQLResponseCache } from '../src/graphql/response-cache.js'
import { SendRateLimiter } from '../src/messaging/send-rate.js'
import { busiestWindow } from './helpers/fake-meta.js'
import { normalizePhoneNumber } from '../src/messaging/phone.js'
import { renderTemplateText } from '../src/templates/template.render.js'
import { formatPath } from '../src/validation.js'

describe('normalizePhoneNumber', () => {
  it.each([
    ['+50212345678', '50212345678'],
    ['+502 1234-5678', '50212345678'],
    ['(+502) 1234 5678', '50212345678'],
    ['00502 1234 5678', '50212345678'],
    ['+1 (415) 555-0100', '14155550100'],
  ])('%s → %s', (input, digits) => expect(normalizePhoneNumber(input)).toBe(digits))

  it.each(['12345678', '50212345678', '+0502123456', '+502', '+5021234567890123', '+502abc45678', ''])(
    'refuses %j',
    (input) => expect(normalizePhoneNumber(input)).toBeNull(),
  )
})

describe('renderTemplateText', () => {
  const components = [
    { type: 'HEADER', format: 'TEXT', text: 'Solicitud {{1}}' },
    { type: 'BODY', text: 'Hola {{1}}, su técnico llega {{2}}.' },
    { type: 'FOOTER', text: 'Gracias' },
    { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'OK' }] },
  ]

  it('fills positional header and body placeholders and keeps the footer', () => {
    expect(
      renderTemplateText(components, [
        { type: 'header', parameters: [{ type: 'text', text: 'SR-1042' }] },
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Ana' },
            { type: 'text', text: 'martes 10:00' },
          ],
        },
      ]),
    ).toBe('Solicitud SR-1042\nHola Ana, su técnico llega martes 10:00.\nGracias')
  })

  it('fills named placeholders and leaves missing ones visible', () => {
    const named = [{ type: 'BODY', text: 'Hola {{cliente}}, orden {{orden}}.' }]
    expect(
      renderTemplateText(named, [
        { type: 'body', parameters: [{ type: 'text', text: 'Ana', parameter_name: 'cliente' }] },
      ]),
    ).toBe('Hola Ana, orden {{orden}}.')
  })

  it('is null when the template is unknown; media headers are skipped', () => {
    expect(renderTemplateText(undefined, [])).toBeNull()
    expect(
      renderTemplateText(
        [
          { type: 'HEADER', format: 'IMAGE' },
          { type: 'BODY', text: 'Hola' },
        ],
        [],
      ),
    ).toBe('Hola')
  })
})

describe('bearerAuthenticator', () => {
  const authenticate = bearerAuthenticator(['token-one-0123456789', 'token-two-0123456789'])
  const verify = (header: string | undefined) => authenticate(header) !== null

  it('answers which token matched', () => {
    expect(authenticate('Bearer token-two-0123456789')).toBe('token-two-0123456789')
  })

  it('accepts any configured token, case-insensitive scheme', () => {
    expect(verify('Bearer token-one-0123456789')).toBe(true)
    expect(verify('bearer token-two-0123456789')).toBe(true)
  })

  it.each([
    undefined,
    '',
    'Bearer',
    'Bearer token-one',
    'Basic token-one-0123456789',
    'token-one-0123456789',
    'Bearer token-one-0123456789x',
  ])('refuses %j', (header) => expect(verify(header)).toBe(false))
})

describe('request validation', () => {
  it('names nested fields the way the client sent them', () => {
    expect(formatPath(['recipients', 1, 'phoneNumber'])).toBe('recipients[1].phoneNumber')
    expect(formatPath(['components', 0, 'parameters', 2, 'text'])).toBe('components[0].parameters[2].text')
    expect(formatPath([])).toBe('')
  })

  it('keeps the number as written next to the digits sent to Meta, and sends button indexes as strings', () => {
    const parsed = sendTemplateSchema.parse({
      templateName: 'x',
      languageCode: 'es_MX',
      components: [{ type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: 'a' }] }],
      recipients: [{ phoneNumber: '+502 1234 5678', requestId: '12' }],
    })
    expect(parsed.recipients).toEqual([{ phoneNumber: '+502 1234 5678', to: '50212345678', requestId: 12 }])
    expect(parsed.components[0]).toMatchObject({ index: '0' })
  })
})

describe('forEachConcurrently', () => {
  it('takes items in order, never runs more than the limit at once, and stops taking when told', async () => {
    let running = 0
    let peak = 0
    const started: number[] = []
    await forEachConcurrently([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      started.push(n)
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, n * 2))
      running--
      return n !== 2
    })
    expect(peak).toBe(3)
    // 2 said stop: the workers busy then finish, and nothing after the item taken next starts.
    expect(started.slice(0, 4)).toEqual([5, 1, 4, 2])
    expect(started).not.toContain(6)
  })

  it('runs the items `more` brings once they come, with every worker, after the first ones', async () => {
    let bring!: (items: number[]) => void
    const more = new Promise<number[]>((resolve) => (bring = resolve))
    let running = 0
    let peak = 0
    const done: number[] = []
    const all = forEachConcurrently(
      [1],
      3,
      async (n) => {
        running++
        peak = Math.max(peak, running)
        await new Promise((r) => setTimeout(r, 5))
        running--
        done.push(n)
        return true
      },
      more,
    )
    await new Promise((r) => setTimeout(r, 30))
    expect(done).toEqual([1]) // the others are not there yet, and it has not ended
    bring([2, 3, 4, 5, 6])
    await all
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6])
    expect(peak).toBe(3) // the workers that found nothing waited, then took part
  })

  it('takes none of what `more` brings once told to stop', async () => {
    const done: number[] = []
    await forEachConcurrently(
      [1],
      3,
      async (n) => {
        done.push(n)
        return false
      },
      new Promise((r) => setTimeout(() => r([2, 3]), 20)),
    )
    expect(done).toEqual([1])
  })
})

describe('SendRateLimiter', () => {
  /** A slot source that hands out every slot at once: only the local window can hold sends back. */
  const burstySource = {
    exclusiveLateMs: Infinity,
    reserve: async () => ({ first: performance.timeOrigin + performance.now(), exclusive: true }),
  }
  const now = () => performance.timeOrigin + performance.now()

  it('spaces sends evenly: never more than the rate in any one-second window', async () => {
    const limiter = new SendRateLimiter(50)
    const times: number[] = []
    for (let i = 0; i < 60; i++) {
      const ticket = await limiter.acquire()
      times.push(now())
      ticket.written()
    }
    expect(busiestWindow(times)).toBeLessThanOrEqual(50)
    expect(times.at(-1)! - times[0]).toBeGreaterThanOrEqual(59 * 20)
  })

  it('holds sends back on its own window when slots come in a burst', async () => {
    const limiter = new SendRateLimiter(10, burstySource)
    const times: number[] = []
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        const ticket = await limiter.acquire()
        times.push(now())
        ticket.written()
      }),
    )
    expect(busiestWindow(times)).toBeLessThanOrEqual(10)
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(2_000)
  })

  it('fetches the next block of shared slots before it runs out, so a slow source costs no slots', async () => {
    // A shared source answering in 10 ms: fetched only once a block is used up, the next block
    // would start 10 ms late and its first slots be dropped as stale (twice the 5 ms allowed).
    let handedOut = 0
    let next = 0
    const slowSource = {
      exclusiveLateMs: Infinity,
      reserve: async (count: number, intervalMs: number) => {
        const first = Math.max(next, now()) // the database's clock, read before the answer travels back
        next = first + count * intervalMs
        handedOut += count
        await new Promise((r) => setTimeout(r, 10))
        return { first, exclusive: false }
      },
    }
    const limiter = new SendRateLimiter(400, slowSource) // blocks of 20 slots, 51 ms
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 25; i++) (await limiter.acquire()).written()
      }),
    )
    expect(handedOut - 200).toBeLessThanOrEqual(2 * 20) // at most the blocks still ahead when it ended
  })

  it('uses a late slot when no other instance draws slots (up to how late its source allows), and replaces it when one may', async () => {
    const lateBy = async (limiter: SendRateLimiter) => {
      ;(await limiter.acquire()).written() // the first slot: now
      const second = await limiter.reserve() // the next one, 204 ms on
      const until = now() + 260
      while (now() < until); // the event loop held up past it (a slow statement, GC)
      const from = now()
      ;(await second.go()).written()
      return now() - from
    }
    /** A source like PostgresSlotSource: says whether anyone else draws, and how late a lone drawer's slot may go. */
    const source = (exclusive: boolean, exclusiveLateMs: number) => {
      let next = 0
      return {
        exclusiveLateMs,
        reserve: async (count: number, intervalMs: number) => {
          const first = Math.max(next, now())
          next = first + count * intervalMs
          return { first, exclusive }
        },
      }
    }
    // Only this process draws from a MemorySlotSource: late, the slot crowds no one's window.
    expect(await lateBy(new SendRateLimiter(5))).toBeLessThan(75)
    // Drawn alone, 56 ms late: within what the source allows (another instance starts after that).
    expect(await lateBy(new SendRateLimiter(5, source(true, 200)))).toBeLessThan(75)
    // Drawn alone, but later than the source allows.
    expect(await lateBy(new SendRateLimiter(5, source(true, 20)))).toBeGreaterThanOrEqual(75)
    // Shared: another instance may have filled the window the late slot falls in.
    expect(await lateBy(new SendRateLimiter(5, source(false, Infinity)))).toBeGreaterThanOrEqual(75)
  })

  it('replaces a slot that waiting for room in its own window made too late', async () => {
    let reserves = 0
    const source = {
      exclusiveLateMs: 100,
      reserve: async () => {
        reserves++
        return { first: now(), exclusive: true }
      },
    }
    const limiter = new SendRateLimiter(5, source) // a slot per draw
    for (let i = 0; i < 5; i++) (await limiter.acquire()).written() // the window is full for a second
    expect(reserves).toBe(5)
    ;(await limiter.acquire()).written() // its slot is a second late once the window has room
    expect(reserves).toBe(7)
  })

  it('counts a send until its request is written out (a late write cannot crowd a window)', async () => {
    const limiter = new SendRateLimiter(5, burstySource)
    const tickets = await Promise.all(Array.from({ length: 5 }, () => limiter.acquire()))
    let sixth = false
    const waiting = limiter.acquire().then((ticket) => {
      sixth = true
      return ticket
    })
    await new Promise((r) => setTimeout(r, 1_200)) // a second passes, the five still unwritten
    expect(sixth).toBe(false)
    const writtenAt = now()
    for (const t of tickets) t.written()
    await waiting
    expect(now() - writtenAt).toBeGreaterThanOrEqual(1_000) // a full window after they went out
  })
})

describe('Coalescer', () => {
  /** A write that records each call's inputs and answers after `ms`; it refuses the input 'bad'. */
  function recordingWrite(ms = 5) {
    const calls: string[][] = []
    const write = async (inputs: string[]) => {
      calls.push([...inputs])
      await new Promise((r) => setTimeout(r, ms))
      if (inputs.includes('bad')) throw new Error('refused')
      return inputs.map((i) => `${i}!`)
    }
    return { calls, write }
  }

  it('writes a lone call at once, and calls made meanwhile together in the next write', async () => {
    const { calls, write } = recordingWrite()
    const c = new Coalescer(write, { key: (i) => i, retryAlone: () => true })
    const first = c.run('a')
    await new Promise((r) => setTimeout(r, 1)) // 'a' is in flight now
    const rest = ['b', 'c', 'd'].map((i) => c.run(i))
    expect(await Promise.all([first, ...rest])).toEqual(['a!', 'b!', 'c!', 'd!'])
    expect(calls).toEqual([['a'], ['b', 'c', 'd']])
  })

  it('lets the calls of one turn of the event loop share the first write, even when writes never wait', async () => {
    // An engine on this thread (PGlite) answers without the loop turning: were the first write
    // started between two callbacks, no call would ever find one in flight.
    const calls: string[][] = []
    const c = new Coalescer(
      async (inputs: string[]) => {
        calls.push([...inputs])
        return inputs.map((i) => `${i}!`)
      },
      { key: (i) => i, retryAlone: () => true },
    )
    const results = await new Promise<string[]>((resolve) => {
      const pending: Promise<string>[] = []
      // Two callbacks of one turn, with the microtasks run between them, as two requests read
      // in one poll phase are (immediates queued before the turn all run in it).
      setImmediate(() => pending.push(c.run('a')))
      setImmediate(() => {
        pending.push(c.run('b'))
        void Promise.all(pending).then(resolve)
      })
    })
    expect(results).toEqual(['a!', 'b!'])
    expect(calls).toEqual([['a', 'b']])
  })

  it('never puts two inputs with one key in one write, and caps a write at maxBatch', async () => {
    const { calls, write } = recordingWrite()
    const c = new Coalescer(write, { key: (i: string) => i[0], maxBatch: 2, retryAlone: () => true })
    await Promise.all(['x1', 'x2', 'y1', 'z1'].map((i) => c.run(i)))
    expect(calls).toEqual([
      ['x1', 'y1'],
      ['x2', 'z1'],
    ])
  })

  it('fails only the caller whose input was refused', async () => {
    const { calls, write } = recordingWrite()
    const c = new Coalescer(write, { key: (i) => i, retryAlone: (err) => (err as Error).message === 'refused' })
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((i) => c.run(i)))
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'a!',
      'refused',
      'c!',
    ])
    expect(calls).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']])
  })

  it('fails every caller, writing nothing again, when the shared write may have committed', async () => {
    const { calls, write } = recordingWrite()
    // A dropped connection: the database may have committed, so a second write could double it.
    const c = new Coalescer(write, { key: (i) => i, retryAlone: () => false })
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((i) => c.run(i)))
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(calls).toEqual([['a', 'bad', 'c']])
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
      async () => 'token',
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
      async () => 'token',
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
      async () => 'token',
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
