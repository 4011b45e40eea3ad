/**
 * Preloaded into the service by the suite (`--import`): appends process.memoryUsage() to
 * $BENCH_MEMORY_FILE every 250 ms, so a peak RSS can be split into V8 heap (and how much of it is
 * the young generation), external memory (WebAssembly memories — PGlite, Prisma's query compiler —
 * and buffers) and the rest.
 */
import { appendFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'

const file = process.env.BENCH_MEMORY_FILE
if (file) {
  setInterval(() => {
    const m = process.memoryUsage()
    const mb = (x: number) => Math.round(x / 1048576)
    const young = getHeapSpaceStatistics()
      .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
      .reduce((sum, s) => sum + s.space_size, 0)
    appendFileSync(
      file,
      `${JSON.stringify({ t: Date.now(), rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), young: mb(young), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) })}\n`,
    )
  }, 250).unref()
}
