/**
 * The dashboard benchmark (`npm run bench -- --db postgres --only dashboard`, PostgreSQL only): the
 * reads a support dashboard makes, against PostGraphile 4 on the same data (bench/postgraphile-process.ts),
 * and at two sizes of history. See BENCHMARKS.md, "Dashboard reads".
 *
 * Two scratch databases are seeded by bench/dashboard-seed.ts: 1,000 conversations / 10,000
 * messages and 100,000 / 1,000,000, same shape. Three servers are up at once, their runs
 * interleaved: the service on each (response cache off: GRAPHQL_RESPONSE_CACHE_MB=0) and
 * PostGraphile on the small one (after bench/dashboard-postgraphile.sql). Four reads, each at 50
 * connections:
 * - LIST: conversations(first: 20), each with its last message;
 * - FILTERED: the same filtered by a search text and the last message's status, each with its last
 *   3 messages;
 * - THREAD: one hot conversation's second page of 50 messages (after its first page's endCursor),
 *   every field the rich messages have (media, location, interactive, reactions, error, reply);
 * - MIX: THREAD for the 50 hot conversations in turn, while signed inbound texts arrive at
 *   100/s into those conversations (a second, paced load; always posted to the service, also
 *   while PostGraphile is measured, so the database sees the same writes): as fast as the server
 *   answers (its throughput), and PACED, the same at a dashboard's pace of 100 reads/s (its latency).
 * Then, with fresh processes, each read's SQL and plans (bench/pg-plans.ts) into
 * bench/results/dashboard-plans-<time>.txt.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { DASHBOARD_SEED, type DashboardSeedResult } from './dashboard-shape.js'
import {
  conversationIds,
  diff,
  endCursorOf,
  FILTER,
  gql,
  type Json,
  POSTGRAPHILE_QUERIES,
  SERVICE_QUERIES,
  threadIds,
} from './dashboard-queries.js'
import type { LoadSpec } from './load-worker.js'
import {
  API_TOKEN,
  APP_SECRET,
  BENCH_DIR,
  cpuSecondsOf,
  fmt,
  median,
  postgresCpuSeconds,
  type Row,
  runJsonChild,
  sleep,
  verdict,
} from './lib.js'
import { type Captured, PlanCapture, type Statement } from './pg-plans.js'
import {
  errorsOf,
  type FakeMeta,
  load,
  loadOn,
  log,
  type Measured,
  prepareDatabase,
  RSS_LIMIT_MB,
  runsText,
  settings,
  type Service,
  startPostgraphile,
  startService,
  type Summary,
} from './services.js'

const CONNECTIONS = 50
const WEBHOOKS_PER_SECOND = 100
/** The paced mix: 50 agents' dashboards each reading a page every half second (more than people click). */
const PACED_READS_PER_SECOND = 100
const SIZES = {
  small: { conversations: 1_000, messages: 10_000, label: '1k/10k' },
  large: { conversations: 100_000, messages: 1_000_000, label: '100k/1M' },
}
const SCALE_TARGET = 1.2
const SETUP_SQL = path.join(BENCH_DIR, 'dashboard-postgraphile.sql')

type Read = 'LIST' | 'FILTERED' | 'THREAD' | 'MIX' | 'PACED'
const READS: Read[] = ['LIST', 'FILTERED', 'THREAD', 'MIX', 'PACED']
/** The reads measured with webhooks arriving alongside. */
const withWebhooks = (read: Read) => read === 'MIX' || read === 'PACED'
/** The reads of one question each (their SQL and answers are checked). */
type Single = 'LIST' | 'FILTERED' | 'THREAD'
const READ_LABELS: Record<Read, string> = {
  LIST: 'LIST conversations(first: 20) + last message',
  FILTERED: 'FILTERED search + lastMessageStatus, last 3 messages each',
  THREAD: 'THREAD messages(first: 50, after) of one conversation',
  MIX: `MIX THREAD of 50 conversations in turn + ${WEBHOOKS_PER_SECOND} webhooks/s`,
  PACED: `PACED the MIX at ${PACED_READS_PER_SECOND} reads/s + ${WEBHOOKS_PER_SECOND} webhooks/s`,
}

type Kind = 'service' | 'postgraphile' | 'large'
const KINDS: Kind[] = ['service', 'postgraphile', 'large']
const KIND_LABELS: Record<Kind, string> = {
  service: `service ${SIZES.small.label}`,
  postgraphile: `PostGraphile ${SIZES.small.label}`,
  large: `service ${SIZES.large.label}`,
}

interface Side {
  kind: Kind
  server: Service
  queries: typeof SERVICE_QUERIES
  hot: number[]
  /** The endCursor of each hot conversation's first page, in `hot` order. */
  cursors: string[]
  /** Where the MIX's webhooks go. */
  webhooks: Service
}

function spec(side: Side, read: Read, duration: number): LoadSpec {
  const base = {
    scenario: 'graphql' as const,
    url: side.server.url,
    token: API_TOKEN,
    connections: CONNECTIONS,
    duration,
  }
  switch (read) {
    case 'LIST':
      return { ...base, query: side.queries.LIST }
    case 'FILTERED':
      return { ...base, query: side.queries.FILTERED, variables: FILTER }
    case 'THREAD':
      return { ...base, query: side.queries.THREAD, variables: { id: side.hot[0], after: side.cursors[0] } }
    case 'MIX':
    case 'PACED':
      return {
        ...base,
        query: side.queries.THREAD,
        variablesList: side.hot.map((id, i) => ({ id, after: side.cursors[i] })),
        ...(read === 'PACED' ? { overallRate: PACED_READS_PER_SECOND } : {}),
      }
  }
}

let webhookRun = 0
function webhookSpec(side: Side, duration: number): LoadSpec {
  return {
    scenario: 'inbound',
    url: side.webhooks.url,
    token: API_TOKEN,
    // Enough connections to keep the pace while the service answers slowly (reads saturate it).
    connections: 25,
    duration,
    overallRate: WEBHOOKS_PER_SECOND,
    // Senders 0..49: the hot conversations' numbers (see the seed).
    senders: DASHBOARD_SEED.hot,
    appSecret: APP_SECRET,
    tag: `dash${process.pid}-${++webhookRun}`,
  }
}

/** A run's server CPU per read: for PostGraphile's MIX, plus the service ingesting that run's webhooks. */
const serverCpu = (r: Measured) => r.cpuMsPerRequest + (r.countersMsPerRequest.webhooks ?? 0)
const postgresCpu = (r: Measured) => r.countersMsPerRequest.postgres ?? NaN

// ---------------------------------------------------------------------------------------------
// Plans

interface ReadSql {
  statementsPerRequest: number
  transactionsPerRequest: number
  rowsReadPerRequest: number
  buffersPerRequest: number
  /** Distinct statements (by text), with how many times each ran per request and its last plan. */
  distinct: { text: string; perRequest: number; last: Statement }[]
}

const CAPTURE_REQUESTS = 3

async function captureSql(
  capture: PlanCapture,
  database: string,
  url: string,
  queries: typeof SERVICE_QUERIES,
  variables: Record<Single, Json>,
  idleMs: number,
): Promise<Record<Single, ReadSql>> {
  const reads = ['LIST', 'FILTERED', 'THREAD'] as const
  // Warm: each statement prepared and past the planner's first custom plans on the connection.
  for (const read of reads) for (let i = 0; i < 8; i++) await gql(url, queries[read], variables[read])
  // What the service runs on its own (pollers, every 5 s): left out of every read.
  const background = new Set<string>()
  if (idleMs) {
    const idleFrom = capture.mark()
    await sleep(idleMs)
    for (const s of capture.read(database, idleFrom).statements) background.add(s.text)
  }
  const out = {} as Record<(typeof reads)[number], ReadSql>
  for (const read of reads) {
    const from = capture.mark()
    for (let i = 0; i < CAPTURE_REQUESTS; i++) await gql(url, queries[read], variables[read])
    await sleep(300)
    const captured: Captured = capture.read(database, from, background)
    const statements = captured.statements
    const byText = new Map<string, Statement[]>()
    for (const s of statements) byText.set(s.text, [...(byText.get(s.text) ?? []), s])
    const sum = (f: (s: Statement) => number) => statements.reduce((n, s) => n + f(s), 0) / CAPTURE_REQUESTS
    out[read] = {
      statementsPerRequest: statements.length / CAPTURE_REQUESTS,
      transactionsPerRequest: captured.transactions / CAPTURE_REQUESTS,
      rowsReadPerRequest: sum((s) => s.rowsRead),
      buffersPerRequest: sum((s) => s.buffers),
      distinct: [...byText.entries()].map(([text, list]) => ({
        text,
        perRequest: list.length / CAPTURE_REQUESTS,
        last: list.at(-1)!,
      })),
    }
  }
  return out
}

function planReport(title: string, sql: Record<string, ReadSql>): string {
  const lines = [`${'='.repeat(100)}\n${title}\n${'='.repeat(100)}`]
  for (const [read, r] of Object.entries(sql)) {
    lines.push(
      `\n--- ${read}: ${fmt(r.statementsPerRequest, 1)} statements/request, ${fmt(r.transactionsPerRequest, 1)} transactions/request, ` +
        `${fmt(r.rowsReadPerRequest, 0)} rows read, ${fmt(r.buffersPerRequest, 0)} buffers\n`,
    )
    for (const d of r.distinct) {
      lines.push(
        `-- ×${fmt(d.perRequest, 1)} per request; last run ${d.last.durationMs.toFixed(3)} ms, ${d.last.rowsReturned} rows returned, ` +
          `${d.last.rowsRead} rows read, ${d.last.buffers} buffers`,
      )
      lines.push(`${d.text}\n`)
      lines.push(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF), as auto_explain logged it:\n${d.last.plan}\n`)
    }
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------

export async function benchDashboard(db: string, fake: FakeMeta): Promise<Summary | null> {
  if (db !== 'postgres') {
    log('dashboard reads: PostgreSQL only (PostGraphile needs a PostgreSQL server); skipped on PGlite')
    return null
  }
  log(`dashboard reads: seeding ${SIZES.small.label} and ${SIZES.large.label}`)
  const small = await prepareDatabase('postgres')
  const large = await prepareDatabase('postgres')
  const dbName = (url: string) => new URL(url).pathname.slice(1)
  const servers: Service[] = []
  try {
    const seed = (size: (typeof SIZES)[keyof typeof SIZES], url: string) =>
      runJsonChild<DashboardSeedResult>('dashboard-seed', {
        databaseUrl: url,
        conversations: size.conversations,
        messages: size.messages,
        businessPhoneNumberId: fake.env.WHATSAPP_PHONE_NUMBER_ID,
      })
    const seeded = (size: (typeof SIZES)[keyof typeof SIZES], s: DashboardSeedResult) =>
      log(
        `  seeded ${size.label}: ${s.conversations} conversations, ${s.messages} messages, ${s.filteredMatches} match the filter, in ${fmt(s.seconds)} s`,
      )
    // The large one takes longest: the small one's SQL and plans are captured meanwhile.
    const seedingLarge = seed(SIZES.large, large.url)
    seedingLarge.catch(() => undefined) // awaited below; not unhandled if something fails first
    const seedSmall = await seed(SIZES.small, small.url)
    seeded(SIZES.small, seedSmall)
    // What PostGraphile needs to ask the same questions (BENCHMARKS.md shows it).
    const setup = new pg.Client({ connectionString: small.url })
    await setup.connect()
    await setup.query(readFileSync(SETUP_SQL, 'utf8'))
    await setup.end()

    const cache = { GRAPHQL_RESPONSE_CACHE_MB: '0' }
    // First the SQL of each read and its plans, on the data as seeded, each server alone on its
    // database, in processes of their own (the capture's settings reach new sessions only).
    const plans = {} as Partial<Record<Kind, Record<string, ReadSql>>>
    const capture = await PlanCapture.open(settings.postgresUrl)
    let plansFile: string | null = null
    if (typeof capture === 'string') {
      log(`  no query plans: ${capture}`)
    } else {
      log(`  capturing each read's SQL and plans (auto_explain, ${capture.file})`)
      const captureOne = async (kind: Kind, hot: number) => {
        const queries = kind === 'postgraphile' ? POSTGRAPHILE_QUERIES : SERVICE_QUERIES
        const url = kind === 'large' ? large.url : small.url
        try {
          const server =
            kind === 'postgraphile'
              ? await startPostgraphile('dashboard-postgraphile-plans', url)
              : await startService(`dashboard-plans-${kind}`, url, fake, cache)
          try {
            const after = endCursorOf(await gql(server.url, queries.THREAD, { id: hot, after: null }))
            const variables = { LIST: {}, FILTERED: FILTER, THREAD: { id: hot, after } }
            // Only the service has pollers of its own to tell apart.
            plans[kind] = await captureSql(
              capture,
              dbName(url),
              server.url,
              queries,
              variables,
              kind === 'postgraphile' ? 0 : 5_500,
            )
          } finally {
            await server.stop()
          }
        } catch (err) {
          log(`  WARNING: capturing ${KIND_LABELS[kind]}'s plans failed: ${(err as Error).message}`)
        }
      }
      // The log tells databases apart, not servers on one database: one server at a time on each.
      await capture.enable(dbName(small.url))
      try {
        await captureOne('service', seedSmall.hot[0])
        await captureOne('postgraphile', seedSmall.hot[0])
      } finally {
        await capture.disable(dbName(small.url))
      }
      seeded(SIZES.large, await seedingLarge)
      await capture.enable(dbName(large.url))
      try {
        await captureOne('large', (await seedingLarge).hot[0])
      } finally {
        await capture.disable(dbName(large.url))
      }
      mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true })
      plansFile = path.join(
        BENCH_DIR,
        'results',
        `dashboard-plans-${new Date().toISOString().replaceAll(':', '-').slice(0, 19)}.txt`,
      )
      writeFileSync(
        plansFile,
        KINDS.filter((k) => plans[k])
          .map((k) => planReport(`${KIND_LABELS[k]}: each read's statements (per request) and plans`, plans[k]!))
          .join('\n\n'),
      )
      log(`  plans written to ${path.relative(process.cwd(), plansFile)}`)
    }

    const seedLarge = await seedingLarge
    if (typeof capture === 'string') seeded(SIZES.large, seedLarge)
    const service = await startService('dashboard-1k', small.url, fake, cache)
    servers.push(service)
    const postgraphile = await startPostgraphile('dashboard-postgraphile', small.url)
    servers.push(postgraphile)
    const serviceLarge = await startService('dashboard-100k', large.url, fake, cache)
    servers.push(serviceLarge)
    const side = async (
      kind: Kind,
      server: Service,
      queries: typeof SERVICE_QUERIES,
      hot: number[],
      webhooks: Service,
    ) => {
      const cursors: string[] = []
      for (const id of hot) cursors.push(endCursorOf(await gql(server.url, queries.THREAD, { id, after: null })))
      return { kind, server, queries, hot, cursors, webhooks } satisfies Side
    }
    const sides: Record<Kind, Side> = {
      service: await side('service', service, SERVICE_QUERIES, seedSmall.hot, service),
      postgraphile: await side('postgraphile', postgraphile, POSTGRAPHILE_QUERIES, seedSmall.hot, service),
      large: await side('large', serviceLarge, SERVICE_QUERIES, seedLarge.hot, serviceLarge),
    }

    // Both ask for the same rows; and the large database's answers have the small one's shape.
    const answers = {} as Record<Kind, Record<'LIST' | 'FILTERED' | 'THREAD', string>>
    for (const kind of KINDS) {
      const s = sides[kind]
      answers[kind] = {
        LIST: conversationIds(await gql(s.server.url, s.queries.LIST)),
        FILTERED: conversationIds(await gql(s.server.url, s.queries.FILTERED, FILTER)),
        THREAD: threadIds(await gql(s.server.url, s.queries.THREAD, { id: s.hot[0], after: s.cursors[0] })),
      }
    }
    for (const read of ['LIST', 'FILTERED', 'THREAD'] as const) {
      const [a, b] = [answers.service[read], answers.postgraphile[read]]
      if (a !== b) log(`  WARNING: ${read}: the service and PostGraphile answered different rows: ${diff(a, b)}`)
      else log(`  ${read}: the service and PostGraphile answer the same rows (${a.split(' ').length} items)`)
      const shape = (x: string) => x.replace(/\d+/g, '#')
      if (shape(answers.large[read]) !== shape(a)) {
        log(
          `  WARNING: ${read}: the ${SIZES.large.label} answer differs in shape: ${answers.large[read].slice(0, 300)}`,
        )
      }
    }

    // Runs: for each read a warm-up of each server, then `runs` rounds of the three, rotated.
    const measured = Object.fromEntries(
      READS.map((read) => [read, Object.fromEntries(KINDS.map((k) => [k, [] as Measured[]]))]),
    ) as Record<Read, Record<Kind, Measured[]>>
    for (const read of READS) {
      log(`  ${READ_LABELS[read]}`)
      // (MIX reads what THREAD read just before: warm already.)
      if (!withWebhooks(read)) for (const kind of KINDS) await load(spec(sides[kind], read, settings.warmup))
      for (let i = 0; i < settings.runs; i++) {
        for (let k = 0; k < KINDS.length; k++) {
          const kind = KINDS[(k + i) % KINDS.length]
          const s = sides[kind]
          const mix = withWebhooks(read)
          const webhooksPid = s.webhooks.child.pid!
          const r = await loadOn(s.server, spec(s, read, settings.duration), {
            cpuCounters: {
              postgres: postgresCpuSeconds,
              ...(mix && s.webhooks !== s.server ? { webhooks: () => cpuSecondsOf(webhooksPid) ?? NaN } : {}),
            },
            ...(mix ? { alongside: webhookSpec(s, settings.duration) } : {}),
          })
          log(
            `    ${KIND_LABELS[kind]} run ${i + 1}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ` +
              `${fmt(serverCpu(r), 2)} server CPU ms/req, PostgreSQL ${fmt(postgresCpu(r), 2)}, ` +
              `non-2xx ${r.non2xx}, errors ${r.errors}` +
              (r.alongside ? `; webhooks ${fmt(r.alongside.rps)}/s acknowledged, p99 ${r.alongside.p99} ms` : ''),
          )
          measured[read][kind].push(r)
        }
      }
    }
    const peaks = {} as Record<Kind, number>
    for (const kind of KINDS) peaks[kind] = (await sides[kind].server.stop()).peakRss
    servers.length = 0

    // ---------------------------------------------------------------------------------------
    const rows: Row[] = []
    const med = (xs: Measured[], f: (r: Measured) => number) => median(xs.map(f))
    for (const read of READS) {
      const s = measured[read].service
      const b = measured[read].postgraphile
      const l = measured[read].large
      const name = read
      const rps = med(s, (r) => r.rps)
      const rpsBase = med(b, (r) => r.rps)
      rows.push({
        metric: `${name}: requests/s (service / PostGraphile)${read === 'PACED' ? ', paced' : ''}`,
        value: fmt(rps),
        baseline: fmt(rpsBase),
        ratio: (rps / rpsBase).toFixed(2),
        // Paced: both keep the pace or the p99 below shows it.
        ...(read === 'PACED' ? {} : { target: '≥ 1.00', verdict: verdict(rps / rpsBase >= 1) }),
        runs: runsText(s.map((r) => r.rps)),
      })
      const cpu = med(s, serverCpu)
      const cpuBase = med(b, serverCpu)
      rows.push({
        metric: `${name}: server CPU ms/request${withWebhooks(read) ? ' (+ the webhooks’ ingest)' : ''}`,
        value: fmt(cpu, 2),
        baseline: fmt(cpuBase, 2),
        ratio: (cpu / cpuBase).toFixed(2),
        target: '≤ 1.00',
        verdict: verdict(cpu <= cpuBase),
        runs: runsText(s.map(serverCpu), 2),
      })
      const total = (r: Measured) => serverCpu(r) + postgresCpu(r)
      rows.push({
        metric: `${name}: server + PostgreSQL CPU ms/request`,
        value: fmt(med(s, total), 2),
        baseline: fmt(med(b, total), 2),
        ratio: (med(s, total) / med(b, total)).toFixed(2),
        runs: runsText(s.map(total), 2),
      })
      rows.push({
        metric: `${name}: PostgreSQL CPU ms/request`,
        value: fmt(med(s, postgresCpu), 2),
        baseline: fmt(med(b, postgresCpu), 2),
        ratio: (med(s, postgresCpu) / med(b, postgresCpu)).toFixed(2),
        runs: runsText(s.map(postgresCpu), 2),
      })
      rows.push({
        metric: `${name}: p50 ms`,
        value: fmt(med(s, (r) => r.p50)),
        baseline: fmt(med(b, (r) => r.p50)),
        runs: runsText(s.map((r) => r.p50)),
      })
      const p99 = med(s, (r) => r.p99)
      rows.push({
        metric: `${name}: p99 ms${read === 'MIX' ? ' (as fast as it answers: Little’s law, see BENCHMARKS.md)' : ''}`,
        value: fmt(p99),
        baseline: fmt(med(b, (r) => r.p99)),
        ...(read === 'PACED' ? { target: '< 50', verdict: verdict(p99 < 50) } : {}),
        runs: runsText(s.map((r) => r.p99)),
      })
      if (withWebhooks(read)) {
        rows.push({
          metric: `${name}: webhooks acknowledged/s (during the service's / PostGraphile's runs)`,
          value: fmt(med(s, (r) => r.alongside?.rps ?? NaN)),
          baseline: fmt(med(b, (r) => r.alongside?.rps ?? NaN)),
          runs: runsText(s.map((r) => r.alongside?.rps ?? NaN)),
        })
      } else if (plans.service?.[read] && plans.postgraphile?.[read]) {
        rows.push({
          metric: `${name}: DB transactions/request (statements)`,
          value: `${fmt(plans.service[read].transactionsPerRequest, 1)} (${fmt(plans.service[read].statementsPerRequest, 1)})`,
          baseline: `${fmt(plans.postgraphile[read].transactionsPerRequest, 1)} (${fmt(plans.postgraphile[read].statementsPerRequest, 1)})`,
        })
      }
      const errors = errorsOf(s) + errorsOf(b) + errorsOf(l)
      if (errors) rows.push({ metric: `${name}: errors (all three servers)`, value: String(errors), verdict: 'MISS' })
    }
    // The same reads with 100 times the history: the service on each size.
    for (const read of READS) {
      const s = measured[read].service
      const l = measured[read].large
      const cost = (r: Measured) => serverCpu(r) + postgresCpu(r)
      const ratio = med(l, cost) / med(s, cost)
      rows.push({
        metric: `${read}: cost at ${SIZES.large.label} vs ${SIZES.small.label} (service + PostgreSQL CPU ms/request)`,
        value: fmt(med(l, cost), 2),
        baseline: fmt(med(s, cost), 2),
        ratio: ratio.toFixed(2),
        target: `≤ ${SCALE_TARGET.toFixed(2)}`,
        verdict: verdict(ratio <= SCALE_TARGET),
        runs: runsText(l.map(cost), 2),
      })
      rows.push({
        metric: `${read}: service CPU ms/request at ${SIZES.large.label} vs ${SIZES.small.label}`,
        value: fmt(med(l, serverCpu), 2),
        baseline: fmt(med(s, serverCpu), 2),
        ratio: (med(l, serverCpu) / med(s, serverCpu)).toFixed(2),
        runs: runsText(l.map(serverCpu), 2),
      })
      rows.push({
        metric: `${read}: p50 ms at ${SIZES.large.label} vs ${SIZES.small.label}`,
        value: fmt(med(l, (r) => r.p50)),
        baseline: fmt(med(s, (r) => r.p50)),
        ratio: (med(l, (r) => r.p50) / med(s, (r) => r.p50)).toFixed(2),
        runs: runsText(l.map((r) => r.p50)),
      })
      if (!withWebhooks(read) && plans.service?.[read] && plans.large?.[read]) {
        const sql = (r: ReadSql) =>
          `${fmt(r.statementsPerRequest, 1)} st, ${fmt(r.rowsReadPerRequest, 0)} rows, ${fmt(r.buffersPerRequest, 0)} buf`
        rows.push({
          metric: `${read}: SQL per request at ${SIZES.large.label} vs ${SIZES.small.label} (statements, rows read, buffers)`,
          value: sql(plans.large[read]),
          baseline: sql(plans.service[read]),
          ratio: (plans.large[read].rowsReadPerRequest / plans.service[read].rowsReadPerRequest).toFixed(2),
        })
      }
    }
    if (plans.postgraphile) {
      for (const read of ['LIST', 'FILTERED', 'THREAD'] as const) {
        const r = plans.postgraphile[read]
        rows.push({
          metric: `${read}: PostGraphile's SQL per request (statements, rows read, buffers)`,
          value: `${fmt(r.statementsPerRequest, 1)} st, ${fmt(r.rowsReadPerRequest, 0)} rows, ${fmt(r.buffersPerRequest, 0)} buf`,
        })
      }
    }
    if (plansFile) rows.push({ metric: 'query plans', value: path.relative(process.cwd(), plansFile) })
    const peakService = Math.max(peaks.service, peaks.large)
    rows.push({
      metric: `peak RSS MB (service ${SIZES.small.label} / PostGraphile; service ${SIZES.large.label})`,
      value: `${fmt(peaks.service)}; ${fmt(peaks.large)}`,
      baseline: fmt(peaks.postgraphile),
      target: `< ${RSS_LIMIT_MB}`,
      verdict: verdict(peakService < RSS_LIMIT_MB),
    })
    return {
      db,
      bench: `Dashboard reads against PostGraphile 4 (${SIZES.small.label}), and at ${SIZES.large.label}: ${CONNECTIONS} connections, response cache off`,
      rows,
      peakRss: peakService,
      extra: { plansFile, seeds: { small: seedSmall, large: seedLarge } },
    }
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined)
    await small.drop()
    await large.drop()
  }
}
