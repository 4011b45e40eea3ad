import { randomBytes } from 'node:crypto'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import got, { type Got, RequestError } from 'got'
import { isMetaErrorBody, MetaApiError, MetaUnreachableError } from './meta.errors.js'
import type { OutgoingMessage } from './meta.outgoing.js'
import {
  type AcceptedMessage,
  type MediaUpload,
  type MetaApi,
  metaRequests,
  type OutgoingTemplate,
  type RemoteMediaInfo,
  type RemoteTemplate,
  type SendOptions,
  toRemoteTemplate,
} from './meta.api.js'
import type {
  MetaMediaInfoResponse,
  MetaMediaUploadResponse,
  MetaReadReceiptRequest,
  MetaSendMessageRequest,
  MetaSendMessageResponse,
  MetaTemplate,
  MetaTemplateComponent,
  MetaTemplateComponentRequest,
  MetaTemplatePage,
} from './meta.types.js'

export interface MetaGraphClientOptions {
  graphApiUrl: string
  apiVersion: string
  accessToken: string
  phoneNumberId: string
  businessAccountId: string
  timeoutMs: number
}

const TEMPLATE_FIELDS = 'name,status,category,language,components,parameter_format'
const TEMPLATE_PAGE_SIZE = 100
/** A runaway `paging.next` loop stops here (100 × 100 templates is far above Meta's per-account cap). */
const MAX_TEMPLATE_PAGES = 100

/** What one call sends: a JSON body, a streamed body or query parameters, and who hears that it was written out. */
interface CallOptions {
  json?: object
  body?: Readable
  headers?: Record<string, string>
  searchParams?: Record<string, string | number>
  onWritten?: () => void
}

/** A call's answer: the HTTP status and the body as text. */
interface Answer {
  statusCode: number
  text: string
}

/**
 * Meta's Graph API over HTTPS: one `got` instance with the base URL, pinned API version, bearer
 * token and explicit timeouts. Never retries by itself: a POST that timed out may have been
 * accepted by Meta, so retrying is the caller's decision.
 *
 * Calls go through got's stream API, reading the answer whole and deciding on its status here:
 * got's promise wrapper costs about a third more CPU per call (~85 µs here), and a send is the
 * service's hottest path (measured in commit 38191df).
 */
export class MetaGraphClient implements MetaApi {
  private readonly http: Got
  /** For Meta's download URLs, which are absolute and on another host than the Graph API. */
  private readonly downloads: Got

  constructor(private readonly options: MetaGraphClientOptions) {
    this.http = got.extend({
      prefixUrl: `${options.graphApiUrl}/${options.apiVersion}`,
      headers: {
        authorization: `Bearer ${options.accessToken}`,
        accept: 'application/json',
        'user-agent': 'wa-gateway',
      },
      timeout: { connect: Math.min(5_000, options.timeoutMs), request: options.timeoutMs },
      retry: { limit: 0 },
      // Meta's error answers carry the body we need (code, details, fbtrace_id): read them like any other.
      throwHttpErrors: false,
    })
    this.downloads = got.extend({
      headers: { authorization: `Bearer ${options.accessToken}`, 'user-agent': 'wa-gateway' },
      // A large file takes longer than one call: bound the wait for its first byte and each pause.
      timeout: { connect: Math.min(5_000, options.timeoutMs), response: options.timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
    })
  }

  sendMessage(to: string, message: OutgoingMessage, options?: SendOptions): Promise<AcceptedMessage> {
    return this.send(metaRequests.message(to, message, options), options?.onWritten)
  }

  async uploadMedia(file: MediaUpload): Promise<string> {
    // Multipart framed by hand around the stream, so its length is known and the file never sits in memory.
    const boundary = `----wa-gateway-${randomBytes(12).toString('hex')}`
    const field = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
    const filename = (file.filename ?? 'file').replace(/["\r\n\\]/g, '_')
    const head = Buffer.from(
      field('messaging_product', 'whatsapp') +
        field('type', file.mimeType) +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
        `Content-Type: ${file.mimeType}\r\n\r\n`,
    )
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    const body = Readable.from(
      (async function* () {
        yield head
        yield* file.stream
        yield tail
      })(),
    )
    const answer = await this.call<MetaMediaUploadResponse>('POST', `${this.options.phoneNumberId}/media`, {
      body,
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + file.size + tail.length),
      },
    })
    if (typeof answer.id !== 'string' || !answer.id)
      throw new MetaUnreachableError('Meta took the upload but gave no id')
    return answer.id
  }

  async mediaInfo(mediaId: string): Promise<RemoteMediaInfo> {
    const body = await this.call<MetaMediaInfoResponse>('GET', encodeURIComponent(mediaId), {})
    if (typeof body.url !== 'string') throw new MetaUnreachableError('Meta described the media without a URL')
    const size = Number(body.file_size)
    return {
      url: body.url,
      mimeType: body.mime_type,
      sha256: typeof body.sha256 === 'string' ? body.sha256 : null,
      size: Number.isSafeInteger(size) && size >= 0 ? size : null,
    }
  }

  async downloadMedia(url: string): Promise<Readable> {
    const target = new URL(url)
    // Our token goes only to Meta over https, or to the configured Graph API's own origin (a fake in tests).
    if (target.protocol !== 'https:' && target.origin !== new URL(this.options.graphApiUrl).origin) {
      throw new MetaUnreachableError(`Refusing to send the access token to ${target.origin}`)
    }
    const stream = this.downloads.stream(target)
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      stream.once('response', resolve)
      stream.once('error', (err) => reject(toMetaError(err)))
    })
    const status = response.statusCode ?? 0
    if (status < 200 || status >= 300) {
      stream.destroy()
      throw new MetaUnreachableError(`Meta's media download answered HTTP ${status}`)
    }
    return stream
  }

  async markRead(wamid: string, options: { typing: boolean }): Promise<void> {
    await this.call('POST', `${this.options.phoneNumberId}/messages`, {
      json: metaRequests.readReceipt(wamid, options.typing),
    })
  }

  /** A text to `to` (the service sends texts through {@link sendMessage}; this is the benchmarks' baseline). */
  sendText(to: string, body: string, options?: SendOptions): Promise<AcceptedMessage> {
    return this.send(metaRequests.text(to, body, options), options?.onWritten)
  }

  sendTemplate(to: string, template: OutgoingTemplate, options?: SendOptions): Promise<AcceptedMessage> {
    return this.send(metaRequests.template(to, template, options), options?.onWritten)
  }

  private async send(request: MetaSendMessageRequest, onWritten?: () => void): Promise<AcceptedMessage> {
    const body = await this.call<MetaSendMessageResponse>('POST', `${this.options.phoneNumberId}/messages`, {
      json: request,
      onWritten,
    })
    const wamid = body.messages?.[0]?.id
    if (!wamid) throw new MetaUnreachableError('Meta accepted the message but returned no message id')
    const contact = body.contacts?.[0]
    const text = (v: unknown) => (typeof v === 'string' && v ? v : null)
    return { wamid, recipient: { waId: text(contact?.wa_id), userId: text(contact?.user_id) } }
  }

  async listTemplates(): Promise<RemoteTemplate[]> {
    const templates: RemoteTemplate[] = []
    let after: string | undefined
    for (let page = 0; page < MAX_TEMPLATE_PAGES; page++) {
      const searchParams: Record<string, string | number> = { fields: TEMPLATE_FIELDS, limit: TEMPLATE_PAGE_SIZE }
      if (after) searchParams.after = after
      const body = await this.call<MetaTemplatePage>('GET', `${this.options.businessAccountId}/message_templates`, {
        searchParams,
      })
      templates.push(...(body.data ?? []).map(toRemoteTemplate))
      // Follow the cursor, not the `next` URL itself: it names graph.facebook.com, and our token
      // must only ever go to the configured base URL.
      after = body.paging?.next ? body.paging.cursors?.after : undefined
      if (!after) return templates
    }
    throw new MetaUnreachableError(`Meta kept returning template pages after ${MAX_TEMPLATE_PAGES} pages`)
  }

  /**
   * One call to the Graph API, resolving to its JSON body when Meta answered 2xx.
   * @throws MetaApiError when Meta refused it, MetaUnreachableError otherwise
   */
  private async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, options: CallOptions): Promise<T> {
    let answer: Answer
    try {
      answer = await this.exchange(method, path, options)
    } catch (err) {
      throw toMetaError(err)
    }
    const body = parseJson(answer.text)
    if (answer.statusCode >= 200 && answer.statusCode < 300) {
      // Not an object (no body, `null`, a proxy's page): Meta may still have taken a send.
      if (typeof body !== 'object' || body === null) {
        throw new MetaUnreachableError(`Meta answered HTTP ${answer.statusCode} without a JSON object`)
      }
      return body as T
    }
    if (isMetaErrorBody(body)) throw new MetaApiError(body.error, answer.statusCode)
    throw new MetaUnreachableError(`Meta answered HTTP ${answer.statusCode} without an error body`)
  }

  private exchange(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    { json, body, headers, searchParams, onWritten }: CallOptions,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const stream = this.http.stream(path, { method, json, body, headers, searchParams })
      if (onWritten) stream.once('request', (req: ClientRequest) => req.once('finish', onWritten))
      let statusCode = 0
      const chunks: Buffer[] = []
      stream.once('response', (response: { statusCode: number }) => (statusCode = response.statusCode))
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.once('end', () => {
        resolve({ statusCode, text: Buffer.concat(chunks).toString('utf8') })
        stream.destroy() // as got's promise API does; the 'error' listener stays for a late socket error
      })
      stream.once('error', reject)
    })
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function toMetaError(err: unknown): Error {
  if (err instanceof RequestError) {
    const what = err.code === 'ETIMEDOUT' ? 'did not answer in time' : `could not be reached (${err.code})`
    // These fail before a byte is sent; a timeout or a reset may come after Meta accepted it.
    const notSent = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code)
    return new MetaUnreachableError(`Meta's Graph API ${what}`, { cause: err, notSent })
  }
  return err instanceof Error ? err : new Error(String(err))
}
