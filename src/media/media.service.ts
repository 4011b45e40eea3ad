import type { NumberScope } from '../auth/principal.js'
import { createHash, randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import {
  MediaNotReadyError,
  NotFoundError,
  PayloadTooLargeError,
  RangeNotSatisfiableError,
  ValidationError,
} from '../errors/errors.js'
import type { MetaApi } from '../meta/meta.api.js'
import { baseMimeType, MEDIA_LIMITS, mediaKindOf, SUPPORTED_MIME_TYPES } from '../meta/meta.limits.js'
import type { MediaRecord, MediaRepository } from './media.repository.js'
import { type MediaStore, MediaTooLargeError } from './media.store.js'

/** Meta keeps an upload about 30 days; one older than this is uploaded again before a send. */
const META_UPLOAD_FRESH_MS = 29 * 24 * 3600 * 1000

/** The bytes to answer a download with. */
export interface MediaDownload {
  media: MediaRecord & { size: number; sha256: string }
  /** 200 whole, 206 a range, 304 not modified. */
  status: 200 | 206 | 304
  start: number
  end: number
  /** Null for 304. */
  body: Readable | null
}

const newMediaId = () => `med_${randomBytes(16).toString('base64url')}`

/** A customer's file gets an id derived from its message, so a webhook delivered twice stores it once. */
export const inboundMediaId = (wamid: string) =>
  `med_${createHash('sha256').update(wamid).digest('base64url').slice(0, 22)}`

/**
 * `bytes=a-b`, `bytes=a-` or `bytes=-n` of a file of `size` bytes; null to serve it whole (no Range,
 * or several ranges, which a server may answer whole).
 * @throws RangeNotSatisfiableError
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (!header) return null
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return null
  let start: number
  let end: number
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]))
    end = size - 1
  } else {
    start = Number(match[1])
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
  }
  if (start >= size || start > end || size === 0) throw new RangeNotSatisfiableError(size)
  return { start, end }
}

/** Files: uploads to send, customers' files kept after Meta deletes them, and serving them to dashboards. */
export class MediaService {
  /** Uploads to Meta in progress, so that two sends of one file upload it once. */
  private readonly uploadsToMeta = new Map<string, Promise<string>>()

  constructor(
    private readonly media: MediaRepository,
    private readonly store: MediaStore,
    private readonly meta: MetaApi,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Stores an upload as it streams in. Its type must be one WhatsApp takes, and its size within
   * that kind's limit: past it the upload stops and nothing is kept.
   * @throws ValidationError (type), PayloadTooLargeError (size)
   */
  async upload(file: {
    stream: AsyncIterable<Uint8Array>
    mimeType: string
    filename: string | null
    /** At least this many bytes are coming (the request's length less its framing), when known. */
    declaredBytes?: number
  }) {
    const kind = mediaKindOf(file.mimeType)
    if (!kind) {
      throw new ValidationError([
        {
          path: 'file',
          message: `WhatsApp takes no ${baseMimeType(file.mimeType)} files; it takes ${SUPPORTED_MIME_TYPES.join(', ')}`,
        },
      ])
    }
    const id = newMediaId()
    const maxBytes = MEDIA_LIMITS[kind].maxBytes
    const tooLarge = () =>
      new PayloadTooLargeError(`file: a ${kind} may be at most ${maxBytes} bytes (${maxBytes / 1024 / 1024} MB)`)
    if ((file.declaredBytes ?? 0) > maxBytes) throw tooLarge()
    await this.media.create({
      id,
      source: 'upload',
      status: 'uploading',
      mimeType: file.mimeType,
      filename: file.filename,
    })
    try {
      const stored = await this.store.write(id, file.stream, maxBytes)
      if (stored.size === 0) throw new ValidationError([{ path: 'file', message: 'is empty' }])
      return await this.media.markReady(id, stored)
    } catch (err) {
      await this.discard(id)
      if (err instanceof MediaTooLargeError) {
        throw new PayloadTooLargeError(
          `file: a ${kind} may be at most ${maxBytes} bytes (${maxBytes / 1024 / 1024} MB)`,
        )
      }
      throw err
    }
  }

  /** Removes a file that will not be kept; the original error matters more than a failure here. */
  private async discard(id: string): Promise<void> {
    await this.store.remove(id).catch(() => {})
    await this.media.delete(id).catch(() => {})
  }

  /** @throws NotFoundError */
  async get(id: string, scope: NumberScope = null): Promise<MediaRecord> {
    const media = /^med_[\w-]{10,40}$/.test(id) ? await this.media.find(id, scope) : null
    if (!media) throw new NotFoundError(`Media ${id} does not exist`)
    return media
  }

  /**
   * A stored file for a download: whole, a `Range` of it, or 304 when `ifNoneMatch` names it.
   * @throws NotFoundError, MediaNotReadyError (a customer's file still being fetched), RangeNotSatisfiableError
   */
  async download(
    id: string,
    headers: { range?: string; ifNoneMatch?: string },
    scope: NumberScope = null,
  ): Promise<MediaDownload> {
    const media = await this.get(id, scope)
    if (media.status === 'downloading') {
      throw new MediaNotReadyError(`Media ${id} is still being fetched from Meta`, 2)
    }
    if (media.status !== 'ready' || media.size === null || media.sha256 === null) {
      const why =
        media.status === 'failed' ? `fetching it from Meta failed: ${media.error}` : 'no bytes are stored here'
      throw new NotFoundError(`Media ${id} cannot be served: ${why}`)
    }
    const ready = media as MediaDownload['media']
    // If-None-Match compares weakly (RFC 9110 §13.1.2): W/"…" names it too, and * any stored file.
    const tags = headers.ifNoneMatch?.split(',').map((t) => t.trim().replace(/^W\//, '')) ?? []
    if (tags.some((t) => t === '*' || t === etagOf(ready))) {
      return { media: ready, status: 304, start: 0, end: ready.size - 1, body: null }
    }
    const range = parseRange(headers.range, ready.size)
    const start = range?.start ?? 0
    const end = range?.end ?? ready.size - 1
    return { media: ready, status: range ? 206 : 200, start, end, body: this.store.read(id, start, end) }
  }

  /**
   * Meta's id for a stored file, uploading it first when Meta has no copy young enough.
   * @throws MetaApiError, MetaUnreachableError
   */
  metaIdFor(media: MediaRecord): Promise<string> {
    const fresh = media.metaUploadedAt && this.now().getTime() - media.metaUploadedAt.getTime() < META_UPLOAD_FRESH_MS
    if (media.metaMediaId && fresh) return Promise.resolve(media.metaMediaId)
    let upload = this.uploadsToMeta.get(media.id)
    if (!upload) {
      upload = this.uploadToMeta(media).finally(() => this.uploadsToMeta.delete(media.id))
      this.uploadsToMeta.set(media.id, upload)
    }
    return upload
  }

  private async uploadToMeta(media: MediaRecord): Promise<string> {
    const metaId = await this.meta.uploadMedia({
      stream: this.store.read(media.id, 0, media.size! - 1),
      size: media.size!,
      mimeType: media.mimeType!,
      filename: media.filename,
    })
    await this.media.markUploadedToMeta(media.id, metaId, this.now())
    return metaId
  }

  /** Records a public link we send (no bytes here). */
  recordLink(link: string, filename: string | null): Promise<MediaRecord> {
    return this.media.create({ id: newMediaId(), source: 'link', status: 'remote', link, filename })
  }

  /** Records a customer's file, to be fetched from Meta (see MediaFetcher). Returns its id. */
  async recordInbound(
    wamid: string,
    file: { metaId: string; mimeType: string | null; sha256: string | null; filename: string | null },
  ): Promise<string> {
    const id = inboundMediaId(wamid)
    await this.media.createOnce({
      id,
      source: 'inbound',
      status: 'downloading',
      mimeType: file.mimeType,
      filename: file.filename,
      metaMediaId: file.metaId,
      expectedSha256: file.sha256,
      nextAttemptAt: this.now(),
    })
    return id
  }
}

/** A strong ETag: the content's hash. */
export const etagOf = (media: { sha256: string }) => `"${media.sha256}"`
