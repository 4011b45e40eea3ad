/**
 * A business's endpoint for event webhooks, on a loopback port: records every request (raw body,
 * headers, time) and answers as the test says: 2xx, an error status, late, never, or not at all
 * (a closed port refuses the connection: see {@link refusedUrl}).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'

export interface Received {
  body: string
  json: { id: string; type: string; created_at: string; data: any }
  headers: http.IncomingHttpHeaders
  at: number
}

/** What to answer: a status (after `delayMs`), or 'hang' (never answer). */
export type Answer = { status: number; delayMs?: number } | 'hang'

export class WebhookReceiver {
  readonly received: Received[] = []
  /** Decides each answer; the default answers 200 at once. */
  answer: (req: Received, index: number) => Answer = () => ({ status: 200 })
  private readonly hanging = new Set<http.ServerResponse>()

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        let json: Received['json']
        try {
          json = JSON.parse(body)
        } catch {
          json = { id: '', type: '', created_at: '', data: null }
        }
        const entry: Received = { body, json, headers: req.headers, at: Date.now() }
        const r = receiver!
        const index = r.received.push(entry) - 1
        const answer = r.answer(entry, index)
        if (answer === 'hang') {
          r.hanging.add(res)
          res.on('close', () => r.hanging.delete(res))
          return
        }
        const reply = () => res.writeHead(answer.status, { 'content-type': 'text/plain' }).end('ok')
        if (answer.delayMs) setTimeout(reply, answer.delayMs)
        else reply()
      })
    })
    server.keepAliveTimeout = 1000
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/hooks`)
    return receiver
  }

  /** Requests of one event type (in arrival order). */
  of(type: string): Received[] {
    return this.received.filter((r) => r.json.type === type)
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy()
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

/** A loopback URL nothing listens on: connections to it are refused. */
export async function refusedUrl(): Promise<string> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}/hooks`
}

/**
 * The verification function exactly as the README shows receivers (its code block, evaluated), so
 * the tests check signatures the way a business would, and fail if the README's code stops working.
 */
export function readmeVerifier(): (
  rawBody: string,
  header: string,
  secret: string,
  toleranceSeconds?: number,
) => boolean {
  const readme = readFileSync(path.resolve(import.meta.dirname, '..', '..', 'README.md'), 'utf8')
  const block = /```js\n([\s\S]*?function verifyGatewaySignature[\s\S]*?)```/.exec(readme)
  if (!block) throw new Error('README.md has no verifyGatewaySignature code block')
  const code = block[1].replace(/^import .*$/m, '')
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('createHmac', 'timingSafeEqual', `${code}\nreturn verifyGatewaySignature`)(
    createHmac,
    timingSafeEqual,
  )
}
