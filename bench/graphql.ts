/**
 * The GraphQL read benchmark (`npm run bench -- --only graphql`): conversations(first: 20) with
 * their last messages on the seeded database, against the service with and without its response
 * cache and a plain GraphQL server over the same data (bench/graphql-baseline.ts).
 */
import pg from 'pg'
import type { LoadSpec } from './load-worker.js'
import { API_TOKEN, fmt, median, type Row, sleep, verdict } from './lib.js'
import {
  errorsOf,
  type FakeMeta,
  load,
  loadOn,
  log,
  type Measured,
  medianOf,
  RSS_LIMIT_MB,
  runsText,
  settings,
  type Service,
  startGraphqlBaseline,
  startService,
  type Summary,
} from './services.js'

const CONVERSATIONS_QUERY = `query Conversations($first: Int) {
  conversations(first: $first) {
    edges { node { id phoneNumber lastMessage { id content status createdAt } } }
  }
}`

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

export async function benchGraphql(
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
    service: await startService(`graphql-${db}`, urls.service, fake, { GRAPHQL_RESPONSE_CACHE_MB: '8' }),
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
    await load(spec(servers[which], 50, settings.warmup))
    for (const c of connections) measured[which][c] = []
  }
  for (let i = 0; i < settings.runs; i++) {
    for (const c of connections) {
      for (const which of kinds) {
        const r = await loadOn(servers[which], spec(servers[which], c, settings.duration), { databaseUrl: urls[which] })
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
    for (let i = 0; i < settings.runs; i++) {
      const writer = await commitsEvery(urls.service, 10)
      try {
        const r = await loadOn(servers.service, spec(servers.service, 50, settings.duration), {
          databaseUrl: urls.service,
        })
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
