/**
 * The fake Meta on a worker thread, for timing tests: a request's arrival is stamped by an event
 * loop of its own, not by the test process's, which the service under test keeps busy (its
 * stamps would bunch whenever the service's work delays them).
 */
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { FakeMetaOptions } from './fake-meta.js'

export interface FakeMetaThread {
  url: string
  env(): Record<string, string>
  /** Every accepted send: recipient, wamid, and arrival time (ms since the epoch). */
  ledger(): Promise<{ to: string; wamid: string; at: number }[]>
  close(): Promise<void>
}

export async function startFakeMetaThread(options: FakeMetaOptions = {}): Promise<FakeMetaThread> {
  // A TypeScript worker: register tsx's loader in the thread, then import the worker module.
  const script = new URL('./fake-meta.worker.ts', import.meta.url).href
  const worker = new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(script)}) })`,
    { eval: true, workerData: options },
  )
  const [{ url, env }] = (await once(worker, 'message')) as [{ url: string; env: Record<string, string> }]
  const ask = async <T>(message: string): Promise<T> => {
    worker.postMessage(message)
    const [answer] = await once(worker, 'message')
    return answer as T
  }
  return {
    url,
    env: () => env,
    ledger: async () => (await ask<{ ledger: { to: string; wamid: string; at: number }[] }>('ledger')).ledger,
    close: async () => {
      await ask('close')
      await worker.terminate()
    },
  }
}
