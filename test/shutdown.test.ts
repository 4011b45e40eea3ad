/**
 * SIGTERM in production, with requests in flight: they are answered and the process exits. (Apollo
 * used to stop itself on the signal too, racing the app's own shutdown, and the process never
 * exited; only outside NODE_ENV=test, which is why this runs the service as production does.)
 */
import { afterEach, expect, it } from 'vitest'
import { type Cleanup, durableDatabase, startChild } from './helpers/child-app.js'
import { FakeMetaServer } from './helpers/fake-meta.js'
import { API_TOKEN } from './helpers/test-app.js'

const cleanup: Cleanup = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

it('exits on SIGTERM while GraphQL reads are in flight, answering them first', async () => {
  const meta = await FakeMetaServer.start()
  cleanup.push(() => meta.close())
  const { child, url } = await startChild(
    { NODE_ENV: 'production', DATABASE_URL: await durableDatabase(cleanup), ...meta.env() },
    cleanup,
  )
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  )
  const read = () =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ conversations(first: 20) { edges { node { id lastMessage { id } } } } }' }),
    }).then(
      (res) => res.status,
      () => 'refused',
    )
  // Keep 20 reads in flight, then the signal.
  let stopping = false
  const loops = Array.from({ length: 20 }, async () => {
    const answers: (number | string)[] = []
    while (!stopping) answers.push(await read())
    return answers
  })
  await new Promise((r) => setTimeout(r, 500))
  child.kill('SIGTERM')
  stopping = true
  const answers = (await Promise.all(loops)).flat()
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 15 s'), 15_000))])
  expect(code).toBe(0)
  // Every read either was answered or found the server closed: none got a 500.
  expect(answers.filter((a) => a !== 200 && a !== 'refused' && a !== 503)).toEqual([])
  expect(answers.filter((a) => a === 200).length).toBeGreaterThan(0)
}, 90_000)
