/**
 * The send path's baseline: the service's own Meta client (`MetaGraphClient`, one `got`
 * instance) posting the same text payloads straight to the fake Meta from `connections`
 * concurrent loops, with nothing else around it. Reads one JSON argument, prints one JSON line:
 * {ok, failed, duration, rps, cpuMsPerSend, p50, p99, max}.
 */
import { fakeMetaClient, type FakeMetaSpec } from './fake-meta-client.js'

const spec = JSON.parse(process.argv[2]) as FakeMetaSpec & {
  connections: number
  duration: number
  numbers: number
}

const meta = fakeMetaClient(spec)

const phone = (i: number) => `502${String(30_000_000 + i).padStart(8, '0')}`
const content = 'Hello! Your service request has been received. A technician will contact you shortly.'
let latencies: number[] = []
let failed = 0
let n = 0
let until = 0

async function loop() {
  while (performance.now() < until) {
    const t0 = performance.now()
    try {
      // As the service sends: with our message id as callback data (MetaGraphClient checks the wamid).
      await meta.sendText(phone(n % spec.numbers), content, { messageId: ++n })
      latencies.push(performance.now() - t0)
    } catch {
      failed++
    }
  }
}
// Warm up in this process first (code optimised, sockets open), as the service is when measured.
until = performance.now() + 1000
await Promise.all(Array.from({ length: spec.connections }, loop))
latencies = []
failed = 0
const cpu0 = process.cpuUsage()
const started = performance.now()
until = started + spec.duration * 1000
await Promise.all(Array.from({ length: spec.connections }, loop))
const duration = (performance.now() - started) / 1000
const cpu = process.cpuUsage(cpu0)
latencies.sort((a, b) => a - b)
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN
process.stdout.write(
  `${JSON.stringify({
    ok: latencies.length,
    failed,
    duration,
    rps: latencies.length / duration,
    cpuMsPerSend: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length + failed),
    p50: pct(50),
    p99: pct(99),
    max: latencies.at(-1) ?? NaN,
  })}\n`,
)
