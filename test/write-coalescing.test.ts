import { describe, expect, it } from 'vitest'
import { Coalescer } from '../src/shared/coalescer.js'

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
