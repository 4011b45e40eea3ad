/**
 * The benchmark suite (`npm run bench`; `npm run bench -- --quick` for a CI-sized run).
 *
 * Every piece runs in its own process, compiled first as production does (`npm run build`): the
 * service in production mode (`node --enable-source-maps dist/main.js`, as `npm start` runs it),
 * and, built into bench/build by bench/tsconfig.build.json, the fake Meta Graph API
 * (bench/fake-meta-process.ts), the baselines (bench/graphql-baseline.ts, bench/got-direct.ts), the
 * seed, the load (autocannon, bench/load-worker.ts) and the media baseline (bench/media-baseline.ts).
 * Only this orchestrator runs through tsx, with the scenarios it runs (bench/graphql.ts,
 * bench/webhook.ts, bench/webhooks-out.ts, bench/send.ts, bench/fanout.ts, bench/dashboard.ts (its queries in bench/dashboard-queries.ts), and bench/media.ts,
 * the media benchmark's client) and the pieces they share (bench/services.ts).
 * Each benchmark prints the median of several runs, its baseline from the same run, the ratio and
 * the target, plus the service's peak RSS. See BENCHMARKS.md.
 *
 * Options:
 *   --quick                 one short run of everything (also BENCH_QUICK=1)
 *   --db pglite,postgres    which databases (default both; --quick: pglite)
 *   --only graphql,dashboard,webhook,send,fanout,media,webhooks-out   (dashboard: PostgreSQL only)
 *   --runs N --duration S   runs per measurement and seconds per run
 *   --rates 80,1000         the fan-out's messages per second
 *   --cpu-prof              profile the service processes (node --cpu-prof) into bench/profiles/
 *   --postgres-url URL      the server for scratch databases (default postgres://postgres@127.0.0.1:5432/test)
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR, fmt, build, runJsonChild, sleep, stop, table, verdict } from './lib.js'
import { benchMedia } from './media.js'
import { summarizeProfiles } from './profile-top.js'
import { benchDashboard } from './dashboard.js'
import { benchFanout } from './fanout.js'
import { benchGraphql } from './graphql.js'
import { benchSend } from './send.js'
import { benchWebhook } from './webhook.js'
import { benchWebhooksOut } from './webhooks-out.js'
import {
  configure,
  type FakeMeta,
  log,
  memoryPeaks,
  prepareDatabase,
  PROFILE_DIR,
  RSS_LIMIT_MB,
  SEED,
  startFakeMeta,
  startService,
  type Summary,
} from './services.js'

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    db: { type: 'string' },
    only: { type: 'string', default: 'graphql,dashboard,webhook,send,fanout,media,webhooks-out' },
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
configure({
  quick,
  runs: RUNS,
  duration: DURATION,
  warmup: WARMUP,
  rates: opts.rates!.split(',').map(Number),
  cpuProf: opts['cpu-prof']!,
  postgresUrl: opts['postgres-url']!,
})

const out: string[] = []
const print = (text: string) => {
  out.push(text)
  console.log(text)
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
        // The dashboard benchmark seeds databases of its own.
        if ([...only].some((name) => name !== 'dashboard')) {
          const seeded = await runJsonChild<{ seconds: number }>('seed', {
            databaseUrl: database.url,
            ...SEED,
          })
          log(
            `seeded ${db}: ${SEED.conversations} conversations, ${SEED.messages} messages in ${fmt(seeded.seconds)} s`,
          )
        }
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
          ['dashboard', (d: string, _url: string, f: FakeMeta) => benchDashboard(d, f)],
          ['webhook', benchWebhook],
          ['webhooks-out', benchWebhooksOut],
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
          if (!summary) continue // not for this database
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
