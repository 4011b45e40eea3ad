/**
 * The webhook benchmark (`npm run bench -- --only webhook`): signed status updates for stored
 * messages, acknowledged and then applied.
 */
import type { LoadSpec } from './load-worker.js'
import { API_TOKEN, APP_SECRET, fmt, median, type Row, verdict, waitQuiet } from './lib.js'
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
  SEED,
  settings,
  startService,
  type Summary,
} from './services.js'

export async function benchWebhook(db: string, databaseUrl: string, fake: FakeMeta): Promise<Summary> {
  log(`webhook ingest on ${db}`)
  const CONNECTIONS = 50
  const results: Measured[] = []
  const applyRates: number[] = []
  let offset = 0
  let peakRss = 0
  for (let i = 0; i < settings.runs; i++) {
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
    const busy = await waitQuiet(settings.quick ? 5_000 : 20_000)
    if (busy > 0.25) log(`  WARNING: the machine is ${Math.round(busy * 100)}% busy with other work`)
    const started = performance.now()
    const warm = await load(spec(1))
    offset += warm.ok + warm.non2xx
    const r = await loadOn(service, spec(settings.duration), { quiet: false })
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
