import { createHmac } from 'node:crypto'
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import got, { type Got } from 'got'
import { type AddressPolicy, isNonPublicAddress } from './endpoint-address.js'

/** `X-Gateway-Signature`: Stripe's scheme, `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signatureHeader(secret: string, body: string, at = new Date()): string {
  const t = Math.floor(at.getTime() / 1000)
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
  return `t=${t},v1=${v1}`
}

export type AttemptOutcome = { ok: true; statusCode: number } | { ok: false; statusCode: number | null; error: string }

/** What one attempt needs. */
export interface Delivery {
  url: string
  secret: string
  eventId: string
  eventType: string
  body: string
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * Posts signed event bodies to endpoints: one attempt each, a hard timeout, no redirects (a 3xx is
 * a failed attempt: following it could lead anywhere), no retries here (the worker schedules them).
 * In production every address connected to is checked to be public as it is resolved, so a DNS
 * answer that changed since the endpoint was registered (rebinding) cannot reach the inside.
 */
export class EventWebhookSender {
  private readonly http: Got
  private readonly agents: { http: http.Agent; https: https.Agent }

  constructor(private readonly options: AddressPolicy & { timeoutMs: number; endpointConcurrency: number }) {
    const guard = options.production && !options.allowPrivateNetworks
    const agentOptions = { keepAlive: true, maxSockets: options.endpointConcurrency }
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) }
    this.http = got.extend({
      timeout: { request: options.timeoutMs },
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      agent: this.agents,
      headers: { 'user-agent': 'wa-gateway-webhooks/1', 'content-type': 'application/json' },
      ...(guard ? { dnsLookup: publicOnlyLookup as never } : {}),
    })
  }

  async send(delivery: Delivery, signal?: AbortSignal): Promise<AttemptOutcome> {
    const url = new URL(delivery.url)
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    // A literal address is never looked up: checked here instead.
    if (this.options.production && !this.options.allowPrivateNetworks && isIP(host) && isNonPublicAddress(host))
      return { ok: false, statusCode: null, error: `refused: ${host} is not a public address` }
    const stream = this.http.stream.post(url, {
      body: delivery.body,
      headers: {
        'x-gateway-signature': signatureHeader(delivery.secret, delivery.body),
        'x-gateway-event-id': delivery.eventId,
        'x-gateway-event-type': delivery.eventType,
      },
      signal,
    })
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        stream.once('response', resolve)
        stream.once('error', reject)
      })
      const statusCode = response.statusCode ?? 0
      // The answer's body does not matter: drained (keeps the connection reusable), never kept.
      stream.resume()
      await new Promise<void>((resolve) => {
        stream.once('end', resolve)
        stream.once('error', () => resolve())
        stream.once('close', resolve)
      })
      if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode }
      return { ok: false, statusCode, error: `HTTP ${statusCode}` }
    } catch (err) {
      stream.destroy()
      const e = err as NodeJS.ErrnoException & { code?: string; name?: string }
      const code = e.code ?? e.name
      return { ok: false, statusCode: null, error: code ? `${code}: ${e.message}` : String(e.message ?? err) }
    }
  }

  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }
}

/** dns.lookup that fails for a host with any non-public address (see EventWebhookSender). */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
    if (err) return callback(err, '')
    const refused = addresses.find((a) => isNonPublicAddress(a.address))
    if (refused || addresses.length === 0) {
      const error: NodeJS.ErrnoException = new Error(
        `refused: ${hostname} resolves to ${refused?.address ?? 'nothing'}, not a public address`,
      )
      error.code = 'EADDRNOTPUBLIC'
      return callback(error, '')
    }
    if (options.all) return callback(null, addresses)
    callback(null, addresses[0].address, addresses[0].family)
  })
}
