/**
 * The shared send-slot sequence in the database (PostgresSlotSource): who may use slots late, and
 * where an instance starts after one that drew alone. Runs on the suite's database; the embedded
 * one speaks the same SQL. Sequences are checked in the database's clock (`draw`), exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, openDatabase, type PrismaClient } from '../src/db/database.js'
import { PostgresSlotSource, TAKEOVER_GUARD_MS } from '../src/messages/send-rate.repository.js'
import { scratchDatabase, TEST_DATABASE } from './helpers/test-app.js'

let db: Database
let drop: () => Promise<void>
beforeAll(async () => {
  const scratch = await scratchDatabase()
  drop = scratch.drop
  db = await openDatabase(
    scratch.url === 'memory:' ? { kind: 'pglite', dataDir: null } : { kind: 'postgres', url: scratch.url },
  )
})
afterAll(async () => {
  await db?.close()
  await drop?.()
})

let keys = 0
/** Sources for instances drawing from one new sequence. */
const sequence = (holdMs = 5_000) => {
  const key = `phone-${++keys}`
  return {
    key,
    instance: (instanceId: string, prisma: PrismaClient = db.prisma) =>
      new PostgresSlotSource(prisma, key, { instanceId, holdMs }),
  }
}
// Blocks of 10 slots 50 ms apart: the next draw comes well before a block's end (else it would
// start at the database's clock, not right after the block).
const [COUNT, INTERVAL] = [10, 50]
const SPAN = COUNT * INTERVAL
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('the send-slot sequence in the database', () => {
  it('tells an instance drawing alone that its slots are its own, and hands them out back to back', async () => {
    const a = sequence().instance('a')
    const first = await a.draw(COUNT, INTERVAL)
    const second = await a.draw(COUNT, INTERVAL)
    expect([first.exclusive, second.exclusive]).toEqual([true, true])
    expect(second.first - first.first).toBeCloseTo(SPAN, 6)
  })

  it('starts a second instance after the lone drawer’s late slots, and shares the sequence from then on', async () => {
    const seq = sequence()
    const [a, b] = [seq.instance('a'), seq.instance('b')]
    const alone = await a.draw(COUNT, INTERVAL)
    const taken = await b.draw(COUNT, INTERVAL)
    expect(taken.exclusive).toBe(false)
    expect(taken.first - alone.first).toBeCloseTo(SPAN + TAKEOVER_GUARD_MS, 6)
    const back = await a.draw(COUNT, INTERVAL)
    expect(back.exclusive).toBe(false)
    // Between instances that both know the slots are shared, no guard: the sequence runs on.
    expect(back.first - taken.first).toBeCloseTo(SPAN, 6)
    expect((await b.draw(COUNT, INTERVAL)).exclusive).toBe(false)
  })

  it('gives an instance its slots back once no one else has drawn for the hold time', async () => {
    const seq = sequence(1_000)
    const [a, b] = [seq.instance('a'), seq.instance('b')]
    await a.draw(COUNT, INTERVAL)
    await b.draw(COUNT, INTERVAL)
    expect((await a.draw(COUNT, INTERVAL)).exclusive).toBe(false) // the hold starts here
    expect((await a.draw(COUNT, INTERVAL)).exclusive).toBe(false)
    await sleep(1_100)
    expect((await a.draw(COUNT, INTERVAL)).exclusive).toBe(true)
  })

  it('counts a draw by an instance of an earlier version, which names no owner, as another instance', async () => {
    const seq = sequence()
    const a = seq.instance('a')
    expect((await a.draw(COUNT, INTERVAL)).exclusive).toBe(true)
    // The statement the version before owners ran.
    await db.prisma.$executeRaw`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now)
      INSERT INTO send_rate_slots AS s (key, next_at)
      SELECT ${seq.key}, clock.now + 20::float8 FROM clock
      ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(s.next_at, (SELECT now FROM clock)) + 20::float8`
    expect((await a.draw(COUNT, INTERVAL)).exclusive).toBe(false)
  })

  it('hands each of many instances drawing at once its own slots', async () => {
    const seq = sequence()
    const instances = Array.from({ length: 8 }, (_, i) => seq.instance(`i${i}`))
    const blocks = await Promise.all(instances.flatMap((s) => [s.draw(COUNT, INTERVAL), s.draw(COUNT, INTERVAL)]))
    const starts = blocks.map((b) => b.first).sort((x, y) => x - y)
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(SPAN - 1e-6)
  })

  it.skipIf(TEST_DATABASE.kind !== 'postgres')(
    'guards a takeover by what the lone drawer was told, not by a clock read before waiting for the row',
    async () => {
      const hold = 300
      const seq = sequence(hold)
      const [x, y] = [seq.instance('x'), seq.instance('y')]
      await x.draw(COUNT, INTERVAL)
      await y.draw(COUNT, INTERVAL)
      await x.draw(COUNT, INTERVAL) // shared for `hold` from here
      let yDraw: Promise<{ first: number; exclusive: boolean }> | undefined
      const alone = await db.prisma.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT 1 FROM send_rate_slots WHERE key = ${seq.key} FOR UPDATE`
          // y's statement reads the clock now, while the hold still runs, then waits for the row…
          yDraw = y.draw(COUNT, INTERVAL)
          await sleep(hold + 100)
          // …while x, once the hold is over, is told its slots are its own.
          return seq.instance('x', tx as unknown as PrismaClient).draw(COUNT, INTERVAL)
        },
        { timeout: 10_000 },
      )
      const taken = await yDraw!
      expect(alone.exclusive).toBe(true)
      expect(taken.exclusive).toBe(false)
      expect(taken.first - alone.first).toBeCloseTo(SPAN + TAKEOVER_GUARD_MS, 6)
    },
  )
})
