/**
 * Shared pieces of the benchmark suite: child processes (the service, the fake Meta, the load
 * generators), RSS sampling, statistics and the tables the suite prints.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'

export const BENCH_DIR = import.meta.dirname
/** The service's source tree (`BENCH_ROOT` to measure another checkout, e.g. a clean worktree). */
export const ROOT = path.resolve(process.env.BENCH_ROOT ?? path.join(BENCH_DIR, '..'))
/** How `npm start` runs the built service in `root`: the environment and node arguments of its package.json's start script. */
export function startCommandOf(root: string): { env: Record<string, string>; args: string[] } {
  const start: string = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start
  const match = /((?:\w+=\S+\s+)*)exec node (.+)$/.exec(start)
  if (!match) throw new Error(`cannot read the node arguments from the start script: ${start}`)
  const env = Object.fromEntries(
    match[1].trim()
      ? match[1]
          .trim()
          .split(/\s+/)
          .map((a) => a.split('=', 2))
      : [],
  )
  return { env, args: match[2].split(/\s+/) }
}

/** How `npm start` runs this tree's service (see {@link startCommandOf}). */
export const { env: SERVICE_ENV, args: SERVICE_ARGS } = startCommandOf(ROOT)

/**
 * Compiles what the suite runs, so that every process runs plain JavaScript as in production: the
 * service in each of `roots` as `npm run build` does (its tsconfig.build.json, into dist/), and this
 * suite's child processes (bench/tsconfig.build.json, into bench/build).
 */
export function build(roots = [ROOT]): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  for (const project of [
    ...roots.map((root) => path.join(root, 'tsconfig.build.json')),
    path.join(BENCH_DIR, 'tsconfig.build.json'),
  ]) {
    execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' })
  }
}

/** The compiled form of one of this suite's scripts (see {@link build}), e.g. `script('seed')`. */
export const script = (name: string): string => path.join(BENCH_DIR, 'build', 'bench', `${name}.js`)

export const API_TOKEN = 'bench-token-0123456789abcdef'
export const APP_SECRET = 'bench-app-secret-0123456789'

/** The service's environment in every benchmark: as `npm start` sets it, in production mode, one token. */
export function serviceEnv(port: number, databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...SERVICE_ENV,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    API_TOKENS: API_TOKEN,
    API_RATE_LIMIT_PER_MINUTE: '1000000',
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Resident set size of a process now and at its peak (VmHWM), in MB; null once it is gone. */
export function rssOf(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 }
  } catch {
    return null
  }
}

/** CPU time a process has used so far (user + system), in seconds; null once it is gone. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // USER_HZ is 100 on Linux
  } catch {
    return null
  }
}

/**
 * CPU (s) used so far by every PostgreSQL process on this machine, those that have exited included
 * (the postmaster's reaped children: a pool closing an idle connection must not make the count go
 * back). Every database's, so other work on the server counts too.
 */
export function postgresCpuSeconds(): number {
  const procs: { pid: string; ppid: string; own: number; children: number }[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      // After the command name: state, ppid, …; utime, stime, cutime, cstime are the 14th to 17th fields.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      procs.push({ pid, ppid: f[1], own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) })
    } catch {
      // gone
    }
  }
  const pids = new Set(procs.map((p) => p.pid))
  // USER_HZ is 100 on Linux; the postmaster is the one whose parent is not PostgreSQL.
  return procs.reduce((sum, p) => sum + p.own + (pids.has(p.ppid) ? 0 : p.children), 0) / 100
}

/** The machine's CPU time so far, all cores: idle and in all (clock ticks). */
export function cpuTicks(): { idle: number; total: number } {
  const [, ...nums] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const v = nums.map(Number)
  return { idle: v[3] + (v[4] ?? 0), total: v.reduce((a, b) => a + b, 0) }
}

/** The machine's CPU use (all cores, 0..1) between two readings of {@link cpuTicks}. */
export function busyBetween(a: { idle: number; total: number }, b: { idle: number; total: number }): number {
  return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total)
}

/** The machine's CPU use (all cores, 0..1) over `ms`. */
export async function machineBusy(ms = 1000): Promise<number> {
  const a = cpuTicks()
  await sleep(ms)
  return busyBetween(a, cpuTicks())
}

/**
 * Waits until the machine is quiet (other work — a test run — skews every number), at most
 * `maxMs`; answers how busy it was when the wait ended.
 */
export async function waitQuiet(maxMs: number, threshold = 0.25): Promise<number> {
  const until = Date.now() + maxMs
  let busy = await machineBusy(500)
  while (busy > threshold && Date.now() < until) busy = await machineBusy(1000)
  return busy
}

/** Every child this suite started, ended when the suite ends however it ends (no orphans). */
const children = new Set<ChildProcess>()
export function adopt(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130))
}

/** Runs one of this suite's scripts, compiled (see {@link build}), in its own Node process, as the service runs. */
export function spawnScript(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; nodeArgs?: string[]; cwd?: string; inheritStderr?: boolean } = {},
): ChildProcess {
  return adopt(
    spawn(process.execPath, [...(options.nodeArgs ?? []), '--enable-source-maps', script(name), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', options.inheritStderr === false ? 'pipe' : 'inherit'],
    }),
  )
}

/** The first stdout line of a child, parsed as JSON (children announce themselves this way). */
export function firstJsonLine<T>(child: ChildProcess, what: string, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    const timer = setTimeout(() => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs)
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited (${code}) before answering`))
    }
    child.once('exit', onExit)
    lines.once('line', (line) => {
      clearTimeout(timer)
      child.off('exit', onExit)
      try {
        resolve(JSON.parse(line) as T)
      } catch {
        reject(new Error(`${what}: not JSON: ${line}`))
      }
    })
  })
}

/** Runs a child to completion and parses the JSON it prints last. */
export async function runJsonChild<T>(name: string, input: unknown, timeoutMs = 300_000): Promise<T> {
  const child = spawnScript(name, [JSON.stringify(input)])
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${name} timed out`))
    }, timeoutMs)
    child.once('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  if (code !== 0) throw new Error(`${name} exited with ${code}: ${out.slice(-500)}`)
  const last = out.trim().split('\n').at(-1) ?? ''
  return JSON.parse(last) as T
}

export async function waitFor(url: string, timeoutMs = 60_000, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) while waiting for ${url}`)
    try {
      const res = await fetch(url)
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} not ready after ${timeoutMs} ms`)
    await sleep(100)
  }
}

/** Stops a child with SIGTERM (SIGKILL after `graceMs`); resolves with how long it took to exit. */
export async function stop(child: ChildProcess, graceMs = 30_000): Promise<number> {
  if (child.exitCode !== null || child.signalCode !== null) return 0
  const started = performance.now()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
  return performance.now() - started
}

/** Samples a process's RSS every `everyMs` while it runs. */
export class RssSampler {
  samples: { t: number; rss: number }[] = []
  private timer: NodeJS.Timeout
  peak = 0
  constructor(
    readonly pid: number,
    everyMs = 200,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs).unref()
  }
  sample(): number | null {
    const r = rssOf(this.pid)
    if (!r) return null
    this.samples.push({ t: Date.now(), rss: r.rss })
    this.peak = Math.max(this.peak, r.hwm, r.rss)
    return r.rss
  }
  stop(): void {
    this.sample()
    clearInterval(this.timer)
  }
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export const fmt = (x: number | null | undefined, digits = 1): string => {
  if (x === null || x === undefined || Number.isNaN(x)) return '—'
  if (Math.abs(x) >= 100) return x.toFixed(0)
  return x.toFixed(digits)
}

export interface Row {
  metric: string
  value: string
  baseline?: string
  ratio?: string
  target?: string
  verdict?: 'PASS' | 'MISS' | ''
  runs?: string
}

/** A table in Markdown (so the output can be pasted into BENCHMARKS.md). */
export function table(title: string, rows: Row[]): string {
  const head = ['metric', 'median', 'baseline', 'ratio', 'target', 'result', 'runs']
  const body = rows.map((r) => [
    r.metric,
    r.value,
    r.baseline ?? '',
    r.ratio ?? '',
    r.target ?? '',
    r.verdict ?? '',
    r.runs ?? '',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [
    `\n### ${title}\n`,
    line(head),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...body.map(line),
  ].join('\n')
}

export const verdict = (ok: boolean): 'PASS' | 'MISS' => (ok ? 'PASS' : 'MISS')
