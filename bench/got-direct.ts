/**
 * The send path's baseline: `got`, configured like the service's Meta client, posting the same
 * text payloads straight to the fake Meta from `connections` concurrent loops. Reads one JSON
 * argument, prints one JSON line: {ok, failed, duration, rps, p50, p99, max}.
 */
import got from 'got'
import { metaRequests } from '../src/meta/meta.client.js'

const spec = JSON.parse(process.argv[2]) as {
  graphApiUrl: string
  apiVersion: string
  accessToken: string
  phoneNumberId: string
  connections: number
  duration: number
  numbers: number
}

// As MetaGraphClient builds its instance (src/meta/meta.client.ts).
const http = got.extend({
  prefixUrl: `${spec.graphApiUrl}/${spec.apiVersion}`,
  headers: { authorization: `Bearer ${spec.accessToken}`, 'user-agent': 'wa-gateway' },
  timeout: { connect: 5_000, request: 15_000 },
  retry: { limit: 0 },
  responseType: 'json',
})

const phone = (i: number) => `502${String(30_000_000 + i).padStart(8, '0')}`
const content = 'Hello! Your service request has been received. A technician will contact you shortly.'
const latencies: number[] = []
let failed = 0
let n = 0
const started = performance.now()
const until = started + spec.duration * 1000

async function loop() {
  while (performance.now() < until) {
    const t0 = performance.now()
    try {
      const body = await http
        .post(`${spec.phoneNumberId}/messages`, { json: metaRequests.text(phone(n++ % spec.numbers), content) })
        .json<{ messages?: { id: string }[] }>()
      if (!body.messages?.[0]?.id) throw new Error('no wamid')
      latencies.push(performance.now() - t0)
    } catch {
      failed++
    }
  }
}
await Promise.all(Array.from({ length: spec.connections }, loop))
const duration = (performance.now() - started) / 1000
latencies.sort((a, b) => a - b)
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN
process.stdout.write(
  `${JSON.stringify({
    ok: latencies.length,
    failed,
    duration,
    rps: latencies.length / duration,
    p50: pct(50),
    p99: pct(99),
    max: latencies.at(-1) ?? NaN,
  })}\n`,
)
