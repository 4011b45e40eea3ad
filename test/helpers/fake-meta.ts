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
import { DOWNLOAD_PATH, FakeMetaMedia, MEDIA_KINDS, need, Refusal, type MediaKind } from './fake-meta-media.js'

export { generatedChunks, type GeneratedMedia, type UploadRecord } from './fake-meta-media.js'

export interface MetaErrorFixture {
  status: number
  body: MetaErrorBody
}

const trace = () => `A${randomBytes(10).toString('base64url')}`

/** A Meta error body: `(#code) title` with `error_data.details` when given. */
const metaError = (status: number, code: number, message: string, details?: string, extra = {}): MetaErrorFixture => ({
  status,
  body: {
    error: {
      message,
      type: 'OAuthException',
      code,
      ...extra,
      ...(details === undefined ? {} : { error_data: { messaging_product: 'whatsapp', details } }),
      fbtrace_id: trace(),
    },
  } as MetaErrorBody,
})

/** Meta's error bodies, as documented. */
export const META_ERRORS = {
  undeliverable: () => metaError(400, 131026, '(#131026) Message Undeliverable', 'Message Undeliverable.'),
  templateMissing: () =>
    metaError(
      404,
      132001,
      '(#132001) Template name does not exist in the translation',
      'template name (x) does not exist in es',
    ),
  paramCountMismatch: () =>
    metaError(
      400,
      132000,
      '(#132000) Number of parameters does not match the expected number of params',
      'body: number of localizable_params (1) does not match the expected number of params (2)',
    ),
  tokenExpired: () =>
    metaError(401, 190, 'Error validating access token: Session has expired.', undefined, { error_subcode: 463 }),
  pairRate: () =>
    metaError(
      400,
      131056,
      '(#131056) (Business Account, Consumer Account) pair rate limit hit',
      'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
    ),
  serverError: () => metaError(500, 1, 'An unknown error has occurred.', undefined, { is_transient: true }),
  throttled: () =>
    metaError(400, 130429, '(#130429) Rate limit hit', 'Cloud API message throughput has been reached.', {
      error_subcode: 2494055,
    }),
  invalidParameter: (details: string) => metaError(400, 100, '(#100) Invalid parameter', details),
  /** Outside a documented limit (interactive messages, captions). */
  parameterValueNotValid: (details: string) =>
    metaError(400, 131009, '(#131009) Parameter value is not valid', details),
  /** An upload of a type or size Meta does not take. */
  mediaUploadError: (details: string) => metaError(400, 131053, '(#131053) Media upload error', details),
  /** A path or object id Graph does not know (an unknown or expired media id, a mistyped edge). */
  unknownObject: (method: string | undefined, id: string): MetaErrorFixture => ({
    status: 400,
    body: {
      error: {
        message: `Unsupported ${String(method).toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        type: 'GraphMethodException',
        code: 100,
        error_subcode: 33,
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
  /** How long a media look-up's download URL works (default 5 minutes, as Meta). */
  mediaUrlTtlMs?: number
}

const isWamid = (v: unknown) => typeof v === 'string' && v.startsWith('wamid.') && v.length > 6
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A required (or optional) string: 100 when missing or not a string, 131009 when over `max` characters. */
function needString(v: unknown, where: string, max: number, optional = false): void {
  if (v === undefined && optional) return
  need(typeof v === 'string' && v.length > 0, `${where} must be a non-empty string`)
  need([...v].length <= max, `${where} is over ${max} characters`, 131009)
}

/** Reply buttons and lists within Meta's documented limits (other interactive types are not faked). */
function checkInteractive(i: unknown): void {
  need(isObject(i), 'interactive must be an object')
  need(i.type === 'button' || i.type === 'list', `interactive.type ${String(i.type)} is not supported`)
  need(isObject(i.body), 'interactive.body is required')
  needString(i.body.text, 'interactive.body.text', 1024)
  if (i.footer !== undefined) needString(i.footer?.text, 'interactive.footer.text', 60)
  if (i.header !== undefined) {
    need(isObject(i.header) && i.header.type === 'text', 'interactive.header.type must be text')
    needString(i.header.text, 'interactive.header.text', 60)
  }
  const a = i.action
  need(isObject(a), 'interactive.action is required')
  if (i.type === 'button') {
    need(Array.isArray(a.buttons), 'interactive.action.buttons must be an array')
    need(a.buttons.length >= 1 && a.buttons.length <= 3, 'a reply button message has 1 to 3 buttons', 131009)
    for (const [n, b] of a.buttons.entries()) {
      need(isObject(b) && b.type === 'reply' && isObject(b.reply), `buttons[${n}] must be {type: 'reply', reply}`)
      needString(b.reply.id, `buttons[${n}].reply.id`, 256)
      needString(b.reply.title, `buttons[${n}].reply.title`, 20)
    }
    const unique = (key: string) => new Set(a.buttons.map((b: any) => b.reply[key])).size === a.buttons.length
    need(unique('id'), 'button ids must be unique', 131009)
    return need(unique('title'), 'button titles must be unique', 131009)
  }
  needString(a.button, 'interactive.action.button', 20)
  need(Array.isArray(a.sections), 'interactive.action.sections must be an array')
  need(a.sections.length >= 1 && a.sections.length <= 10, 'a list has 1 to 10 sections', 131009)
  const rowIds: string[] = []
  for (const [n, s] of a.sections.entries()) {
    need(isObject(s) && Array.isArray(s.rows) && s.rows.length > 0, `sections[${n}].rows must be a non-empty array`)
    needString(s.title, `sections[${n}].title`, 24, a.sections.length === 1)
    for (const [m, r] of s.rows.entries()) {
      const where = `sections[${n}].rows[${m}]`
      need(isObject(r), `${where} must be an object`)
      needString(r.id, `${where}.id`, 200)
      needString(r.title, `${where}.title`, 24)
      needString(r.description, `${where}.description`, 72, true)
      rowIds.push(r.id)
    }
  }
  need(rowIds.length <= 10, `a list has at most 10 rows in all, not ${rowIds.length}`, 131009)
  need(new Set(rowIds).size === rowIds.length, 'row ids must be unique', 131009)
}

/** Checks a send body the way Meta does; throws a Refusal saying what is wrong. */
function checkSend(b: unknown, checkMedia: (kind: MediaKind, value: unknown) => void): void {
  need(isObject(b), 'body must be a JSON object')
  need(b.messaging_product === 'whatsapp', 'messaging_product must be whatsapp')
  need(b.recipient_type === undefined || b.recipient_type === 'individual', 'recipient_type must be individual')
  need(typeof b.to === 'string' && /^\d{8,15}$/.test(b.to), 'to must be a phone number in digits')
  need(b.context === undefined || isWamid(b.context?.message_id), 'context.message_id must be a wamid')
  if (b.type === 'text') {
    const text = b.text
    need(typeof text?.body === 'string' && text.body.length > 0 && text.body.length <= 4096, 'text.body is invalid')
    return need(['undefined', 'boolean'].includes(typeof text.preview_url), 'text.preview_url must be a boolean')
  }
  if (b.type === 'template') {
    const t = b.template
    need(typeof t?.name === 'string' && t.name, 'template.name is required')
    need(typeof t.language?.code === 'string', 'template.language.code is required')
    if (t.components === undefined) return
    need(Array.isArray(t.components), 'template.components must be an array')
    for (const c of t.components) {
      need(['header', 'body', 'button'].includes(String(c?.type)), `component type ${String(c?.type)} is invalid`)
      need(Array.isArray(c.parameters), 'component parameters must be an array')
      if (c.type === 'button')
        need(typeof c.sub_type === 'string' && c.index !== undefined, 'button components need sub_type and index')
    }
    return
  }
  if (MEDIA_KINDS.includes(b.type)) return checkMedia(b.type, b[b.type])
  if (b.type === 'location') {
    const l = b.location
    need(isObject(l), 'location must be an object')
    const within = (v: unknown, max: number) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= max
    need(within(l.latitude, 90), 'location.latitude must be a number from -90 to 90')
    need(within(l.longitude, 180), 'location.longitude must be a number from -180 to 180')
    for (const key of ['name', 'address'])
      need(['undefined', 'string'].includes(typeof l[key]), `location.${key} must be a string`)
    return
  }
  if (b.type === 'interactive') return checkInteractive(b.interactive)
  need(b.type === 'reaction', `type ${String(b.type)} is not supported`)
  need(isObject(b.reaction) && isWamid(b.reaction.message_id), 'reaction.message_id must be a wamid')
  need(typeof b.reaction.emoji === 'string', 'reaction.emoji must be a string ("" removes the reaction)')
  // One emoji may be several code points (skin tones, flags, ZWJ families).
  need([...b.reaction.emoji].length <= 10, 'reaction.emoji must be a single emoji', 131009)
}

/** A read receipt (`status: read`), optionally showing the typing indicator. */
function checkReadReceipt(b: Record<string, any>): void {
  need(b.messaging_product === 'whatsapp', 'messaging_product must be whatsapp')
  need(b.status === 'read', 'status must be read')
  need(isWamid(b.message_id), 'message_id must be a wamid')
  need(b.typing_indicator === undefined || b.typing_indicator?.type === 'text', 'typing_indicator.type must be text')
}

export class FakeMetaServer extends FakeMetaMedia {
  readonly apiVersion: string
  readonly accessToken: string
  readonly phoneNumberId: string
  readonly businessAccountId: string
  templates: MetaTemplate[]
  readonly maxPageSize: number
  /** Every request received, in order (an upload's body is its fields and the file's name, type, size and sha256). */
  readonly requests: RecordedRequest[] = []
  /** The ledger: every message send the fake accepted, with the wamid it returned and when it arrived (ms since the epoch, sub-ms precision). */
  readonly accepted: { wamid: string; request: MetaSendMessageRequest; at: number; from: string }[] = []
  /** Other business numbers (addNumber): each with its own token and Business Account. */
  private readonly numbers = new Map<string, { accessToken: string; businessAccountId: string }>()
  /** Templates of other Business Accounts (addNumber). */
  readonly accountTemplates = new Map<string, MetaTemplate[]>()
  /** Sends the fake refused as malformed (a test expecting well-formed requests checks this is empty). */
  readonly malformed: { path: string; problem: string }[] = []
  /** Read receipts accepted (not sends: they are not in `accepted`). */
  readonly readReceipts: { messageId: string; typing: boolean; at: number }[] = []
  private readonly failuresByRecipient = new Map<string, { error: () => MetaErrorFixture; times: number }>()
  private readonly nextFailures: MetaErrorFixture[] = []
  private readonly nextRaw: { status: number; text: string }[] = []
  private stallMs = 0
  private hangAfterAccept: { ms: number; to: string | null }[] = []
  private readonly nextWamids: string[] = []
  private readonly identities = new Map<string, { waId: string; userId?: string }>()
  private server!: Server
  url = ''

  private constructor(options: FakeMetaOptions) {
    super()
    this.apiVersion = options.apiVersion ?? 'v24.0'
    this.accessToken = options.accessToken ?? `EAAG${randomBytes(16).toString('hex')}`
    this.phoneNumberId = options.phoneNumberId ?? '106540352242922'
    this.businessAccountId = options.businessAccountId ?? '102290129340398'
    this.templates = options.templates ?? []
    this.maxPageSize = options.maxPageSize ?? 25
    this.mediaUrlTtlMs = options.mediaUrlTtlMs ?? this.mediaUrlTtlMs
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

  /**
   * Another business number Meta knows, with its own access token (which reaches only it; the
   * shared token reaches every number, as a system user's token with every asset does).
   */
  addNumber(number: {
    phoneNumberId: string
    businessAccountId: string
    accessToken: string
    templates?: MetaTemplate[]
  }) {
    this.numbers.set(number.phoneNumberId, number)
    const known = this.accountTemplates.get(number.businessAccountId) ?? []
    this.accountTemplates.set(number.businessAccountId, number.templates ?? known)
  }

  /** Whether `authorization` may act as business number `node` (false: not a number Meta knows). */
  private mayActAs(node: string, authorization: string | undefined): boolean {
    if (authorization === `Bearer ${this.accessToken}`) return node === this.phoneNumberId || this.numbers.has(node)
    return authorization === `Bearer ${this.numbers.get(node)?.accessToken}`
  }

  /** Sends to `to` (digits) fail with this error: every one, or the next `times`. */
  failFor(to: string, error: () => MetaErrorFixture, times = Infinity): void {
    this.failuresByRecipient.set(to, { error, times })
  }

  /** The next Graph API request (not a media download: see failDownloads) fails with this error. */
  failNext(error: MetaErrorFixture): void {
    this.nextFailures.push(error)
  }

  /** The next request gets this raw answer (for non-JSON bodies, gateway pages…). */
  answerNextWith(status: number, text: string): void {
    this.nextRaw.push({ status, text })
  }

  /**
   * Sends to `to` are answered as Meta answers a number whose WhatsApp id is another (Mexico's
   * `521`, Brazil's ninth digit): `contacts[0].wa_id` is `waId`, with `userId` when given.
   */
  identify(to: string, waId: string, userId?: string): void {
    this.identities.set(to, { waId, userId })
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
    const url = new URL(req.url ?? '/', this.url)
    // Uploads are parsed as they stream (so a 100 MB file is never whole in memory); their
    // recorded body is filled in with the fields once parsed.
    const multipart = String(req.headers['content-type']).startsWith('multipart/form-data')
    const body = multipart ? {} : await readJson(req)
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
    const refuse = ({ code, details }: Refusal) => {
      this.malformed.push({ path: url.pathname, problem: details })
      const error = {
        100: META_ERRORS.invalidParameter,
        131009: META_ERRORS.parameterValueNotValid,
        131053: META_ERRORS.mediaUploadError,
      }[code]
      const { status, body: err } = error(details)
      send(status, err)
    }
    /** Runs Meta's checks on a request: true when it passed, else Meta's refusal is sent. */
    const passes = (check: () => void) => {
      try {
        check()
        return true
      } catch (error) {
        if (!(error instanceof Refusal)) throw error
        refuse(error)
        return false
      }
    }

    if (this.stallMs) await new Promise((resolve) => setTimeout(resolve, this.stallMs))
    const raw = this.nextRaw.shift()
    if (raw) {
      res.writeHead(raw.status, { 'content-type': 'text/html' })
      return res.end(raw.text)
    }
    // Download URLs are not Graph paths and have their own failures (failDownloads).
    if (url.pathname === DOWNLOAD_PATH) return this.downloadMedia(req, res, url)
    const ownTokens = [...this.numbers.values()].map((n) => `Bearer ${n.accessToken}`)
    if (
      req.headers.authorization !== `Bearer ${this.accessToken}` &&
      !ownTokens.includes(req.headers.authorization ?? '')
    ) {
      const { status, body: err } = META_ERRORS.tokenExpired()
      err.error.message = 'Invalid OAuth access token - Cannot parse access token'
      return send(status, err)
    }
    const failure = this.nextFailures.shift()
    if (failure) return send(failure.status, failure.body)

    const [, version, node, edge, ...rest] = url.pathname.split('/')
    if (version !== this.apiVersion || rest.length > 0) return this.unknownPath(send, req.method, url.pathname)

    if (
      req.method === 'POST' &&
      (edge === 'media' || edge === 'messages') &&
      this.numbers.has(node) &&
      !this.mayActAs(node, req.headers.authorization)
    ) {
      // A number's own token reaches only that number.
      const { status, body: err } = META_ERRORS.tokenExpired()
      err.error.message = `The access token has no permission for phone number ${node}`
      return send(status, err)
    }
    const isOurNumber = node === this.phoneNumberId || this.numbers.has(node)
    if (req.method === 'POST' && isOurNumber && edge === 'media') {
      if (!passes(() => need(multipart, 'Content-Type must be multipart/form-data'))) return
      const answer = await this.uploadMedia(req, body as Record<string, unknown>)
      return answer instanceof Refusal ? refuse(answer) : send(200, answer)
    }

    if (req.method === 'POST' && isOurNumber && edge === 'messages') {
      if (!String(req.headers['content-type']).startsWith('application/json')) {
        return send(400, META_ERRORS.invalidParameter('Content-Type must be application/json').body)
      }
      if (isObject(body) && 'status' in body) {
        if (!passes(() => checkReadReceipt(body))) return
        this.readReceipts.push({ messageId: body.message_id, typing: !!body.typing_indicator, at: arrivedAt })
        return send(200, { success: true })
      }
      if (!passes(() => checkSend(body, (kind, value) => this.checkMediaObject(kind, value)))) return
      const request = body as MetaSendMessageRequest
      const recipientFailure = this.failuresByRecipient.get(request.to)
      if (recipientFailure && recipientFailure.times > 0) {
        recipientFailure.times--
        const { status, body: err } = recipientFailure.error()
        return send(status, err)
      }
      if (request.type === 'template') {
        const { name, language } = request.template
        // A number sends only its own Business Account's templates.
        const account = this.numbers.get(node)?.businessAccountId
        const templates = account ? (this.accountTemplates.get(account) ?? []) : this.templates
        if ((account || templates.length) && !templates.some((t) => t.name === name && t.language === language.code)) {
          const { status, body: err } = META_ERRORS.templateMissing()
          return send(status, err)
        }
      }
      const wamid =
        this.nextWamids.shift() ??
        `wamid.${Buffer.from(`${request.to}_${randomBytes(8).toString('hex')}`).toString('base64')}`
      this.accepted.push({ wamid, request, at: arrivedAt, from: node })
      const hang = this.hangAfterAccept.findIndex((h) => h.to === null || h.to === request.to)
      if (hang >= 0) {
        const [{ ms }] = this.hangAfterAccept.splice(hang, 1)
        await new Promise((resolve) => setTimeout(resolve, ms))
        if (res.destroyed) return
      }
      return send(200, {
        messaging_product: 'whatsapp',
        contacts: [
          {
            input: request.to,
            wa_id: this.identities.get(request.to)?.waId ?? request.to,
            ...(this.identities.get(request.to)?.userId ? { user_id: this.identities.get(request.to)!.userId } : {}),
          },
        ],
        messages: [request.type === 'template' ? { id: wamid, message_status: 'accepted' } : { id: wamid }],
      })
    }

    if (
      req.method === 'GET' &&
      this.accountTemplates.has(node) &&
      node !== this.businessAccountId &&
      edge === 'message_templates'
    ) {
      // Another account's templates: one page is enough for the tests that use it.
      return send(200, { data: this.accountTemplates.get(node), paging: {} })
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

    // `/{v}/{media-id}`: an unknown (or expired) id is a well-formed request Graph cannot answer, not a malformed one.
    if ((req.method === 'GET' || req.method === 'DELETE') && node && edge === undefined) {
      const info = req.method === 'GET' ? this.lookupMedia(node) : this.deleteMedia(node) && { success: true }
      if (info) return send(200, info)
      const { status, body: err } = META_ERRORS.unknownObject(req.method, node)
      return send(status, err)
    }

    return this.unknownPath(send, req.method, url.pathname)
  }

  private unknownPath(send: (status: number, payload: unknown) => void, method: string | undefined, path: string) {
    this.malformed.push({ path, problem: `unknown path ${method} ${path}` })
    const { status, body } = META_ERRORS.unknownObject(method, path)
    send(status, body)
  }
}

/** The body as JSON, or as text when it is not JSON (undefined when empty). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return text ? JSON.parse(text) : undefined
  } catch {
    return text
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
