/**
 * A fake of Meta's Graph API (WhatsApp Cloud API) on a loopback port. Like Meta it checks the
 * path, API version, bearer token and body of every request, answers with Meta's real success and
 * error bodies, and pages templates with cursors. It records what it received, so tests can state
 * exactly what reached "Meta".
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MetaErrorBody, MetaSendMessageRequest, MetaTemplate } from '../../src/meta/meta.types.js'

export interface MetaErrorFixture {
  status: number
  body: MetaErrorBody
}

const trace = () => `A${randomBytes(10).toString('base64url')}`

/** Meta's error bodies, as documented. */
export const META_ERRORS = {
  undeliverable: (): MetaErrorFixture => ({
    status: 400,
    body: {
      error: {
        message: '(#131026) Message Undeliverable',
        type: 'OAuthException',
        code: 131026,
        error_data: { messaging_product: 'whatsapp', details: 'Message Undeliverable.' },
        fbtrace_id: trace(),
      },
    },
  }),
  templateMissing: (): MetaErrorFixture => ({
    status: 404,
    body: {
      error: {
        message: '(#132001) Template name does not exist in the translation',
        type: 'OAuthException',
        code: 132001,
        error_data: { messaging_product: 'whatsapp', details: 'template name (x) does not exist in es' },
        fbtrace_id: trace(),
      },
    },
  }),
  paramCountMismatch: (): MetaErrorFixture => ({
    status: 400,
    body: {
      error: {
        message: '(#132000) Number of parameters does not match the expected number of params',
        type: 'OAuthException',
        code: 132000,
        error_data: {
          messaging_product: 'whatsapp',
          details: 'body: number of localizable_params (1) does not match the expected number of params (2)',
        },
        fbtrace_id: trace(),
      },
    },
  }),
  tokenExpired: (): MetaErrorFixture => ({
    status: 401,
    body: {
      error: {
        message: 'Error validating access token: Session has expired.',
        type: 'OAuthException',
        code: 190,
        error_subcode: 463,
        fbtrace_id: trace(),
      },
    },
  }),
  pairRate: (): MetaErrorFixture => ({
    status: 400,
    body: {
      error: {
        message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
        type: 'OAuthException',
        code: 131056,
        error_data: {
          messaging_product: 'whatsapp',
          details:
            'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
        },
        fbtrace_id: trace(),
      },
    },
  }),
  serverError: (): MetaErrorFixture => ({
    status: 500,
    body: {
      error: {
        message: 'An unknown error has occurred.',
        type: 'OAuthException',
        code: 1,
        is_transient: true,
        fbtrace_id: trace(),
      },
    } as MetaErrorBody,
  }),
  throttled: (): MetaErrorFixture => ({
    status: 400,
    body: {
      error: {
        message: '(#130429) Rate limit hit',
        type: 'OAuthException',
        code: 130429,
        error_subcode: 2494055,
        error_data: { messaging_product: 'whatsapp', details: 'Cloud API message throughput has been reached.' },
        fbtrace_id: trace(),
      },
    },
  }),
  invalidParameter: (details: string): MetaErrorFixture => ({
    status: 400,
    body: {
      error: {
        message: '(#100) Invalid parameter',
        type: 'OAuthException',
        code: 100,
        error_data: { messaging_product: 'whatsapp', details },
        fbtrace_id: trace(),
      },
    },
  }),
}

export interface RecordedRequest {
  method: string
  path: string
  query: URLSearchParams
  authorization: string | undefined
  body: unknown
}

export interface FakeMetaOptions {
  apiVersion?: string
  accessToken?: string
  phoneNumberId?: string
  businessAccountId?: string
  templates?: MetaTemplate[]
  /** Templates per page when the client does not ask for fewer. */
  maxPageSize?: number
}

/** Checks a send body the way Meta does; returns what is wrong, or null. */
function problemWithSend(body: unknown): string | null {
  const b = body as Partial<MetaSendMessageRequest> & Record<string, unknown>
  if (typeof b !== 'object' || b === null) return 'body must be a JSON object'
  if (b.messaging_product !== 'whatsapp') return 'messaging_product must be whatsapp'
  if (b.recipient_type !== undefined && b.recipient_type !== 'individual') return 'recipient_type must be individual'
  if (typeof b.to !== 'string' || !/^\d{8,15}$/.test(b.to)) return 'to must be a phone number in digits'
  if (b.type === 'text') {
    const text = b.text as { body?: unknown; preview_url?: unknown } | undefined
    if (typeof text?.body !== 'string' || text.body.length === 0 || text.body.length > 4096)
      return 'text.body is invalid'
    if (text.preview_url !== undefined && typeof text.preview_url !== 'boolean')
      return 'text.preview_url must be a boolean'
    return null
  }
  if (b.type === 'template') {
    const t = b.template as { name?: unknown; language?: { code?: unknown }; components?: unknown } | undefined
    if (typeof t?.name !== 'string' || !t.name) return 'template.name is required'
    if (typeof t.language?.code !== 'string') return 'template.language.code is required'
    if (t.components !== undefined) {
      if (!Array.isArray(t.components)) return 'template.components must be an array'
      for (const c of t.components as Record<string, unknown>[]) {
        if (!['header', 'body', 'button'].includes(String(c.type))) return `component type ${String(c.type)} is invalid`
        if (!Array.isArray(c.parameters)) return 'component parameters must be an array'
        if (c.type === 'button' && (typeof c.sub_type !== 'string' || c.index === undefined))
          return 'button components need sub_type and index'
      }
    }
    return null
  }
  return `type ${String(b.type)} is not supported`
}

export class FakeMetaServer {
  readonly apiVersion: string
  readonly accessToken: string
  readonly phoneNumberId: string
  readonly businessAccountId: string
  templates: MetaTemplate[]
  readonly maxPageSize: number
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = []
  /** The ledger: every message send the fake accepted, with the wamid it returned and when it arrived (ms since the epoch, sub-ms precision). */
  readonly accepted: { wamid: string; request: MetaSendMessageRequest; at: number }[] = []
  /** Sends the fake refused as malformed (a test expecting well-formed requests checks this is empty). */
  readonly malformed: { path: string; problem: string }[] = []
  private readonly failuresByRecipient = new Map<string, { error: () => MetaErrorFixture; times: number }>()
  private readonly nextFailures: MetaErrorFixture[] = []
  private readonly nextRaw: { status: number; text: string }[] = []
  private stallMs = 0
  private hangAfterAccept: { ms: number; to: string | null }[] = []
  private readonly nextWamids: string[] = []
  private server!: Server
  url = ''

  private constructor(options: FakeMetaOptions) {
    this.apiVersion = options.apiVersion ?? 'v24.0'
    this.accessToken = options.accessToken ?? `EAAG${randomBytes(16).toString('hex')}`
    this.phoneNumberId = options.phoneNumberId ?? '106540352242922'
    this.businessAccountId = options.businessAccountId ?? '102290129340398'
    this.templates = options.templates ?? []
    this.maxPageSize = options.maxPageSize ?? 25
  }

  static async start(options: FakeMetaOptions = {}): Promise<FakeMetaServer> {
    const fake = new FakeMetaServer(options)
    fake.server = createServer((req, res) => void fake.handle(req, res))
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve))
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`
    return fake
  }

  /** Environment for the service under test, pointing at this fake. */
  env(): Record<string, string> {
    return {
      WHATSAPP_ACCESS_TOKEN: this.accessToken,
      WHATSAPP_PHONE_NUMBER_ID: this.phoneNumberId,
      WHATSAPP_BUSINESS_ACCOUNT_ID: this.businessAccountId,
      WHATSAPP_GRAPH_API_URL: this.url,
      WHATSAPP_API_VERSION: this.apiVersion,
    }
  }

  /** Sends to `to` (digits) fail with this error: every one, or the next `times`. */
  failFor(to: string, error: () => MetaErrorFixture, times = Infinity): void {
    this.failuresByRecipient.set(to, { error, times })
  }

  /** The next request fails with this error. */
  failNext(error: MetaErrorFixture): void {
    this.nextFailures.push(error)
  }

  /** The next request gets this raw answer (for non-JSON bodies, gateway pages…). */
  answerNextWith(status: number, text: string): void {
    this.nextRaw.push({ status, text })
  }

  /** The next accepted send gets this wamid. */
  useWamid(wamid: string): void {
    this.nextWamids.push(wamid)
  }

  /**
   * The next accepted send (to `to`, or any) is recorded in the ledger — Meta took it — but its
   * answer is held back `ms` (longer than the client's timeout: the client never learns the wamid).
   */
  acceptThenHang(ms: number, to: string | null = null): void {
    this.hangAfterAccept.push({ ms, to })
  }

  /** Every answer is held back this long (0 to stop). */
  stall(ms: number): void {
    this.stallMs = ms
  }

  sendsTo(to: string) {
    return this.accepted.filter((a) => a.request.to === to)
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const arrivedAt = performance.timeOrigin + performance.now()
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const url = new URL(req.url ?? '/', this.url)
    const text = Buffer.concat(chunks).toString('utf8')
    let body: unknown
    try {
      body = text ? JSON.parse(text) : undefined
    } catch {
      body = text
    }
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body,
    })

    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(payload))
    }

    if (this.stallMs) await new Promise((resolve) => setTimeout(resolve, this.stallMs))
    const raw = this.nextRaw.shift()
    if (raw) {
      res.writeHead(raw.status, { 'content-type': 'text/html' })
      return res.end(raw.text)
    }
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) {
      const { status, body: err } = META_ERRORS.tokenExpired()
      err.error.message = 'Invalid OAuth access token - Cannot parse access token'
      return send(status, err)
    }
    const failure = this.nextFailures.shift()
    if (failure) return send(failure.status, failure.body)

    const [, version, node, edge, ...rest] = url.pathname.split('/')
    if (version !== this.apiVersion || rest.length > 0) return this.unknownPath(send, req.method, url.pathname)

    if (req.method === 'POST' && node === this.phoneNumberId && edge === 'messages') {
      if (!String(req.headers['content-type']).startsWith('application/json')) {
        return send(400, META_ERRORS.invalidParameter('Content-Type must be application/json').body)
      }
      const problem = problemWithSend(body)
      if (problem) {
        this.malformed.push({ path: url.pathname, problem })
        return send(400, META_ERRORS.invalidParameter(problem).body)
      }
      const request = body as MetaSendMessageRequest
      const recipientFailure = this.failuresByRecipient.get(request.to)
      if (recipientFailure && recipientFailure.times > 0) {
        recipientFailure.times--
        const { status, body: err } = recipientFailure.error()
        return send(status, err)
      }
      if (request.type === 'template') {
        const { name, language } = request.template
        if (this.templates.length && !this.templates.some((t) => t.name === name && t.language === language.code)) {
          const { status, body: err } = META_ERRORS.templateMissing()
          return send(status, err)
        }
      }
      const wamid =
        this.nextWamids.shift() ??
        `wamid.${Buffer.from(`${request.to}_${randomBytes(8).toString('hex')}`).toString('base64')}`
      this.accepted.push({ wamid, request, at: arrivedAt })
      const hang = this.hangAfterAccept.findIndex((h) => h.to === null || h.to === request.to)
      if (hang >= 0) {
        const [{ ms }] = this.hangAfterAccept.splice(hang, 1)
        await new Promise((resolve) => setTimeout(resolve, ms))
        if (res.destroyed) return
      }
      return send(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: request.to, wa_id: request.to }],
        messages: [request.type === 'template' ? { id: wamid, message_status: 'accepted' } : { id: wamid }],
      })
    }

    if (req.method === 'GET' && node === this.businessAccountId && edge === 'message_templates') {
      const limit = Math.min(
        Number(url.searchParams.get('limit') ?? this.maxPageSize) || this.maxPageSize,
        this.maxPageSize,
      )
      const after = url.searchParams.get('after')
      const start = after ? Number(Buffer.from(after, 'base64url').toString()) : 0
      const page = this.templates.slice(start, start + limit)
      const end = start + page.length
      const cursor = (n: number) => Buffer.from(String(n)).toString('base64url')
      const next =
        end < this.templates.length
          ? `https://graph.facebook.com/${this.apiVersion}/${this.businessAccountId}/message_templates?limit=${limit}&after=${cursor(end)}`
          : undefined
      return send(200, {
        data: page,
        paging: { cursors: { before: cursor(start), after: cursor(end) }, ...(next ? { next } : {}) },
      })
    }

    return this.unknownPath(send, req.method, url.pathname)
  }

  private unknownPath(send: (status: number, payload: unknown) => void, method: string | undefined, path: string) {
    this.malformed.push({ path, problem: `unknown path ${method} ${path}` })
    send(400, {
      error: {
        message: `Unsupported ${String(method).toLowerCase()} request. Object with ID '${path}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        type: 'GraphMethodException',
        code: 100,
        error_subcode: 33,
        fbtrace_id: trace(),
      },
    })
  }
}

/** Templates shaped like Meta's list response. */
export function metaTemplate(overrides: Partial<MetaTemplate> & Pick<MetaTemplate, 'name'>): MetaTemplate {
  return {
    id: String(1_000_000 + Math.floor(Math.random() * 1_000_000)),
    language: 'es',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: `Hola {{1}}, mensaje ${overrides.name}.` }],
    ...overrides,
  }
}

/**
 * The most events in any window of `windowMs` (half-open, [t, t + windowMs)), for rate checks on
 * the ledger's arrival times.
 */
export function busiestWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= windowMs) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}
