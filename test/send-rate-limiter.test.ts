import { describe, expect, it } from 'vitest'
import { SendRateLimiter } from '../src/messages/send-rate.js'
import { busiestWindow } from './helpers/fake-meta.js'

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
