/**
 * The fake Meta Graph API (test/helpers/fake-meta.ts) in a process of its own, so its CPU is not
 * the service's. Prints one JSON line on start: {url, control, env}. The control endpoint:
 *
 *   POST /stall?ms=100   every answer held back this long (0: none)
 *   POST /reset          forget the ledger and the recorded requests
 *   GET  /stats          {accepted, malformed, requests, busiest (most accepted in any 1 s), firstAt, lastAt}
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { busiestWindow, FakeMetaServer, metaTemplate } from '../test/helpers/fake-meta.js'

export const BENCH_TEMPLATE = 'bench_notice'

const fake = await FakeMetaServer.start({
  templates: [metaTemplate({ name: BENCH_TEMPLATE, language: 'es' })],
})

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://control')
  const answer = (body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  if (req.method === 'POST' && url.pathname === '/stall') {
    fake.stall(Number(url.searchParams.get('ms') ?? 0))
    return answer({ ok: true })
  }
  if (req.method === 'POST' && url.pathname === '/reset') {
    fake.accepted.length = 0
    fake.requests.length = 0
    fake.malformed.length = 0
    return answer({ ok: true })
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    const times = fake.accepted.map((a) => a.at)
    return answer({
      accepted: times.length,
      requests: fake.requests.length,
      malformed: fake.malformed.length,
      malformedSample: fake.malformed.slice(0, 3),
      busiest: busiestWindow(times, 1000),
      firstAt: times.length ? times.reduce((a, b) => Math.min(a, b)) : null,
      lastAt: times.length ? times.reduce((a, b) => Math.max(a, b)) : null,
      pauses: pauses(times, 5),
    })
  }
  res.writeHead(404).end()
})
/** Gaps between consecutive arrivals longer than `overMs`: how many, and their total (ms). */
function pauses(times: number[], overMs: number): { count: number; totalMs: number; longestMs: number } {
  const sorted = [...times].sort((a, b) => a - b)
  let count = 0
  let totalMs = 0
  let longestMs = 0
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i] - sorted[i - 1]
    longestMs = Math.max(longestMs, gap)
    if (gap > overMs) {
      count++
      totalMs += gap
    }
  }
  return { count, totalMs: Math.round(totalMs), longestMs: Math.round(longestMs) }
}

await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve))

process.stdout.write(
  `${JSON.stringify({
    url: fake.url,
    control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    env: fake.env(),
  })}\n`,
)

process.on('SIGTERM', () => {
  control.close()
  void fake.close()
  process.exit(0)
})
