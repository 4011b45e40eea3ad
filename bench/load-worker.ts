/**
 * The load generator: autocannon in a process of its own, or, for a paced load, requests sent at
 * even intervals ({@link paced}). Reads one JSON argument (a {@link LoadSpec}), runs it and prints
 * the result as one JSON line ({@link LoadResult}).
 */
import { Agent, request as httpRequest } from 'node:http'
import autocannon from 'autocannon'
import { metaJson, signWebhook } from '../src/meta/meta.webhooks.js'
import { inboundText, statusUpdate } from '../test/helpers/webhooks.js'

export type LoadSpec = {
  url: string
  connections: number
  /** Seconds; ignored when `amount` is given. */
  duration?: number
  amount?: number
  /**
   * Requests per second across all connections, sent at even intervals (see {@link paced});
   * unpaced without (autocannon: each connection sends its next request when its last is answered).
   */
  overallRate?: number
  token: string
} &
  /** `variablesList`: each request takes the next variables in turn (round robin), instead of `variables`. */
  (
    | {
        scenario: 'graphql'
        query: string
        variables?: Record<string, unknown>
        variablesList?: Record<string, unknown>[]
      }
    /** POST /api/whatsapp/send to `numbers` phone numbers in turn, starting at `offset`. */
    | { scenario: 'send'; numbers: number; offset?: number }
    /** Signed status webhooks for `wamids` (wamid.bench.<1..wamids>): delivered for each, then read. */
    | { scenario: 'webhook'; wamids: number; appSecret: string; offset?: number }
    /** Signed inbound texts from `senders` customers in turn, each with a new wamid (`tag` keeps runs apart). */
    | { scenario: 'inbound'; senders: number; appSecret: string; tag: string }
  )

export interface LoadResult {
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  duration: number
  rps: number
  p50: number
  p90: number
  p99: number
  max: number
  statusCodes: Record<string, number>
  /** This load process's own CPU time over the run (ms): generating load costs the machine too. */
  cpuMs: number
}

const spec = JSON.parse(process.argv[2]) as LoadSpec

const phone = (i: number) => `+502${String(30_000_000 + i).padStart(8, '0')}`

function requestsFor(spec: LoadSpec): autocannon.Request[] {
  switch (spec.scenario) {
    case 'graphql': {
      const headers = { authorization: `Bearer ${spec.token}`, 'content-type': 'application/json' }
      if (spec.variablesList?.length) {
        const bodies = spec.variablesList.map((variables) => JSON.stringify({ query: spec.query, variables }))
        let n = 0
        return [
          {
            method: 'POST',
            path: '/graphql',
            headers,
            setupRequest: (req) => ({ ...req, body: bodies[n++ % bodies.length] }),
          },
        ]
      }
      return [
        {
          method: 'POST',
          path: '/graphql',
          headers,
          body: JSON.stringify({ query: spec.query, variables: spec.variables ?? {} }),
        },
      ]
    }
    case 'send': {
      let n = spec.offset ?? 0
      return [
        {
          method: 'POST',
          path: '/api/whatsapp/send',
          headers: { authorization: `Bearer ${spec.token}`, 'content-type': 'application/json' },
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({
              phoneNumber: phone(n++ % spec.numbers),
              content: 'Hello! Your service request has been received. A technician will contact you shortly.',
            }),
          }),
        },
      ]
    }
    case 'webhook': {
      // Signed up front, so signing is not the load generator's bottleneck.
      const bodies: { body: string; signature: string }[] = []
      for (const status of ['delivered', 'read']) {
        for (let i = 1; i <= spec.wamids; i++) {
          const body = metaJson(statusUpdate({ wamid: `wamid.bench.${i}`, status, to: phone(i).slice(1) }))
          bodies.push({ body, signature: signWebhook(body, spec.appSecret) })
        }
      }
      let n = spec.offset ?? 0
      return [
        {
          method: 'POST',
          path: '/webhooks/whatsapp',
          setupRequest: (req) => {
            const { body, signature } = bodies[n++ % bodies.length]
            return {
              ...req,
              headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
              body,
            }
          },
        },
      ]
    }
    case 'inbound': {
      let n = 0
      return [
        {
          method: 'POST',
          path: '/webhooks/whatsapp',
          setupRequest: (req) => {
            const i = n++
            const body = metaJson(
              inboundText({
                from: phone(i % spec.senders).slice(1),
                wamid: `wamid.in.${spec.tag}.${i}`,
                text: 'Confirmar',
                name: 'Cliente',
              }),
            )
            return {
              ...req,
              headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhook(body, spec.appSecret) },
              body,
            }
          },
        },
      ]
    }
  }
}

type Paced = Pick<autocannon.Result, '2xx' | 'non2xx' | 'errors' | 'timeouts' | 'duration' | 'statusCodeStats'> & {
  latency: { p50: number; p90: number; p99: number; max: number }
}

/**
 * `rate` requests per second for `seconds`, one every 1/rate s over at most `connections` kept-alive
 * connections (a request waits for a free one), each timed from when it was due: an open loop, as
 * webhooks and dashboards arrive, without coordinated omission. (autocannon's overallRate sends
 * each second's quota at once at the start of the second: a burst every second.)
 */
async function paced(rate: number, seconds: number, connections: number): Promise<Paced> {
  const [template] = requestsFor(spec)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies: number[] = []
  const codes: Record<string, { count: number }> = {}
  let ok = 0
  let non2xx = 0
  let errors = 0
  const inFlight = new Set<Promise<void>>()
  const send = (due: number) => {
    const setup = template.setupRequest
    const req = typeof setup === 'function' ? setup({ ...template }, {}) : template
    const body = String(req.body ?? '')
    const sent = new Promise<void>((resolve) => {
      const r = httpRequest(
        new URL(req.path!, spec.url),
        { method: req.method, headers: { ...req.headers, 'content-length': Buffer.byteLength(body) }, agent },
        (res) => {
          res.resume()
          res.on('end', () => {
            latencies.push(performance.now() - due)
            const code = String(res.statusCode)
            codes[code] = { count: (codes[code]?.count ?? 0) + 1 }
            if (res.statusCode! >= 200 && res.statusCode! < 300) ok++
            else non2xx++
            resolve()
          })
        },
      )
      r.setTimeout(30_000, () => r.destroy(new Error('timeout')))
      r.on('error', () => {
        errors++
        resolve()
      })
      r.end(body)
    })
    inFlight.add(sent)
    void sent.then(() => inFlight.delete(sent))
  }
  const start = performance.now()
  const interval = 1000 / rate
  for (let k = 0; k < rate * seconds; k++) {
    const due = start + k * interval
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    send(due)
  }
  await Promise.all(inFlight)
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN)
  return {
    '2xx': ok,
    non2xx,
    errors,
    timeouts: 0,
    duration: seconds,
    statusCodeStats: codes as autocannon.Result['statusCodeStats'],
    latency: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Math.round(latencies[latencies.length - 1] ?? NaN) },
  }
}

const cpu0 = process.cpuUsage()
const result: Paced = spec.overallRate
  ? await paced(spec.overallRate, spec.duration ?? 10, spec.connections)
  : await autocannon({
      url: spec.url,
      connections: spec.connections,
      ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration ?? 10 }),
      requests: requestsFor(spec),
      timeout: 30,
    })

const cpu = process.cpuUsage(cpu0)

const codes: Record<string, number> = {}
for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) codes[code] = Number(count)
const ok = result['2xx']
const out: LoadResult = {
  ok,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  duration: result.duration,
  rps: ok / result.duration,
  p50: result.latency.p50,
  p90: result.latency.p90,
  p99: result.latency.p99,
  max: result.latency.max,
  statusCodes: codes,
  cpuMs: (cpu.user + cpu.system) / 1000,
}
process.stdout.write(`${JSON.stringify(out)}\n`)
