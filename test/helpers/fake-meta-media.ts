/**
 * Media for the fake Meta (fake-meta.ts): uploads (streamed multipart), look-ups, short-lived
 * download URLs on the fake itself, deletes, inbound media registered by tests, and the checks of
 * a send's media object. It answers with data; fake-meta.ts turns refusals into Meta's error bodies.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
 */
import { Busboy, type BusboyHeaders } from '@fastify/busboy'
import { createHash, randomBytes, randomInt } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

const MB = 1024 * 1024

/** Kept independent of src/meta/meta.limits.ts on purpose: the fake must catch the gateway's mistakes, not share them. */
const KINDS = {
  image: { mimeTypes: ['image/jpeg', 'image/png'], maxBytes: 5 * MB },
  video: { mimeTypes: ['video/mp4', 'video/3gpp'], maxBytes: 16 * MB },
  audio: { mimeTypes: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'], maxBytes: 16 * MB },
  document: {
    mimeTypes: [
      'application/pdf',
      'text/plain',
      'application/msword',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.ms-excel',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/vnd.ms-powerpoint',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    ],
    maxBytes: 100 * MB,
  },
  // Meta allows 100 KB static / 500 KB animated; which one it is shows only inside the file.
  sticker: { mimeTypes: ['image/webp'], maxBytes: 500 * 1024 },
} as const
export type MediaKind = keyof typeof KINDS
export const MEDIA_KINDS = Object.keys(KINDS) as MediaKind[]

/** Uploads larger than this are only counted and hashed, so a 100 MB upload does not sit in the test's memory. */
const KEEP_BYTES_UP_TO = 20 * MB

/** Why Meta refuses a request: its error code and `error_data.details`. */
export class Refusal extends Error {
  constructor(
    readonly code: 100 | 131009 | 131053,
    readonly details: string,
  ) {
    super(details)
  }
}

/** Meta's checks read as assertions: refuses (throws) unless `ok`. */
export function need(ok: unknown, details: string, code: Refusal['code'] = 100): asserts ok {
  if (!ok) throw new Refusal(code, details)
}
const invalid = (details: string) => new Refusal(100, details)
const uploadError = (details: string) => new Refusal(131053, details)

const baseType = (mimeType: string) => mimeType.split(';')[0].trim().toLowerCase()
const kindOf = (mimeType: string) =>
  MEDIA_KINDS.find((k) => (KINDS[k].mimeTypes as readonly string[]).includes(baseType(mimeType)))
/** The kind a MIME type claims to be, for Meta's "Unsupported Audio mime type …" wording. */
const claimedKind = (mimeType: string): MediaKind =>
  (['image', 'video', 'audio'] as const).find((k) => baseType(mimeType).startsWith(`${k}/`)) ?? 'document'

/** What the fake keeps of an upload. `bytes` only when the file is at most 20 MB. */
export interface UploadRecord {
  mimeType: string
  size: number
  /** Hex, as the look-up reports it. */
  sha256: string
  filename: string
  bytes?: Buffer
  at: number
}

/** Inbound media made on the fly: `size` bytes repeating a 64 KiB pseudo-random block drawn from `seed`. */
export interface GeneratedMedia {
  size: number
  seed: number
}

interface StoredMedia {
  mimeType: string
  size: number
  sha256: string
  /** What Meta claims the digest is, when a test makes it lie (hex). */
  claimedSha256?: string
  bytes?: Buffer
  generated?: GeneratedMedia
}

const BLOCK = 64 * 1024

/** The bytes of generated media, one block at a time (xorshift32: deterministic and cheap). */
export function* generatedChunks({ size, seed }: GeneratedMedia): Generator<Buffer> {
  const block = Buffer.allocUnsafe(BLOCK)
  let x = seed >>> 0 || 0x9e3779b9
  for (let i = 0; i < BLOCK; i += 4) {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    block.writeUInt32LE(x, i)
  }
  for (let at = 0; at < size; at += BLOCK) yield size - at >= BLOCK ? block : block.subarray(0, size - at)
}

/** Meta's media ids look like 16-digit numbers. */
const mediaId = () => `${randomInt(1e7, 1e8)}${String(randomInt(0, 1e8)).padStart(8, '0')}`

const htmlPage = (res: ServerResponse, status: number, title: string) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
  res.end(`<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`)
}

export const DOWNLOAD_PATH = '/whatsapp_business/attachments/'

/** The media half of FakeMetaServer, which extends it: its public members are the fake's media API. */
export abstract class FakeMetaMedia {
  abstract readonly accessToken: string
  abstract url: string
  /** Every upload accepted, by media id (a record: kept after the media is deleted). */
  readonly uploads = new Map<string, UploadRecord>()
  /** Media ids deleted through `DELETE /{v}/{media-id}`, in order. */
  readonly deletedMedia: string[] = []
  /** How long a look-up's download URL works (Meta: about 5 minutes); later downloads get 404. */
  mediaUrlTtlMs = 5 * 60_000
  private readonly live = new Map<string, StoredMedia>()
  private readonly links = new Map<string, { mediaId: string; expiresAt: number }>()
  private readonly downloadFailures = new Map<string, { times: number; status: number }>()

  /**
   * Reads a multipart upload as it streams (hashing and counting the file), filling `recorded`
   * with its fields for the request log. Answers the new media id, or why Meta refuses it.
   */
  protected async uploadMedia(
    req: IncomingMessage,
    recorded: Record<string, unknown>,
  ): Promise<{ id: string } | Refusal> {
    const fields: Record<string, string> = {}
    let file: { filename: string; mimeType: string; size: number; hash: ReturnType<typeof createHash> } | undefined
    let chunks: Buffer[] | undefined = []
    let extraFiles = 0
    try {
      const busboy = Busboy({
        headers: req.headers as BusboyHeaders,
        // Whatever is named `file` is the file, with or without a filename.
        isPartAFile: (name, _type, filename) => name === 'file' || filename !== undefined,
      })
      busboy.on('field', (name, value) => (fields[name] = value))
      busboy.on('file', (name, stream, filename, _encoding, mimeType) => {
        if (name !== 'file' || file) {
          extraFiles++
          return stream.resume()
        }
        const current = { filename, mimeType, size: 0, hash: createHash('sha256') }
        file = current
        stream.on('data', (chunk: Buffer) => {
          current.hash.update(chunk)
          current.size += chunk.length
          if (chunks && current.size <= KEEP_BYTES_UP_TO) chunks.push(chunk)
          else chunks = undefined
        })
      })
      await pipeline(req, busboy)
    } catch (error) {
      return invalid(`multipart body could not be read: ${(error as Error).message}`)
    }
    // Busboy gives the file part's type without parameters; the `type` field keeps `; codecs=opus`.
    const fileType = file?.mimeType ?? ''
    const mimeType = fields.type && baseType(fields.type) === baseType(fileType) ? fields.type : fileType
    const sha256 = file?.hash.digest('hex')
    Object.assign(
      recorded,
      fields,
      file && { file: { filename: file.filename, mimeType: fileType, size: file.size, sha256 } },
    )

    if (fields.messaging_product !== 'whatsapp') return invalid('The parameter messaging_product is required.')
    if (!file || !sha256) return invalid('The parameter file is required.')
    if (extraFiles) return invalid('Only one file may be uploaded.')
    if (!fields.type) return invalid('The parameter type is required.')
    const kind = kindOf(fileType)
    if (!kind) {
      const claimed = claimedKind(fields.type || fileType)
      const label = claimed[0].toUpperCase() + claimed.slice(1)
      return uploadError(
        `Unsupported ${label} mime type ${fileType}. Please use one of ${KINDS[claimed].mimeTypes.join(', ')}.`,
      )
    }
    if (file.size === 0) return uploadError('The file is empty.')
    if (file.size > KINDS[kind].maxBytes)
      return uploadError(`File size ${file.size} bytes exceeds the ${kind} limit of ${KINDS[kind].maxBytes} bytes.`)

    const id = this.newId()
    const bytes = chunks ? Buffer.concat(chunks) : undefined
    this.uploads.set(id, { mimeType, size: file.size, sha256, filename: file.filename, bytes, at: Date.now() })
    this.live.set(id, { mimeType, size: file.size, sha256, bytes })
    return { id }
  }

  /**
   * Registers media a customer sent, as Meta holds it for an inbound webhook; answers its media id.
   * `{ size, seed }` makes deterministic bytes on the fly (see generatedChunks), for large files.
   * `sha256` (hex) makes Meta claim another digest, in the look-up and the webhook fields.
   */
  addInboundMedia(source: Buffer | GeneratedMedia, mimeType: string, options: { sha256?: string } = {}): string {
    if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(options.sha256))
      throw new Error('sha256 override must be 64 hex digits')
    const hash = createHash('sha256')
    if (Buffer.isBuffer(source)) hash.update(source)
    else for (const chunk of generatedChunks(source)) hash.update(chunk)
    const id = this.newId()
    this.live.set(id, {
      mimeType,
      size: Buffer.isBuffer(source) ? source.length : source.size,
      sha256: hash.digest('hex'),
      claimedSha256: options.sha256?.toLowerCase(),
      ...(Buffer.isBuffer(source) ? { bytes: source } : { generated: { ...source } }),
    })
    return id
  }

  /**
   * The media fields of an inbound webhook message. Meta's webhooks carry `sha256` as base64 of
   * the digest in practice, while the look-up (meta-next.md) gives hex: the fake does the same, so
   * the gateway must compare digests, not strings.
   */
  inboundMediaWebhookFields(id: string): { id: string; mime_type: string; sha256: string } {
    const media = this.live.get(id)
    if (!media) throw new Error(`no media ${id}`)
    const sha256 = Buffer.from(media.claimedSha256 ?? media.sha256, 'hex').toString('base64')
    return { id, mime_type: media.mimeType, sha256 }
  }

  /** `GET /{v}/{media-id}`: what the file is and a fresh download URL; null for an unknown id. */
  protected lookupMedia(id: string) {
    const media = this.live.get(id)
    if (!media) return null
    const now = Date.now()
    for (const [hash, link] of this.links) if (link.expiresAt <= now) this.links.delete(hash)
    const hash = randomBytes(18).toString('base64url')
    const expiresAt = now + this.mediaUrlTtlMs
    this.links.set(hash, { mediaId: id, expiresAt })
    const ext = Math.ceil(expiresAt / 1000)
    return {
      messaging_product: 'whatsapp',
      url: `${this.url}${DOWNLOAD_PATH}?mid=${id}&ext=${ext}&hash=${hash}`,
      mime_type: media.mimeType,
      sha256: media.claimedSha256 ?? media.sha256,
      file_size: String(media.size),
      id,
    }
  }

  /** Meta forgets this media id, as when its 30 days (uploads) or 7 days (inbound) pass; false when unknown. */
  forgetMedia(id: string): boolean {
    return this.live.delete(id)
  }

  protected deleteMedia(id: string): boolean {
    if (!this.forgetMedia(id)) return false
    this.deletedMedia.push(id)
    return true
  }

  /** The next `times` downloads of this media fail with `status` (an HTML error page). */
  failDownloads(id: string, times: number, status = 500): void {
    this.downloadFailures.set(id, { times, status })
  }

  /** `GET <url from a look-up>`: needs the same bearer token as the Graph API; the bytes while the URL lasts. */
  protected async downloadMedia(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) return htmlPage(res, 401, 'Unauthorized')
    const link = this.links.get(url.searchParams.get('hash') ?? '')
    const id = url.searchParams.get('mid') ?? ''
    const media = this.live.get(id)
    if (req.method !== 'GET' || !link || link.mediaId !== id || link.expiresAt <= Date.now() || !media)
      return htmlPage(res, 404, 'Not Found')
    const failure = this.downloadFailures.get(id)
    if (failure && failure.times > 0) {
      failure.times--
      return htmlPage(res, failure.status, 'Error')
    }
    if (!media.bytes && !media.generated) {
      return htmlPage(
        res,
        501,
        `fake Meta: upload ${id} was over ${KEEP_BYTES_UP_TO} bytes, so its bytes were not kept`,
      )
    }
    res.writeHead(200, { 'content-type': media.mimeType, 'content-length': String(media.size) })
    if (media.bytes) return void res.end(media.bytes)
    await pipeline(Readable.from(generatedChunks(media.generated!)), res).catch(() => {}) // the client may hang up
  }

  /** A send's `image` / `video` / … object: exactly one of a known `id` and an https `link`. */
  protected checkMediaObject(kind: MediaKind, value: unknown): void {
    need(typeof value === 'object' && value !== null, `${kind} must be an object`)
    const m = value as Record<string, unknown>
    const allowed = ['id', 'link', ...(kind === 'audio' || kind === 'sticker' ? [] : ['caption'])]
    if (kind === 'document') allowed.push('filename')
    const extra = Object.keys(m).find((key) => !allowed.includes(key))
    need(!extra, `${kind}.${extra} is not allowed for ${kind}`)
    need((m.id === undefined) !== (m.link === undefined), `${kind} needs exactly one of id and link`)
    if (m.id !== undefined)
      need(
        typeof m.id === 'string' && this.live.has(m.id),
        `${kind}.id ${JSON.stringify(m.id)} is not a valid media id`,
      )
    if (m.link !== undefined) need(isHttpsUrl(m.link), `${kind}.link must be an https URL`)
    if (m.caption !== undefined) {
      need(typeof m.caption === 'string', `${kind}.caption must be a string`)
      need([...m.caption].length <= 1024, `${kind}.caption is over 1024 characters`, 131009)
    }
    if (m.filename !== undefined)
      need(typeof m.filename === 'string' && m.filename, `${kind}.filename must be a non-empty string`)
  }

  private newId(): string {
    let id = mediaId()
    while (this.live.has(id) || this.uploads.has(id)) id = mediaId()
    return id
  }
}

function isHttpsUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false
  try {
    return new URL(value).protocol === 'https:'
  } catch {
    return false
  }
}
