/**
 * The send benchmark (`npm run bench -- --only send`): POST /api/whatsapp/send against got straight
 * to the fake Meta (bench/got-direct.ts), with what the Meta client alone costs (bench/client-cost.ts).
 */
import type { LoadSpec } from './load-worker.js'
import {
  API_TOKEN,
  cpuSecondsOf,
  fmt,
  median,
  type Row,
  runJsonChild,
  sleep,
  verdict,
  waitQuiet,
  busyBetween,
  cpuTicks,
} from './lib.js'
import {
  errorsOf,
  type FakeMeta,
  fakeControl,
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

/**
 * What the HTTP client alone costs per call to Meta: the service's MetaGraphClient (got) and
 * node:http, taking turns, at Meta 0 ms. It does not depend on the database: measured once per
 * suite, shown in each send table.
 */
let clientCostRuns: Promise<Record<'got' | 'node:http', number[]>> | null = null
function measureClientCost(fake: FakeMeta, concurrency: number): Promise<Record<'got' | 'node:http', number[]>> {
  clientCostRuns ??= (async () => {
    const clientCost: Record<'got' | 'node:http', number[]> = { got: [], 'node:http': [] }
    for (let i = 0; i < settings.runs; i++) {
      for (const client of ['got', 'node:http'] as const) {
        await fakeControl.reset(fake)
        const r = await runJsonChild<{ cpuUsPerRequest: number; rps: number; failed: number }>('client-cost', {
          client,
          graphApiUrl: fake.env.WHATSAPP_GRAPH_API_URL,
          apiVersion: fake.env.WHATSAPP_API_VERSION,
          accessToken: fake.env.WHATSAPP_ACCESS_TOKEN,
          phoneNumberId: fake.env.WHATSAPP_PHONE_NUMBER_ID,
          requests: settings.quick ? 2_000 : 10_000,
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

export async function benchSend(db: string, databaseUrl: string, fake: FakeMeta): Promise<Summary> {
  log(`send path on ${db}`)
  const CONNECTIONS = 50
  const NUMBERS = 2000 // half of them have a conversation already (the seed has 1,000)
  const latencies = settings.quick ? [0, 100] : [0, 100]
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
    await load(spec(settings.warmup))
    metaRates[latency] = []
    const results: Measured[] = []
    for (let i = 0; i < settings.runs; i++) {
      await fakeControl.reset(fake)
      const r = await loadOn(service, spec(settings.duration), { databaseUrl, fakeMetaPid: fake.child.pid })
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
  // 10,000 sends on PostgreSQL (the production database); fewer on PGlite and in settings.quick runs,
  // because at this service's send rate 10,000 sends take minutes.
  const block = settings.quick ? 500 : db === 'postgres' ? 2000 : 1000
  const blocks = settings.quick ? 3 : 5
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
    await runJsonChild('got-direct', { ...gotSpec, duration: settings.warmup })
    for (let i = 0; i < settings.runs; i++) {
      await fakeControl.reset(fake)
      await waitQuiet(settings.quick ? 5_000 : 20_000)
      const ticks0 = cpuTicks()
      const fake0 = cpuSecondsOf(fake.child.pid!) ?? NaN
      const r = await runJsonChild<{ ok: number; rps: number; p99: number; failed: number; cpuMsPerSend: number }>(
        'got-direct',
        { ...gotSpec, duration: settings.duration },
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
