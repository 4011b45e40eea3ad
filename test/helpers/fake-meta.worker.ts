/** A FakeMetaServer on a thread of its own (see fake-meta-thread.ts). */
import { parentPort, workerData } from 'node:worker_threads'
import { FakeMetaServer, type FakeMetaOptions } from './fake-meta.js'

const fake = await FakeMetaServer.start(workerData as FakeMetaOptions)
parentPort!.on('message', async (message: string) => {
  if (message === 'ledger') {
    parentPort!.postMessage({ ledger: fake.accepted.map((a) => ({ to: a.request.to, wamid: a.wamid, at: a.at })) })
  } else if (message === 'close') {
    await fake.close()
    parentPort!.postMessage({ closed: true })
  }
})
parentPort!.postMessage({ url: fake.url, env: fake.env() })
