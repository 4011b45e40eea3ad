/**
 * The shared send-slot sequence in the database (PostgresSlotSource): who may use slots late, and
 * where an instance starts after one that drew alone. Runs on the suite's database; the embedded
 * one speaks the same SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, openDatabase } from '../src/db/database.js'
import { PostgresSlotSource, TAKEOVER_GUARD_MS } from '../src/messaging/send-rate.repository.js'
import { scratchDatabase } from './helpers/test-app.js'

let db: Database
let drop: () => Promise<void>
beforeAll(async () => {
  const scratch = await scratchDatabase()
  drop = scratch.drop
  db = await openDatabase(
    scratch.url === 'memory:' ? { kind: 'pglite', dataDir: null } : { kind: 'postgres', url: scratch.url },
  )
  // The first statement of a new client is slow (its query plan is compiled): not in a measured one.
  await new PostgresSlotSource(db.prisma, 'warm-up').reserve(1, 1)
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
    instance: (instanceId: string) => new PostgresSlotSource(db.prisma, key, { instanceId, holdMs }),
  }
}
// Each source turns the database's clock into ours with its own estimate (a few milliseconds
// apart on a loopback connection, more on a busy machine); a takeover guard is far larger.
const CLOCKS = 25
// Blocks of 10 slots 50 ms apart: the next draw comes well before a block's end (else it would
// start at the database's clock, not right after the block).
const [COUNT, INTERVAL] = [10, 50]
const SPAN = COUNT * INTERVAL

describe('the send-slot sequence in the database', () => {
  it('tells an instance drawing alone that its slots are its own, and hands them out back to back', async () => {
    const a = sequence().instance('a')
    const first = await a.reserve(COUNT, INTERVAL)
    const second = await a.reserve(COUNT, INTERVAL)
    expect([first.exclusive, second.exclusive]).toEqual([true, true])
    expect(Math.abs(second.first - (first.first + SPAN))).toBeLessThan(CLOCKS)
  })

  it('starts a second instance after the lone drawer’s late slots, and shares the sequence from then on', async () => {
    const seq = sequence()
    const [a, b] = [seq.instance('a'), seq.instance('b')]
    const alone = await a.reserve(COUNT, INTERVAL)
    const taken = await b.reserve(COUNT, INTERVAL)
    expect(taken.exclusive).toBe(false)
    expect(taken.first - (alone.first + SPAN)).toBeGreaterThan(TAKEOVER_GUARD_MS - CLOCKS)
    const back = await a.reserve(COUNT, INTERVAL)
    expect(back.exclusive).toBe(false)
    // Between instances that both know the slots are shared, no guard: the sequence runs on.
    expect(Math.abs(back.first - (taken.first + SPAN))).toBeLessThan(CLOCKS)
    expect((await b.reserve(COUNT, INTERVAL)).exclusive).toBe(false)
  })

  it('gives an instance its slots back once no one else has drawn for the hold time', async () => {
    const seq = sequence(1_000)
    const [a, b] = [seq.instance('a'), seq.instance('b')]
    await a.reserve(COUNT, INTERVAL)
    await b.reserve(COUNT, INTERVAL)
    expect((await a.reserve(COUNT, INTERVAL)).exclusive).toBe(false)
    expect((await a.reserve(COUNT, INTERVAL)).exclusive).toBe(false) // b drew under a second ago
    await new Promise((r) => setTimeout(r, 1_100))
    expect((await a.reserve(COUNT, INTERVAL)).exclusive).toBe(true)
  })

  it('counts a draw by an instance of an earlier version, which names no owner, as another instance', async () => {
    const seq = sequence()
    const a = seq.instance('a')
    expect((await a.reserve(COUNT, INTERVAL)).exclusive).toBe(true)
    // The statement the version before owners ran.
    await db.prisma.$executeRaw`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now)
      INSERT INTO send_rate_slots AS s (key, next_at)
      SELECT ${seq.key}, clock.now + 20::float8 FROM clock
      ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(s.next_at, (SELECT now FROM clock)) + 20::float8`
    expect((await a.reserve(COUNT, INTERVAL)).exclusive).toBe(false)
  })

  it('hands each of many instances drawing at once its own slots', async () => {
    const seq = sequence()
    const instances = Array.from({ length: 8 }, (_, i) => seq.instance(`i${i}`))
    const blocks = await Promise.all(instances.flatMap((s) => [s.reserve(COUNT, INTERVAL), s.reserve(COUNT, INTERVAL)]))
    const starts = blocks.map((b) => b.first).sort((x, y) => x - y)
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThan(SPAN - CLOCKS)
  })
})
