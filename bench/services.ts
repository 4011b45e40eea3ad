/**
 * The orchestrator's pieces the scenarios share (bench/run.ts runs the scenarios: bench/graphql.ts,
 * bench/webhook.ts, bench/send.ts, bench/fanout.ts, bench/media.ts): the settings of the run, the
 * service and the other processes it starts, a measured load, the scratch databases, and what a
 * scenario answers. Helpers that do not depend on the run are in bench/lib.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { pathToFileURL } from 'node:url'
import path from 'node:path'
import { createInterface } from 'node:readline'
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
  freePort,
  median,
  ROOT,
  type Row,
  RssSampler,
  runJsonChild,
  SERVICE_ARGS,
  script,
  serviceEnv,
  sleep,
  spawnScript,
  stop,
  waitFor,
  waitQuiet,
  busyBetween,
  cpuTicks,
} from './lib.js'

/** The run's settings: bench/run.ts reads its options and sets them (configure) before any scenario runs. */
export const settings = {
  quick: false,
  runs: 3,
  /** Seconds per measured run. */
  duration: 6,
  /** Seconds of warm-up before a measurement. */
  warmup: 2,
  /** The fan-out's messages per second. */
  rates: [80, 1000],
  cpuProf: false,
  /** The server for scratch databases. */
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/test',
}
export function configure(options: typeof settings): void {
  Object.assign(settings, options)
}

export const PROFILE_DIR = path.join(BENCH_DIR, 'profiles')
export const SEED = { conversations: 1000, messages: 10_000 }
export const RSS_LIMIT_MB = 250

export const log = (...args: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args)

// ---------------------------------------------------------------------------------------------
// Processes

export interface FakeMeta {
  url: string
  control: string
  env: Record<string, string>
  child: ChildProcess
}

export async function startFakeMeta(): Promise<FakeMeta> {
  const child = spawnScript('fake-meta-process', [])
  const info = await firstJsonLine<Omit<FakeMeta, 'child'>>(child, 'fake Meta')
  return { ...info, child }
}

export const fakeControl = {
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

export interface Service {
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
export interface MemorySample {
  rss: number
  heapTotal: number
  heapUsed: number
  /** Of heapTotal, the young generation (new space and new large objects). */
  young?: number
  external: number
  arrayBuffers: number
}
/** Each service process's largest memory sample: how its peak splits. */
export const memoryPeaks: (MemorySample & { label: string })[] = []
function profiling(label: string): { args: string[]; dir: string | null } {
  if (!settings.cpuProf) return { args: [], dir: null }
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
export async function startService(
  label: string,
  databaseUrl: string,
  fake: FakeMeta,
  env: Record<string, string> = {},
) {
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

export async function startGraphqlBaseline(label: string, databaseUrl: string): Promise<Service> {
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

/** PostGraphile 4 on the dashboard benchmark's database (bench/postgraphile-process.ts). */
export async function startPostgraphile(label: string, databaseUrl: string): Promise<Service> {
  const profile = profiling(label)
  const child = spawnScript('postgraphile-process', [], {
    env: { DATABASE_URL: databaseUrl, NODE_ENV: 'production' },
    nodeArgs: profile.args,
    inheritStderr: false,
  })
  const tail: string[] = []
  const announced = firstJsonLine<{ url: string }>(child, 'postgraphile', 180_000)
  forward(child, label, tail)
  const { url } = await announced.catch((err: Error) => {
    throw new Error(`${err.message}\n${tail.join('\n')}`)
  })
  return track(child, url, null, tail, 'postgraphile', profile.dir)
}

export function load(spec: LoadSpec): Promise<LoadResult> {
  return runJsonChild<LoadResult>('load-worker', spec)
}

export type Measured = LoadResult & {
  cpuMsPerRequest: number
  machineBusyBefore: number
  /** The machine's CPU use during the load (all processes, both cores: 0..1). */
  machineBusyDuring: number
  /** PostgreSQL only: transactions (each statement outside one is its own) per request. */
  dbTransactionsPerRequest: number | null
  /** CPU ms per request of the other processes at work: the load, and when asked the fake Meta and PostgreSQL. */
  othersCpuMsPerRequest: { load: number; fakeMeta: number | null; postgres: number | null }
  /** Each of the `cpuCounters` asked for: ms of CPU per request. */
  countersMsPerRequest: Record<string, number>
  /** The result of the `alongside` load, when one ran. */
  alongside: LoadResult | null
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
export async function loadOn(
  server: Service,
  spec: LoadSpec,
  options: {
    quiet?: boolean
    databaseUrl?: string
    fakeMetaPid?: number
    /** CPU counters (seconds so far) read just before and after the load: `countersMsPerRequest`. */
    cpuCounters?: Record<string, () => number>
    /** A second load run at the same time (e.g. paced webhooks during reads); `spec` counts the requests. */
    alongside?: LoadSpec
  } = {},
): Promise<Measured> {
  const machineBusyBefore = options.quiet === false ? NaN : await waitQuiet(settings.quick ? 5_000 : 20_000)
  if (machineBusyBefore > 0.25)
    log(`  WARNING: the machine is ${Math.round(machineBusyBefore * 100)}% busy with other work`)
  const xacts0 = options.databaseUrl ? await pgTransactions(options.databaseUrl) : null
  const postgres = options.databaseUrl?.startsWith('postgres') ?? false
  const counters = Object.entries(options.cpuCounters ?? {})
  const others0 = {
    fakeMeta: options.fakeMetaPid ? (cpuSecondsOf(options.fakeMetaPid) ?? NaN) : null,
    postgres: postgres ? postgresCpuSeconds() : null,
  }
  const counters0 = counters.map(([, read]) => read())
  const cpu0 = cpuSecondsOf(server.child.pid!) ?? NaN
  const ticks0 = cpuTicks()
  const t0 = process.hrtime.bigint()
  const [r, alongside] = await Promise.all([load(spec), options.alongside ? load(options.alongside) : null])
  const t1 = process.hrtime.bigint()
  const cpu1 = cpuSecondsOf(server.child.pid!) ?? NaN
  const fakeMeta1 = options.fakeMetaPid ? (cpuSecondsOf(options.fakeMetaPid) ?? NaN) : null
  const postgres1 = postgres ? postgresCpuSeconds() : null
  const counters1 = counters.map(([, read]) => read())
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
    countersMsPerRequest: Object.fromEntries(
      counters.map(([name], i) => [name, perRequest(counters0[i], counters1[i])!]),
    ),
    alongside,
  }
}

// ---------------------------------------------------------------------------------------------
// Databases

export async function prepareDatabase(
  kind: 'pglite' | 'postgres',
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wa-bench-pglite-'))
    return { url: `file:${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) }
  }
  const name = `wa_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: settings.postgresUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = new URL(settings.postgresUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: settings.postgresUrl })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await c.end()
    },
  }
}
// ---------------------------------------------------------------------------------------------
// Results

export interface Summary {
  db: string
  bench: string
  rows: Row[]
  peakRss: number
  extra?: Record<string, unknown>
}

export const medianOf = <T extends LoadResult>(results: T[], key: keyof T) =>
  median(results.map((r) => r[key] as number))
export const runsText = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join('/')
export const errorsOf = (results: LoadResult[]) => results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0)
