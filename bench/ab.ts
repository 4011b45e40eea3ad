/**
 * A/B of the GraphQL read between two source trees (e.g. a snapshot before and after a change,
 * see bench/snapshot.sh): both services built and run as each tree's `npm start` does (dist/, with
 * that tree's node arguments, so a start flag can be compared too), up at once on the same seeded
 * PostgreSQL database, runs interleaved so that drift on the machine hits both alike. Reports
 * requests/s, p50/p99, the server's CPU time per request and its peak RSS. The environment passes
 * through (e.g. `GRAPHQL_RESPONSE_CACHE_MB=0` for reads that miss the response cache).
 *
 *   npx tsx bench/ab.ts /tmp/before /tmp/after [--runs 5] [--duration 5] [--connections 50]
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { LoadResult, LoadSpec } from './load-worker.js'
import {
  API_TOKEN,
  build,
  cpuSecondsOf,
  fmt,
  freePort,
  median,
  runJsonChild,
  rssOf,
  serviceEnv,
  startCommandOf,
  stop,
  waitFor,
  waitQuiet,
} from './lib.js'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    'postgres-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const roots = positionals.map((p) => path.resolve(p))
if (roots.length !== 2) throw new Error('usage: bench/ab.ts <rootA> <rootB>')

const QUERY = `query Conversations($first: Int) {
  conversations(first: $first) {
    edges { node { id phoneNumber lastMessage { id content status createdAt } } }
  }
}`

const name = `wa_bench_ab_${randomBytes(4).toString('hex')}`
const admin = new pg.Client({ connectionString: opts['postgres-url'] })
await admin.connect()
await admin.query(`CREATE DATABASE "${name}"`)
const url = new URL(opts['postgres-url']!)
url.pathname = `/${name}`
const databaseUrl = url.toString()

try {
  build(roots)
  await runJsonChild('seed', { databaseUrl, conversations: 1000, messages: 10_000 })
  const services = []
  for (const root of roots) {
    const port = await freePort()
    const start = startCommandOf(root)
    const child = spawn(process.execPath, start.args, {
      cwd: root,
      env: {
        ...serviceEnv(port, databaseUrl),
        ...start.env,
        WHATSAPP_ACCESS_TOKEN: 'EAAG-ab-test',
        WHATSAPP_PHONE_NUMBER_ID: '1',
        WHATSAPP_BUSINESS_ACCOUNT_ID: '2',
        WHATSAPP_GRAPH_API_URL: 'http://127.0.0.1:9',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    const base = `http://127.0.0.1:${port}`
    await waitFor(`${base}/readyz`, 180_000, child)
    services.push({ root, child, base, results: [] as (LoadResult & { cpu: number })[] })
  }
  const spec = (base: string, duration: number): LoadSpec => ({
    scenario: 'graphql',
    url: base,
    token: API_TOKEN,
    connections: Number(opts.connections),
    duration,
    query: QUERY,
    variables: { first: 20 },
  })
  for (const s of services) await runJsonChild('load-worker', spec(s.base, 2))
  for (let i = 0; i < Number(opts.runs); i++) {
    for (const s of i % 2 ? [...services].reverse() : services) {
      await waitQuiet(30_000)
      const cpu0 = cpuSecondsOf(s.child.pid!)!
      const r = await runJsonChild<LoadResult>('load-worker', spec(s.base, Number(opts.duration)))
      const cpu = ((cpuSecondsOf(s.child.pid!)! - cpu0) * 1000) / Math.max(1, r.ok)
      s.results.push({ ...r, cpu })
      console.error(`${s.root}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${fmt(cpu, 2)} CPU ms/req`)
    }
  }
  for (const s of services) {
    const peak = rssOf(s.child.pid!)?.hwm ?? NaN
    const m = (f: (r: (typeof s.results)[number]) => number) => median(s.results.map(f))
    console.log(
      `${s.root}: median ${fmt(m((r) => r.rps))} req/s, p50 ${fmt(m((r) => r.p50))} ms, p99 ${fmt(m((r) => r.p99))} ms, ${fmt(
        m((r) => r.cpu),
        2,
      )} CPU ms/req, peak RSS ${fmt(peak)} MB`,
    )
    await stop(s.child)
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin.end()
}
