/**
 * The event-webhooks benchmark (`npm run bench -- --only webhooks-out`): signed inbound messages
 * (Meta's webhooks, many customers) acknowledged by the service, with no event-webhook endpoint,
 * and with two registered for `message.received`: one healthy (answers 204 at once) and one that
 * never answers (every attempt waits out the 10 s timeout). The baseline is the same service
 * without endpoints, in the same run, runs interleaved: ingest with the two must stay within 0.8.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
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
  settings,
  startService,
  type Summary,
} from './services.js'

const CONNECTIONS = 50
const SENDERS = 2_000
const TARGET_RATIO = 0.8

/** An endpoint in this process: counts what it gets, and answers 204 or never. */
async function endpoint(answer: boolean) {
  let received = 0
  const hanging = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      received++
      if (answer) res.writeHead(204).end()
      else {
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
      }
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/events`,
    received: () => received,
    reset: () => (received = 0),
    close: async () => {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: any; errors?: unknown[] }
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`)
  return body.data
}

export async function benchWebhooksOut(db: string, databaseUrl: string, fake: FakeMeta): Promise<Summary> {
  log(`event webhooks out on ${db}`)
  const healthy = await endpoint(true)
  const dead = await endpoint(false)
  const results = { none: [] as Measured[], two: [] as Measured[] }
  const deliveredRates: number[] = []
  let peakRss = 0
  let tag = 0
  try {
    for (let i = 0; i < settings.runs; i++) {
      // Interleaved (none, two, two, none, …): the database grows with every run.
      for (const mode of i % 2 ? (['two', 'none'] as const) : (['none', 'two'] as const)) {
        const service = await startService(`webhooks-out-${mode}-${db}`, databaseUrl, fake, {
          // The endpoints are on this machine's loopback; production refuses that unless told.
          WEBHOOK_OUT_ALLOW_PRIVATE_NETWORKS: 'true',
        })
        const ids: number[] = []
        if (mode === 'two') {
          for (const url of [healthy.url, dead.url]) {
            const data = await gql(
              service.url,
              'mutation($url: String!) { createWebhookEndpoint(input: { url: $url, events: ["message.received"] }) { id } }',
              { url },
            )
            ids.push(data.createWebhookEndpoint.id)
          }
        }
        const spec = (duration: number): LoadSpec => ({
          scenario: 'inbound',
          url: service.url,
          token: API_TOKEN,
          connections: CONNECTIONS,
          duration,
          senders: SENDERS,
          appSecret: APP_SECRET,
          tag: `${db}-${process.pid}-${++tag}`,
        })
        const busy = await waitQuiet(settings.quick ? 5_000 : 20_000)
        if (busy > 0.25) log(`  WARNING: the machine is ${Math.round(busy * 100)}% busy with other work`)
        await load(spec(settings.warmup))
        healthy.reset()
        dead.reset()
        const r = await loadOn(service, spec(settings.duration), { quiet: false })
        results[mode].push(r)
        let note = ''
        if (mode === 'two') {
          const rate = healthy.received() / r.duration
          deliveredRates.push(rate)
          note = `; healthy endpoint got ${fmt(rate)} events/s during the load, the dead one ${dead.received()} attempts`
          // Gone before the next service starts on this database (its deliveries with it).
          for (const id of ids) await gql(service.url, 'mutation($id: Int!) { deleteWebhookEndpoint(id: $id) }', { id })
        }
        const { peakRss: peak } = await service.stop()
        peakRss = Math.max(peakRss, peak)
        log(
          `  run ${i + 1} ${mode === 'none' ? 'no endpoints ' : 'two endpoints'}: ${fmt(r.rps)} webhooks/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}${note}`,
        )
      }
    }
  } finally {
    await healthy.close()
    await dead.close()
  }
  const none = medianOf(results.none, 'rps')
  const two = medianOf(results.two, 'rps')
  const ratio = two / none
  const rows: Row[] = [
    {
      metric: 'inbound webhooks/s acknowledged, no endpoints (baseline)',
      value: fmt(none),
      runs: runsText(results.none.map((r) => r.rps)),
    },
    {
      metric: 'inbound webhooks/s acknowledged, two endpoints (one never answers)',
      value: fmt(two),
      baseline: fmt(none),
      ratio: ratio.toFixed(2),
      target: `≥ ${TARGET_RATIO}`,
      verdict: verdict(ratio >= TARGET_RATIO),
      runs: runsText(results.two.map((r) => r.rps)),
    },
    {
      metric: 'p99 ms, no endpoints / two endpoints',
      value: `${fmt(medianOf(results.none, 'p99'))} / ${fmt(medianOf(results.two, 'p99'))}`,
    },
    {
      metric: 'server CPU ms per webhook, no endpoints / two endpoints',
      value: `${fmt(medianOf(results.none, 'cpuMsPerRequest'), 2)} / ${fmt(medianOf(results.two, 'cpuMsPerRequest'), 2)}`,
    },
    {
      metric: 'events/s delivered to the healthy endpoint during the load',
      value: fmt(median(deliveredRates)),
      runs: runsText(deliveredRates),
    },
  ]
  const errors = errorsOf([...results.none, ...results.two])
  if (errors) rows.push({ metric: 'failed requests', value: String(errors), verdict: 'MISS' })
  rows.push({
    metric: 'peak RSS MB',
    value: fmt(peakRss),
    target: `< ${RSS_LIMIT_MB}`,
    verdict: verdict(peakRss < RSS_LIMIT_MB),
  })
  return {
    db,
    bench: `Event webhooks out: inbound message ingest with two endpoints (one healthy, one never answering) vs none, ${CONNECTIONS} connections`,
    rows,
    peakRss,
  }
}
