import { describe, expect, it } from 'vitest'
import { forEachConcurrently } from '../src/batches/batch.service.js'

describe('forEachConcurrently', () => {
  it('takes items in order, never runs more than the limit at once, and stops taking when told', async () => {
    let running = 0
    let peak = 0
    const started: number[] = []
    // Each item finishes when the test says so (timers would depend on the machine's load).
    const finish = new Map<number, () => void>()
    const settled = () => new Promise((resolve) => setImmediate(resolve))
    const run = forEachConcurrently([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      started.push(n)
      running++
      peak = Math.max(peak, running)
      await new Promise<void>((resolve) => finish.set(n, resolve))
      running--
      return n !== 2
    })
    await settled()
    expect(started).toEqual([5, 1, 4])
    finish.get(1)!()
    await settled()
    finish.get(2)!()
    await settled()
    finish.get(4)!()
    finish.get(5)!()
    await run
    expect(peak).toBe(3)
    // 2 said stop: the workers busy then finish, and nothing after the item taken next starts.
    expect(started.slice(0, 4)).toEqual([5, 1, 4, 2])
    expect(started).not.toContain(6)
    expect(started).toEqual([5, 1, 4, 2])
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
