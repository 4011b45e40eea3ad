/**
 * Preloaded into the service by the suite (`--import`): appends process.memoryUsage() to
 * $BENCH_MEMORY_FILE every 250 ms, so a peak RSS can be split into V8 heap, external memory
 * (WebAssembly memories — PGlite, Prisma's query compiler — and buffers) and the rest.
 */
import { appendFileSync } from 'node:fs'

const file = process.env.BENCH_MEMORY_FILE
if (file) {
  setInterval(() => {
    const m = process.memoryUsage()
    const mb = (x: number) => Math.round(x / 1048576)
    appendFileSync(
      file,
      `${JSON.stringify({ t: Date.now(), rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) })}\n`,
    )
  }, 250).unref()
}
