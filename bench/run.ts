/**
 * The benchmark suite (`npm run bench`; `npm run bench -- --quick` for a CI-sized run).
 *
 * Every piece runs in its own process, compiled first as production does (`npm run build`): the
 * service in production mode (`node --enable-source-maps dist/main.js`, as `npm start` runs it),
 * and, built into bench/build by bench/tsconfig.build.json, the fake Meta Graph API
 * (bench/fake-meta-process.ts), the baselines (bench/graphql-baseline.ts, bench/got-direct.ts), the
 * seed, the load (autocannon, bench/load-worker.ts) and the media baseline (bench/media-baseline.ts).
 * Only this orchestrator runs through tsx (with the media benchmark's client, bench/media.ts).
 * Each benchmark prints the median of several runs, its baseline from the same run, the ratio and
 * the target, plus the service's peak RSS. See BENCHMARKS.md.
 *
 * Options:
 *   --quick                 one short run of everything (also BENCH_QUICK=1)
 *   --db pglite,postgres    which databases (default both; --quick: pglite)
 *   --only graphql,webhook,send,fanout,media
 *   --runs N --duration S   runs per measurement and seconds per run
 *   --rates 80,1000         the fan-out's messages per second
 *   --cpu-prof              profile the service processes (node --cpu-prof) into bench/profiles/
 *   --postgres-url URL      the server for scratch databases (default postgres://postgres@127.0.0.1:5432/test)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { pathToFileURL } from 'node:url'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { LoadResult, LoadSpec } from './load-worker.js'
import {
  adopt,
  API_TOKEN,
  APP_SECRET,
  cpuSecondsOf,
  postgresCpuSeconds,
  BENCH_DIR,
  firstJsonLine,
  fmt,
  freePort,
  median,
  ROOT,
  build,
  type Row,
  RssSampler,
  runJsonChild,
  SERVICE_ARGS,
  script,
  serviceEnv,
  sleep,
  spawnScript,
  stop,
  table,
  verdict,
  waitFor,
  waitQuiet,
  busyBetween,
  cpuTicks,
} from './lib.js'
import { benchMedia } from './media.js'
import { summarizeProfiles } from './profile-top.js'

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    db: { type: 'string' },
    only: { type: 'string', default: 'graphql,webhook,send,fanout,media' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    rates: { type: 'string', default: '80,1000' },
    'cpu-prof': { type: 'boolean', default: false },
    'postgres-url': {
      type: 'string',
      default: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
  },
})
const quick = opts.quick!
const RUNS = Number(opts.runs ?? (quick ? 1 : 3))
const DURATION = Number(opts.duration ?? (quick ? 3 : 6))
const WARMUP = quick ? 1 : 2
const only = new Set(opts.only!.split(','))
// Quick (CI) runs use the embedded database only, unless told otherwise.
const databases = (opts.db ?? (quick ? 'pglite' : 'pglite,postgres')).split(',') as ('pglite' | 'postgres')[]
const PROFILE_DIR = path.join(BENCH_DIR, 'profiles')
const SEED = { conversations: 1000, messages: 10_000 }
const RSS_LIMIT_MB = 250

const log = (...args: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args)
const out: string[] = []
const print = (text: string) => {
  out.push(text)
  console.log(text)
}

// ---------------------------------------------------------------------------------------------
// Processes

interface FakeMeta {
  url: string
  control: string
  env: Record<string, string>
  child: ChildProcess
}

async function startFakeMeta(): Promise<FakeMeta> {
  const child = spawnScript('fake-meta-process', [])
  const info = await firstJsonLine<Omit<FakeMeta, 'child'>>(child, 'fake Meta')
  return { ...info, child }
}

const fakeControl = {
  stall: (fake: FakeMeta, ms: number) => fetch(`${fake.control}/stall?ms=${ms}`, { method: 'POST' }),
  reset: (fake: FakeMeta) => fetch(`${fake.control}/reset`, { method: 'POST' }),
  stats: async (fake: FakeMeta) =>
    (await (await fetch(`${fake.control}/stats`)).json()) as {
      accepted: number
      malformed: number
      malformedSample: unknown[]
      busiest: number
      firstAt: number | null
      lastAt: number | null
      /** Gaps over 5 ms between consecutive arrivals. */
      pauses: { count: number; totalMs: number; longestMs: number }
    },
}

interface Service {
  url: string
  child: ChildProcess
  rss: RssSampler
  tail: string[]
  /** Where its CPU profile goes (--cpu-prof), else null. */
  profileDir: string | null
  /** Stops it; resolves with how long it took to exit (ms) and its peak RSS (MB). */
  stop(): Promise<{ exitMs: number; peakRss: number }>
}

let profileSeq = 0
let memorySeq = 0
interface MemorySample {
  rss: number
  heapTotal: number
  heapUsed: number
  /** Of heapTotal, the young generation (new space and new large objects). */
  young?: number
  external: number
  arrayBuffers: number
}
/** Each service process's largest memory sample: how its peak splits. */
const memoryPeaks: (MemorySample & { label: string })[] = []
function profiling(label: string): { args: string[]; dir: string | null } {
  if (!opts['cpu-prof']) return { args: [], dir: null }
  // One folder per process: V8 writes a profile per thread (a worker would have one of its own).
  const dir = path.join(PROFILE_DIR, `${String(++profileSeq).padStart(2, '0')}-${label}`)
  mkdirSync(dir, { recursive: true })
  return { args: ['--cpu-prof', '--cpu-prof-dir', dir], dir }
}

/** Notes a measured stretch in the process's profile folder (profile-top.ts counts only these). */
function markWindow(service: Service, from: bigint, to: bigint) {
  if (!service.profileDir) return
  const file = path.join(service.profileDir, 'windows.json')
  const windows = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as number[][]) : []
  windows.push([Number(from / 1000n), Number(to / 1000n)]) // µs of the monotonic clock, as V8's profile
  writeFileSync(file, JSON.stringify(windows))
}

function forward(child: ChildProcess, label: string, tail: string[]) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line)
      if (tail.length > 20) tail.shift()
      if (process.env.BENCH_VERBOSE) console.error(`[${label}] ${line}`)
    })
  }
}

async function track(
  child: ChildProcess,
  url: string,
  readyPath: string | null,
  tail: string[],
  what: string,
  profileDir: string | null,
): Promise<Service> {
  if (readyPath !== null) {
    try {
      await waitFor(`${url}${readyPath}`, 180_000, child)
    } catch (err) {
      child.kill('SIGKILL')
      throw new Error(`${what} did not start: ${(err as Error).message}\n${tail.join('\n')}`)
    }
  }
  const rss = new RssSampler(child.pid!)
  return {
    url,
    child,
    rss,
    tail,
    profileDir,
    async stop() {
      rss.sample()
      const exitMs = await stop(child)
      rss.stop()
      return { exitMs, peakRss: rss.peak }
    },
  }
}

/** The service in production mode, as `npm start` runs it but without the npm wrapper. */
async function startService(label: string, databaseUrl: string, fake: FakeMeta, env: Record<string, string> = {}) {
  const port = await freePort()
  const profile = profiling(label)
  const memoryFile = path.join(os.tmpdir(), `wa-bench-memory-${process.pid}-${++memorySeq}.jsonl`)
  const probe = ['--import', pathToFileURL(script('memory-probe')).href]
  const child = adopt(
    spawn(process.execPath, [...profile.args, ...probe, ...SERVICE_ARGS], {
      cwd: ROOT,
      env: {
        ...serviceEnv(port, databaseUrl),
        WHATSAPP_APP_SECRET: APP_SECRET,
        WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false',
        WHATSAPP_MESSAGES_PER_SECOND: '10000',
        BENCH_MEMORY_FILE: memoryFile,
        ...fake.env,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  const tail: string[] = []
  forward(child, label, tail)
  const service = await track(child, `http://127.0.0.1:${port}`, '/readyz', tail, `the service (${label})`, profile.dir)
  const stopService = service.stop
  service.stop = async () => {
    const result = await stopService()
    // Where the peak was: V8 heap, or external memory (WebAssembly, buffers).
    try {
      const samples = readFileSync(memoryFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as MemorySample)
      const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a))
      memoryPeaks.push({ label, ...peak })
      rmSync(memoryFile, { force: true })
    } catch {
      // no samples
    }
    return result
  }
  return service
}

async function startGraphqlBaseline(label: string, databaseUrl: string): Promise<Service> {
  const profile = profiling(label)
  const child = spawnScript('graphql-baseline', [], {
    env: {
      DATABASE_URL: databaseUrl,
      API_TOKENS: API_TOKEN,
      API_RATE_LIMIT_PER_MINUTE: '1000000',
      NODE_ENV: 'production',
    },
    nodeArgs: profile.args,
    inheritStderr: false,
  })
  const tail: string[] = []
  const announced = firstJsonLine<{ url: string }>(child, 'graphql baseline', 180_000)
  forward(child, 'baseline', tail)
  const { url } = await announced.catch((err: Error) => {
    throw new Error(`${err.message}\n${tail.join('\n')}`)
  })
  // It announces its URL once listening.
  return track(child, url, null, tail, 'graphql baseline', profile.dir)
}

function load(spec: LoadSpec): Promise<LoadResult> {
  return runJsonChild<LoadResult>('load-worker', spec)
}

type Measured = LoadResult & {
  cpuMsPerRequest: number
  machineBusyBefore: number
  /** The machine's CPU use during the load (all processes, both cores: 0..1). */
  machineBusyDuring: number
  /** PostgreSQL only: transactions (each statement outside one is its own) per request. */
  dbTransactionsPerRequest: number | null
  /** CPU ms per request of the other processes at work: the load, and when asked the fake Meta and PostgreSQL. */
  othersCpuMsPerRequest: { load: number; fakeMeta: number | null; postgres: number | null }
}

/** Commits a one-row update every `everyMs` on its own connection until stopped; stop() says how many. */
async function commitsEvery(databaseUrl: string, everyMs: number): Promise<{ stop(): Promise<number> }> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query('CREATE TABLE IF NOT EXISTS bench_ticks (id int PRIMARY KEY, n bigint NOT NULL)')
  await client.query('INSERT INTO bench_ticks VALUES (1, 0) ON CONFLICT (id) DO NOTHING')
  let commits = 0
  let running = true
  const loop = (async () => {
    while (running) {
      await client.query('UPDATE bench_ticks SET n = n + 1 WHERE id = 1')
      commits++
      await sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      await client.end()
      return commits
    },
  }
}

/** PostgreSQL's count of committed and rolled-back transactions in the service's database. */
async function pgTransactions(databaseUrl: string): Promise<number | null> {
  if (!databaseUrl.startsWith('postgres')) return null
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    // Statistics reach the shared counters up to a second after a transaction ends.
    await sleep(1100)
    const { rows } = await client.query(
      'SELECT (xact_commit + xact_rollback)::float8 AS n FROM pg_stat_database WHERE datname = current_database()',
    )
    return Number(rows[0].n)
  } finally {
    await client.end()
  }
}

/**
 * One measured load on `server`: after the machine is quiet, with the server's CPU time per
 * request (a number that other work on the machine does not skew much) and its profile window.
 */
async function loadOn(
  server: Service,
  spec: LoadSpec,
  options: { quiet?: boolean; databaseUrl?: string; fakeMetaPid?: number } = {},
): Promise<Measured> {
  const machineBusyBefore = options.quiet === false ? NaN : await waitQuiet(quick ? 5_000 : 20_000)
  if (machineBusyBefore > 0.25)
    log(`  WARNING: the machine is ${Math.round(machineBusyBefore * 100)}% busy with other work`)
  const xacts0 = options.databaseUrl ? await pgTransactions(options.databaseUrl) : null
  const postgres = options.databaseUrl?.startsWith('postgres') ?? false
  const others0 = {
    fakeMeta: options.fakeMetaPid ? (cpuSecondsOf(options.fakeMetaPid) ?? NaN) : null,
    postgres: postgres ? postgresCpuSeconds() : null,
  }
  const cpu0 = cpuSecondsOf(server.child.pid!) ?? NaN
  const ticks0 = cpuTicks()
  const t0 = process.hrtime.bigint()
  const r = await load(spec)
  const t1 = process.hrtime.bigint()
  const cpu1 = cpuSecondsOf(server.child.pid!) ?? NaN
  const fakeMeta1 = options.fakeMetaPid ? (cpuSecondsOf(options.fakeMetaPid) ?? NaN) : null
  const postgres1 = postgres ? postgresCpuSeconds() : null
  const machineBusyDuring = busyBetween(ticks0, cpuTicks())
  markWindow(server, t0, t1)
  const requests = Math.max(1, r.ok + r.non2xx)
  const perRequest = (a: number | null, b: number | null) =>
    a === null || b === null ? null : ((b - a) * 1000) / requests
  const xacts1 = xacts0 === null ? null : await pgTransactions(options.databaseUrl!)
  return {
    ...r,
    cpuMsPerRequest: ((cpu1 - cpu0) * 1000) / requests,
    machineBusyBefore,
    machineBusyDuring,
    dbTransactionsPerRequest: xacts0 === null || xacts1 === null ? null : (xacts1 - xacts0) / requests,
    othersCpuMsPerRequest: {
      load: r.cpuMs / requests,
      fakeMeta: perRequest(others0.fakeMeta, fakeMeta1),
      postgres: perRequest(others0.postgres, postgres1),
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Databases

async function prepareDatabase(kind: 'pglite' | 'postgres'): Promise<{ url: string; drop: () => Promise<void> }> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wa-bench-pglite-'))
    return { url: `file:${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) }
  }
  const name = `wa_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: opts['postgres-url'] })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = new URL(opts['postgres-url']!)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: opts['postgres-url'] })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await c.end()
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Benchmarks

const CONVERSATIONS_QUERY = `query Conversations($first: Int) {
  conversations(first: $first) {
    edges { node { id phoneNumber lastMessage { id content status createdAt } } }
  }
}`

interface Summary {
  db: string
  bench: string
  rows: Row[]
  peakRss: number
  extra?: Record<string, unknown>
}

const medianOf = <T extends LoadResult>(results: T[], key: keyof T) => median(results.map((r) => r[key] as number))
const runsText = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join('/')
const errorsOf = (results: LoadResult[]) => results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0)

async function checkGraphqlAnswer(url: string): Promise<string> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: CONVERSATIONS_QUERY, variables: { first: 20 } }),
  })
  const body = (await res.json()) as { data?: { conversations: { edges: unknown[] } }; errors?: unknown }
  if (res.status !== 200 || !body.data || body.data.conversations.edges.length !== 20) {
    throw new Error(`unexpected GraphQL answer from ${url}: ${res.status} ${JSON.stringify(body).slice(0, 500)}`)
  }
  return JSON.stringify(body.data)
}

async function benchGraphql(
  db: string,
  urls: { service: string; uncached: string; baseline: string },
  fake: FakeMeta,
): Promise<Summary> {
  log(`GraphQL read on ${db}`)
  const connections = [10, 50]
  // All three servers up at once (PGlite: each on its own copy of the seeded folder), runs
  // interleaved, so drift on the machine hits them alike. `uncached` is the service with its
  // response cache off: what every request costs when something was written in between.
  const servers = {
    service: await startService(`graphql-${db}`, urls.service, fake),
    uncached: await startService(`graphql-uncached-${db}`, urls.uncached, fake, { GRAPHQL_RESPONSE_CACHE_MB: '0' }),
    baseline: await startGraphqlBaseline(`graphql-baseline-${db}`, urls.baseline),
  }
  const kinds = ['service', 'uncached', 'baseline'] as const
  const answers = await Promise.all(kinds.map((which) => checkGraphqlAnswer(servers[which].url)))
  if (new Set(answers).size !== 1) log('  WARNING: the service and the baseline answered differently')
  const spec = (server: Service, c: number, duration: number): LoadSpec => ({
    scenario: 'graphql',
    url: server.url,
    token: API_TOKEN,
    connections: c,
    duration,
    query: CONVERSATIONS_QUERY,
    variables: { first: 20 },
  })
  const measured: Record<(typeof kinds)[number], Record<number, Measured[]>> = {
    service: {},
    uncached: {},
    baseline: {},
  }
  for (const which of kinds) {
    await load(spec(servers[which], 50, WARMUP))
    for (const c of connections) measured[which][c] = []
  }
  for (let i = 0; i < RUNS; i++) {
    for (const c of connections) {
      for (const which of kinds) {
        const r = await loadOn(servers[which], spec(servers[which], c, DURATION), { databaseUrl: urls[which] })
        log(
          `  ${which} ${c} conn run ${i + 1}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${fmt(r.cpuMsPerRequest, 2)} CPU ms/req, non-2xx ${r.non2xx}, errors ${r.errors}`,
        )
        measured[which][c].push(r)
      }
    }
  }
  // PostgreSQL only (PGlite's folder has one process): the service with a commit elsewhere in
  // the database every 10 ms, so that most requests find the snapshot changed and read afresh.
  const whileWriting: Measured[] = []
  if (db === 'postgres') {
    for (let i = 0; i < RUNS; i++) {
      const writer = await commitsEvery(urls.service, 10)
      try {
        const r = await loadOn(servers.service, spec(servers.service, 50, DURATION), { databaseUrl: urls.service })
        log(
          `  service 50 conn, a commit every 10 ms elsewhere, run ${i + 1}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${fmt(r.cpuMsPerRequest, 2)} CPU ms/req, errors ${r.errors}`,
        )
        whileWriting.push(r)
      } finally {
        log(`    (${await writer.stop()} commits)`)
      }
    }
  }
  const peaks = {
    service: (await servers.service.stop()).peakRss,
    uncached: (await servers.uncached.stop()).peakRss,
    baseline: (await servers.baseline.stop()).peakRss,
  }
  const rows: Row[] = []
  for (const c of connections) {
    const b = measured.baseline[c]
    for (const which of ['service', 'uncached'] as const) {
      const s = measured[which][c]
      // Without the cache: for reference (what a request costs when something was written since), not a target.
      const label = which === 'service' ? `${c} conn` : `${c} conn, no response cache`
      const targeted = which === 'service'
      const ratio = medianOf(s, 'rps') / medianOf(b, 'rps')
      rows.push({
        metric: `${label}: requests/s`,
        value: fmt(medianOf(s, 'rps')),
        baseline: fmt(medianOf(b, 'rps')),
        ratio: ratio.toFixed(2),
        ...(targeted ? { target: '≥ 0.75', verdict: verdict(ratio >= 0.75) } : {}),
        runs: runsText(s.map((r) => r.rps)),
      })
      rows.push({
        metric: `${label}: p50 ms`,
        value: fmt(medianOf(s, 'p50')),
        baseline: fmt(medianOf(b, 'p50')),
        runs: runsText(s.map((r) => r.p50)),
      })
      const p99 = medianOf(s, 'p99')
      rows.push({
        metric: `${label}: p99 ms`,
        value: fmt(p99),
        baseline: fmt(medianOf(b, 'p99')),
        ...(c === 50 && targeted ? { target: '< 50', verdict: verdict(p99 < 50) } : {}),
        runs: runsText(s.map((r) => r.p99)),
      })
      const cpu = median(s.map((r) => r.cpuMsPerRequest))
      const cpuBase = median(b.map((r) => r.cpuMsPerRequest))
      rows.push({
        metric: `${label}: server CPU ms/request`,
        value: fmt(cpu, 2),
        baseline: fmt(cpuBase, 2),
        ratio: (cpuBase / cpu).toFixed(2),
        runs: runsText(
          s.map((r) => r.cpuMsPerRequest),
          2,
        ),
      })
      if (s[0].dbTransactionsPerRequest !== null)
        rows.push({
          metric: `${label}: DB transactions/request`,
          value: fmt(medianOf(s, 'dbTransactionsPerRequest'), 1),
          baseline: fmt(medianOf(b, 'dbTransactionsPerRequest'), 1),
        })
      const errors = errorsOf(s) + errorsOf(b)
      if (errors) rows.push({ metric: `${label}: errors (with baseline)`, value: String(errors), verdict: 'MISS' })
    }
  }
  if (whileWriting.length) {
    const b = measured.baseline[50]
    rows.push({
      metric: '50 conn, a commit every 10 ms elsewhere: requests/s',
      value: fmt(medianOf(whileWriting, 'rps')),
      baseline: fmt(medianOf(b, 'rps')),
      ratio: (medianOf(whileWriting, 'rps') / medianOf(b, 'rps')).toFixed(2),
      runs: runsText(whileWriting.map((r) => r.rps)),
    })
    rows.push({
      metric: '50 conn, a commit every 10 ms elsewhere: p99 ms',
      value: fmt(medianOf(whileWriting, 'p99')),
      baseline: fmt(medianOf(b, 'p99')),
      runs: runsText(whileWriting.map((r) => r.p99)),
    })
    rows.push({
      metric: '50 conn, a commit every 10 ms elsewhere: server CPU ms/request',
      value: fmt(median(whileWriting.map((r) => r.cpuMsPerRequest)), 2),
      baseline: fmt(median(b.map((r) => r.cpuMsPerRequest)), 2),
      runs: runsText(
        whileWriting.map((r) => r.cpuMsPerRequest),
        2,
      ),
    })
  }
  rows.push({
    metric: 'peak RSS MB (service / baseline)',
    value: fmt(peaks.service),
    baseline: fmt(peaks.baseline),
    target: `< ${RSS_LIMIT_MB}`,
    verdict: verdict(peaks.service < RSS_LIMIT_MB),
  })
  rows.push({
    metric: 'peak RSS MB, no response cache',
    value: fmt(peaks.uncached),
    target: `< ${RSS_LIMIT_MB}`,
    verdict: verdict(peaks.uncached < RSS_LIMIT_MB),
  })
  return {
    db,
    bench: 'GraphQL read: conversations(first: 20) with last messages, 10,000 messages',
    rows,
    peakRss: Math.max(peaks.service, peaks.uncached),
  }
}

/**
 * What the HTTP client alone costs per call to Meta: the service's MetaGraphClient (got) and
 * node:http, taking turns, at Meta 0 ms. It does not depend on the database: measured once per
 * suite, shown in each send table.
 */
let clientCostRuns: Promise<Record<'got' | 'node:http', number[]>> | null = null
function measureClientCost(fake: FakeMeta, concurrency: number): Promise<Record<'got' | 'node:http', number[]>> {
  clientCostRuns ??= (async () => {
    const clientCost: Record<'got' | 'node:http', number[]> = { got: [], 'node:http': [] }
    for (let i = 0; i < RUNS; i++) {
      for (const client of ['got', 'node:http'] as const) {
        await fakeControl.reset(fake)
        const r = await runJsonChild<{ cpuUsPerRequest: number; rps: number; failed: number }>('client-cost', {
          client,
          graphApiUrl: fake.env.WHATSAPP_GRAPH_API_URL,
          apiVersion: fake.env.WHATSAPP_API_VERSION,
          accessToken: fake.env.WHATSAPP_ACCESS_TOKEN,
          phoneNumberId: fake.env.WHATSAPP_PHONE_NUMBER_ID,
          requests: quick ? 2_000 : 10_000,
          concurrency,
        })
        log(
          `  ${client} alone, run ${i + 1}: ${fmt(r.cpuUsPerRequest, 0)} µs CPU per call, ${fmt(r.rps)} calls/s, failed ${r.failed}`,
        )
        clientCost[client].push(r.cpuUsPerRequest)
      }
    }
    await fakeControl.reset(fake)
    return clientCost
  })()
  return clientCostRuns
}

async function benchSend(db: string, databaseUrl: string, fake: FakeMeta): Promise<Summary> {
  log(`send path on ${db}`)
  const CONNECTIONS = 50
  const NUMBERS = 2000 // half of them have a conversation already (the seed has 1,000)
  const latencies = quick ? [0, 100] : [0, 100]
  const service = await startService(`send-${db}`, databaseUrl, fake)
  let offset = 0
  const spec = (duration: number | undefined, amount?: number): LoadSpec => {
    const s: LoadSpec = {
      scenario: 'send',
      url: service.url,
      token: API_TOKEN,
      connections: CONNECTIONS,
      numbers: NUMBERS,
      offset,
      duration,
      amount,
    }
    offset += 100_000
    return s
  }
  const rows: Row[] = []
  const metaRates: Record<number, number[]> = {}
  const serviceResults: Record<number, Measured[]> = {}
  let malformed = 0
  for (const latency of latencies) {
    await fakeControl.stall(fake, latency)
    await load(spec(WARMUP))
    metaRates[latency] = []
    const results: Measured[] = []
    for (let i = 0; i < RUNS; i++) {
      await fakeControl.reset(fake)
      const r = await loadOn(service, spec(DURATION), { databaseUrl, fakeMetaPid: fake.child.pid })
      const stats = await fakeControl.stats(fake)
      malformed += stats.malformed
      const metaRate = stats.firstAt && stats.lastAt ? stats.accepted / r.duration : 0
      metaRates[latency].push(metaRate)
      log(
        `  service ${latency} ms run ${i + 1}: ${fmt(r.rps)} sends/s (Meta got ${stats.accepted}), p99 ${r.p99} ms, non-2xx ${r.non2xx}`,
      )
      results.push(r)
    }
    serviceResults[latency] = results
  }

  // Memory: RSS after each block of sends, at Meta latency 0 (the most sends per second).
  await fakeControl.stall(fake, 0)
  // 10,000 sends on PostgreSQL (the production database); fewer on PGlite and in quick runs,
  // because at this service's send rate 10,000 sends take minutes.
  const block = quick ? 500 : db === 'postgres' ? 2000 : 1000
  const blocks = quick ? 3 : 5
  const rssSeries: number[] = [service.rss.sample() ?? NaN]
  for (let i = 0; i < blocks; i++) {
    await fakeControl.reset(fake)
    await load(spec(undefined, block))
    await sleep(500)
    rssSeries.push(service.rss.sample() ?? NaN)
  }
  log(`  RSS after each ${block} sends: ${rssSeries.map((x) => fmt(x)).join(', ')} MB`)
  const { peakRss } = await service.stop()
  await fakeControl.reset(fake)

  // The baseline: got straight to the fake Meta, same payloads, same concurrency.
  const baseline: Record<
    number,
    { rps: number; p99: number; cpuMsPerSend: number; machineBusy: number; fakeMetaCpuMsPerSend: number }[]
  > = {}
  for (const latency of latencies) {
    await fakeControl.stall(fake, latency)
    baseline[latency] = []
    const gotSpec = {
      graphApiUrl: fake.env.WHATSAPP_GRAPH_API_URL,
      apiVersion: fake.env.WHATSAPP_API_VERSION,
      accessToken: fake.env.WHATSAPP_ACCESS_TOKEN,
      phoneNumberId: fake.env.WHATSAPP_PHONE_NUMBER_ID,
      connections: CONNECTIONS,
      numbers: NUMBERS,
    }
    await runJsonChild('got-direct', { ...gotSpec, duration: WARMUP })
    for (let i = 0; i < RUNS; i++) {
      await fakeControl.reset(fake)
      await waitQuiet(quick ? 5_000 : 20_000)
      const ticks0 = cpuTicks()
      const fake0 = cpuSecondsOf(fake.child.pid!) ?? NaN
      const r = await runJsonChild<{ ok: number; rps: number; p99: number; failed: number; cpuMsPerSend: number }>(
        'got-direct',
        { ...gotSpec, duration: DURATION },
      )
      const machineBusy = busyBetween(ticks0, cpuTicks())
      // Per send the fake Meta answered: the client's in-process warm-up is in its CPU time too.
      const fakeMetaCpuMsPerSend =
        (((cpuSecondsOf(fake.child.pid!) ?? NaN) - fake0) * 1000) /
        Math.max(1, (await fakeControl.stats(fake)).accepted)
      log(
        `  got direct ${latency} ms run ${i + 1}: ${fmt(r.rps)} sends/s, p99 ${fmt(r.p99)} ms, ${fmt(r.cpuMsPerSend, 2)} CPU ms/send, machine ${Math.round(machineBusy * 100)}% busy, failed ${r.failed}`,
      )
      baseline[latency].push({ ...r, machineBusy, fakeMetaCpuMsPerSend })
    }
  }
  await fakeControl.stall(fake, 0)
  await fakeControl.reset(fake)

  const clientCost = await measureClientCost(fake, CONNECTIONS)

  for (const latency of latencies) {
    const s = serviceResults[latency]
    const b = baseline[latency]
    const rate = medianOf(s, 'rps')
    const base = median(b.map((r) => r.rps))
    rows.push({
      metric: `Meta ${latency} ms: messages/s`,
      value: fmt(rate),
      baseline: fmt(base),
      ratio: (rate / base).toFixed(2),
      target: '≥ 0.5',
      verdict: verdict(rate / base >= 0.5),
      runs: runsText(s.map((r) => r.rps)),
    })
    rows.push({
      metric: `Meta ${latency} ms: arrived at Meta/s`,
      value: fmt(median(metaRates[latency])),
      runs: runsText(metaRates[latency]),
    })
    rows.push({
      metric: `Meta ${latency} ms: p50 ms`,
      value: fmt(medianOf(s, 'p50')),
      runs: runsText(s.map((r) => r.p50)),
    })
    rows.push({
      metric: `Meta ${latency} ms: p99 ms`,
      value: fmt(medianOf(s, 'p99')),
      baseline: fmt(median(b.map((r) => r.p99))),
      runs: runsText(s.map((r) => r.p99)),
    })
    // Sends per CPU-second against the baseline's (its ratio, like the throughput's): what the
    // service costs itself, whatever else shares the machine's two cores during its runs.
    const cpu = medianOf(s, 'cpuMsPerRequest')
    const cpuBase = median(b.map((r) => r.cpuMsPerSend))
    rows.push({
      metric: `Meta ${latency} ms: server CPU ms/send`,
      value: fmt(cpu, 2),
      baseline: fmt(cpuBase, 2),
      ratio: (cpuBase / cpu).toFixed(2),
      runs: runsText(
        s.map((r) => r.cpuMsPerRequest),
        2,
      ),
    })
    // Both cores at work in the service's runs means the load, PostgreSQL and the fake Meta take
    // from the service what the baseline's run (the client and the fake Meta only) does not.
    rows.push({
      metric: `Meta ${latency} ms: machine CPU busy % (2 cores)`,
      value: fmt(medianOf(s, 'machineBusyDuring') * 100),
      baseline: fmt(median(b.map((r) => r.machineBusy)) * 100),
      runs: runsText(s.map((r) => r.machineBusyDuring * 100)),
    })
    if (latency === 0) {
      // With Meta answering at once the machine's two cores are the bound, and the service's runs
      // also carry the load generator and the database, which the baseline's do not. What each
      // process spends per send, and so the ratio a service costing no more than its own Meta
      // client would reach here (sends per CPU-second of all the processes at work): the most
      // this comparison allows on this machine.
      const others = s.map((r) => r.othersCpuMsPerRequest)
      const load = median(others.map((o) => o.load))
      const fakeMeta = median(others.map((o) => o.fakeMeta ?? NaN))
      const pgCpu = others[0].postgres === null ? 0 : median(others.map((o) => o.postgres!))
      const fakeMetaBase = median(b.map((r) => r.fakeMetaCpuMsPerSend))
      const all = load + cpu + fakeMeta + pgCpu
      rows.push({
        metric: `Meta ${latency} ms: CPU ms/send of all the processes`,
        value: `${fmt(all, 2)}: load ${fmt(load, 2)}, service ${fmt(cpu, 2)}, fake Meta ${fmt(fakeMeta, 2)}${
          others[0].postgres === null ? '' : `, PostgreSQL ${fmt(pgCpu, 2)}`
        }`,
        baseline: `${fmt(cpuBase + fakeMetaBase, 2)}: got ${fmt(cpuBase, 2)}, fake Meta ${fmt(fakeMetaBase, 2)}`,
        ratio: ((cpuBase + fakeMetaBase) / all).toFixed(2),
      })
      rows.push({
        metric: `Meta ${latency} ms: that ratio if the service cost only what its Meta client does`,
        value: ((cpuBase + fakeMetaBase) / (load + cpuBase + fakeMeta + pgCpu)).toFixed(2),
        target: 'the ceiling here',
      })
    }
    if (s[0].dbTransactionsPerRequest !== null)
      rows.push({
        metric: `Meta ${latency} ms: DB transactions/send`,
        value: fmt(medianOf(s, 'dbTransactionsPerRequest'), 1),
      })
    const errors = errorsOf(s)
    if (errors) rows.push({ metric: `Meta ${latency} ms: failed requests`, value: String(errors), verdict: 'MISS' })
  }
  if (malformed) rows.push({ metric: 'malformed requests at the fake Meta', value: String(malformed), verdict: 'MISS' })
  // Not a target: how much of the CPU per send above the Meta client alone takes, and what the
  // leanest client would (the guide prescribes got).
  rows.push({
    metric: 'Meta client alone: CPU µs per call (got)',
    value: fmt(median(clientCost.got), 0),
    baseline: `${fmt(median(clientCost['node:http']), 0)} node:http`,
    ratio: (median(clientCost.got) / median(clientCost['node:http'])).toFixed(2),
    runs: runsText(clientCost.got, 0),
  })
  const afterFirst = rssSeries.slice(2)
  const growth = Math.max(...afterFirst) - Math.min(...afterFirst)
  const flat = growth < 0.1 * Math.min(...afterFirst)
  rows.push({
    metric: `RSS MB after each ${block} sends`,
    value: rssSeries.map((x) => fmt(x)).join(' → '),
    target: `flat (< 10% change after ${2 * block})`,
    verdict: verdict(flat),
  })
  rows.push({
    metric: 'peak RSS MB',
    value: fmt(peakRss),
    target: `< ${RSS_LIMIT_MB}`,
    verdict: verdict(peakRss < RSS_LIMIT_MB),
  })
  return {
    db,
    bench: `Send path: POST /api/whatsapp/send, ${CONNECTIONS} connections, against got straight to the fake Meta`,
    rows,
    peakRss,
  }
}

async function benchFanout(db: string, databaseUrl: string, fake: FakeMeta): Promise<Summary> {
  log(`template fan-out on ${db}`)
  const configHonoursRate = /WHATSAPP_MESSAGES_PER_SECOND/.test(readFileSync(path.join(ROOT, 'src/config.ts'), 'utf8'))
  if (!configHonoursRate)
    log('  NOTE: src/config.ts does not read WHATSAPP_MESSAGES_PER_SECOND yet: the limit is not honoured')
  // Meta-like latency only: at 0 ms the numbers say little more, and every run at 80/s takes 12.5 s.
  const latencies = [100]
  const rows: Row[] = []
  let peakRss = 0
  for (const rate of opts.rates!.split(',').map(Number)) {
    const recipients = quick && rate === 80 ? 200 : 1000
    const ideal = (recipients / rate) * 1000
    const service = await startService(`fanout-${rate}-${db}`, databaseUrl, fake, {
      WHATSAPP_MESSAGES_PER_SECOND: String(rate),
    })
    for (const latency of latencies) {
      await fakeControl.stall(fake, latency)
      const totals: number[] = []
      const answers: number[] = []
      const busiest: number[] = []
      let failed = 0
      const errors: Record<string, number> = {}
      const fanOut = async (label: string, offset: number) => {
        await sleep(1500)
        await fakeControl.reset(fake)
        const started = performance.timeOrigin + performance.now()
        const answer = await sendTemplate(service.url, recipients, offset)
        const answeredMs = performance.timeOrigin + performance.now() - started
        // The last send may reach Meta after the answer (a batch that continues in the background).
        const until = Date.now() + ideal * 3 + 30_000
        let stats = await fakeControl.stats(fake)
        while (stats.accepted < recipients - answer.failed && Date.now() < until) {
          await sleep(100)
          stats = await fakeControl.stats(fake)
        }
        const total = (stats.lastAt ?? started) - started
        failed += answer.failed + Math.max(0, recipients - answer.failed - stats.accepted)
        for (const [k, n] of Object.entries(answer.errors)) errors[k] = (errors[k] ?? 0) + n
        log(
          `  ${rate}/s, Meta ${latency} ms, ${label}: first send after ${fmt((stats.firstAt ?? started) - started)} ms, last after ${fmt(total)} ms (ideal ${fmt(ideal)}), answer after ${fmt(answeredMs)} ms, busiest second ${stats.busiest}, failed ${answer.failed}; ${stats.pauses.count} pauses over 5 ms (${stats.pauses.totalMs} ms in all, longest ${stats.pauses.longestMs})`,
        )
        return { total, answeredMs, busiest: stats.busiest }
      }
      // A fan-out not counted first: syncs the template and warms the service up (a cold one
      // compiles its hot paths during the first fan-out, which then drops slots as it goes).
      const warmStarted = Date.now()
      await sendTemplate(service.url, Math.min(recipients, rate), 0)
      // On PostgreSQL this process drew its first send slots right after another's (the previous
      // benchmark's service), so for 5 s it shares them (PostgresSlotSource: holdMs) and gives up
      // the ones it reaches late; an instance that has been sending alone holds them. The counted
      // runs measure that steady state; one run straight after the warm-up shows the first seconds.
      let takeover: { total: number; busiest: number } | null = null
      if (db === 'postgres') {
        takeover = await fanOut('right after another instance drew', recipients)
        await sleep(Math.max(0, warmStarted + 5_500 - Date.now()))
      }
      for (let i = 0; i < RUNS; i++) {
        const r = await fanOut(`run ${i + 1}`, (i * recipients) % SEED.conversations)
        totals.push(r.total)
        answers.push(r.answeredMs)
        busiest.push(r.busiest)
      }
      const t = median(totals)
      const maxBusiest = Math.max(...busiest, takeover?.busiest ?? 0) // never over, the first seconds included
      rows.push({
        metric: `${rate}/s, Meta ${latency} ms: total s (${recipients} recipients)`,
        value: fmt(t / 1000, 2),
        baseline: `${fmt(ideal / 1000, 2)} ideal`,
        ratio: (t / ideal).toFixed(2),
        target: '≤ 1.05',
        verdict: verdict(t / ideal <= 1.05),
        runs: runsText(
          totals.map((x) => x / 1000),
          2,
        ),
      })
      if (takeover) {
        rows.push({
          metric: `${rate}/s, Meta ${latency} ms: total s in an instance's first 5 s of drawing (1 run)`,
          value: fmt(takeover.total / 1000, 2),
          baseline: `${fmt(ideal / 1000, 2)} ideal`,
          ratio: (takeover.total / ideal).toFixed(2),
          runs: `most in one second ${takeover.busiest}`,
        })
      }
      rows.push({
        metric: `${rate}/s, Meta ${latency} ms: answered after s`,
        value: fmt(median(answers) / 1000, 2),
        runs: runsText(
          answers.map((x) => x / 1000),
          2,
        ),
      })
      rows.push({
        metric: `${rate}/s, Meta ${latency} ms: most sent in one second`,
        value: String(maxBusiest),
        target: `≤ ${rate}`,
        verdict: verdict(maxBusiest <= rate),
        runs: runsText(busiest),
      })
      if (failed) {
        rows.push({
          metric: `${rate}/s, Meta ${latency} ms: recipients failed`,
          value: String(failed),
          verdict: 'MISS',
        })
        log(`  failures: ${JSON.stringify(errors)}`)
      }
    }
    peakRss = Math.max(peakRss, (await service.stop()).peakRss)
  }
  await fakeControl.stall(fake, 0)
  await fakeControl.reset(fake)
  rows.push({
    metric: 'peak RSS MB',
    value: fmt(peakRss),
    target: `< ${RSS_LIMIT_MB}`,
    verdict: verdict(peakRss < RSS_LIMIT_MB),
  })
  return {
    db,
    bench: `Template fan-out to 1,000 recipients (WHATSAPP_MESSAGES_PER_SECOND${configHonoursRate ? '' : ' NOT YET HONOURED by the service'})`,
    rows,
    peakRss,
    extra: { configHonoursRate },
  }
}

async function sendTemplate(
  url: string,
  recipients: number,
  from: number,
): Promise<{ failed: number; errors: Record<string, number> }> {
  const res = await fetch(`${url}/api/whatsapp/send-template`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      templateName: 'bench_notice',
      languageCode: 'es',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Juan Pérez' }] }],
      recipients: Array.from({ length: recipients }, (_, i) => ({
        phoneNumber: `+502${30_000_000 + ((from + i) % SEED.conversations)}`,
      })),
    }),
  })
  const body = (await res.json()) as {
    summary?: { total: number; failed: number }
    results?: { success: boolean; error?: { code: string; message: string } }[]
  }
  if (!res.ok || !body.summary)
    throw new Error(`send-template answered ${res.status}: ${JSON.stringify(body).slice(0, 400)}`)
  const errors: Record<string, number> = {}
  for (const r of body.results ?? []) {
    if (r.success || !r.error) continue
    const key = `${r.error.code}: ${r.error.message.slice(0, 80)}`
    errors[key] = (errors[key] ?? 0) + 1
  }
  return { failed: body.summary.failed, errors }
}

async function benchWebhook(db: string, databaseUrl: string, fake: FakeMeta): Promise<Summary> {
  log(`webhook ingest on ${db}`)
  const CONNECTIONS = 50
  const results: Measured[] = []
  const applyRates: number[] = []
  let offset = 0
  let peakRss = 0
  for (let i = 0; i < RUNS; i++) {
    // A fresh process each run: its shutdown waits until every stored delivery is applied, which
    // times how far applying lags behind ingest.
    const service = await startService(`webhook-${db}`, databaseUrl, fake)
    const spec = (duration: number): LoadSpec => {
      const s: LoadSpec = {
        scenario: 'webhook',
        url: service.url,
        token: API_TOKEN,
        connections: CONNECTIONS,
        duration,
        wamids: SEED.messages,
        appSecret: APP_SECRET,
        offset,
      }
      return s
    }
    const busy = await waitQuiet(quick ? 5_000 : 20_000)
    if (busy > 0.25) log(`  WARNING: the machine is ${Math.round(busy * 100)}% busy with other work`)
    const started = performance.now()
    const warm = await load(spec(1))
    offset += warm.ok + warm.non2xx
    const r = await loadOn(service, spec(DURATION), { quiet: false })
    offset += r.ok + r.non2xx
    const loadEnded = performance.now()
    const { exitMs, peakRss: peak } = await service.stop()
    peakRss = Math.max(peakRss, peak)
    const applyRate = (warm.ok + r.ok) / ((loadEnded - started + exitMs) / 1000)
    applyRates.push(applyRate)
    results.push(r)
    log(
      `  run ${i + 1}: ${fmt(r.rps)} deliveries/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}; applying finished ${fmt(exitMs)} ms after the load (≈ ${fmt(applyRate)} applied/s)`,
    )
  }
  const rps = medianOf(results, 'rps')
  const p99 = medianOf(results, 'p99')
  const rows: Row[] = [
    {
      metric: 'status updates/s (acknowledged)',
      value: fmt(rps),
      target: '≥ 1000',
      verdict: verdict(rps >= 1000),
      runs: runsText(results.map((r) => r.rps)),
    },
    { metric: 'p50 ms', value: fmt(medianOf(results, 'p50')), runs: runsText(results.map((r) => r.p50)) },
    {
      metric: 'server CPU ms/delivery while ingesting',
      value: fmt(medianOf(results, 'cpuMsPerRequest'), 2),
      runs: runsText(
        results.map((r) => r.cpuMsPerRequest),
        2,
      ),
    },
    {
      metric: 'p99 ms',
      value: fmt(p99),
      target: '< 250',
      verdict: verdict(p99 < 250),
      runs: runsText(results.map((r) => r.p99)),
    },
    { metric: 'applied/s (until the queue drained)', value: fmt(median(applyRates)), runs: runsText(applyRates) },
  ]
  const errors = errorsOf(results)
  if (errors) rows.push({ metric: 'failed deliveries', value: String(errors), verdict: 'MISS' })
  rows.push({
    metric: 'peak RSS MB',
    value: fmt(peakRss),
    target: `< ${RSS_LIMIT_MB}`,
    verdict: verdict(peakRss < RSS_LIMIT_MB),
  })
  return {
    db,
    bench: `Signed webhook ingest: status updates for existing messages, ${CONNECTIONS} connections`,
    rows,
    peakRss,
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now()
  print(`# wa-gateway benchmarks — ${new Date().toISOString()}${quick ? ' (quick)' : ''}`)
  print(
    `runs per measurement: ${RUNS}, ${DURATION} s each (+${WARMUP} s warm-up); ${os.cpus().length} CPUs, ${os.cpus()[0]?.model}, node ${process.version}`,
  )
  log('building the service (tsconfig.build.json) and the suite (bench/tsconfig.build.json)')
  build()
  const summaries: Summary[] = []
  const fake = await startFakeMeta()
  try {
    for (const db of databases) {
      const database = await prepareDatabase(db)
      try {
        const seeded = await runJsonChild<{ seconds: number }>('seed', {
          databaseUrl: database.url,
          ...SEED,
        })
        log(`seeded ${db}: ${SEED.conversations} conversations, ${SEED.messages} messages in ${fmt(seeded.seconds)} s`)
        // PGlite allows one process per folder: the GraphQL baseline and the service without its
        // response cache read identical copies.
        const graphqlUrls = { service: database.url, uncached: database.url, baseline: database.url }
        if (db === 'pglite') {
          const copies = (['uncached', 'baseline'] as const).map((which) => {
            const copy = `${database.url.slice(5)}-${which}`
            cpSync(database.url.slice(5), copy, { recursive: true })
            graphqlUrls[which] = `file:${copy}`
            return copy
          })
          const drop = database.drop
          database.drop = async () => {
            await drop()
            for (const copy of copies) rmSync(copy, { recursive: true, force: true })
          }
        }
        // Reads first (on the seed as it is), then what writes.
        const benches = [
          ['graphql', (d: string, _url: string, f: FakeMeta) => benchGraphql(d, graphqlUrls, f)],
          ['webhook', benchWebhook],
          ['send', benchSend],
          ['fanout', benchFanout],
          [
            'media',
            (d: string, url: string, f: FakeMeta) =>
              benchMedia({ db: d, runs: RUNS, quick, log, startService: (label) => startService(label, url, f) }),
          ],
        ] as const
        for (const [name, bench] of benches) {
          if (!only.has(name)) continue
          const summary = await bench(db, database.url, fake)
          summaries.push(summary)
          print(table(`${summary.bench} — ${db === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'}`, summary.rows))
        }
      } finally {
        await database.drop()
      }
    }
  } finally {
    await stop(fake.child)
  }
  const peak = Math.max(...summaries.map((s) => s.peakRss))
  print(
    `\nPeak RSS of any service process through the suite: ${fmt(peak)} MB (target < ${RSS_LIMIT_MB} MB: ${verdict(peak < RSS_LIMIT_MB)})`,
  )
  print(
    table(
      'Where each service process had its largest RSS (process.memoryUsage(), MB; heap used/total, young = its new space; external = WebAssembly memories and buffers)',
      memoryPeaks.map((m) => ({
        metric: m.label,
        value: `rss ${m.rss}`,
        baseline: `heap ${m.heapUsed}/${m.heapTotal} (young ${m.young ?? '?'})`,
        ratio: `ext ${m.external}`,
        target: `arrayBuffers ${m.arrayBuffers}`,
      })),
    ),
  )
  const misses = summaries.flatMap((s) =>
    s.rows.filter((r) => r.verdict === 'MISS').map((r) => `${s.db} / ${s.bench.split(':')[0]} / ${r.metric}`),
  )
  print(misses.length ? `\nMissed targets:\n${misses.map((m) => `- ${m}`).join('\n')}` : '\nEvery target met.')
  print(`\nSuite took ${fmt((Date.now() - started) / 1000)} s.`)
  if (opts['cpu-prof']) {
    await sleep(500)
    print(summarizeProfiles(PROFILE_DIR))
  }
  mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true })
  const file = path.join(
    BENCH_DIR,
    'results',
    `${new Date().toISOString().replaceAll(':', '-').slice(0, 19)}${quick ? '-quick' : ''}.md`,
  )
  writeFileSync(file, `${out.join('\n')}\n`)
  writeFileSync(file.replace(/\.md$/, '.json'), JSON.stringify(summaries, null, 2))
  log(`written ${path.relative(process.cwd(), file)}`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
