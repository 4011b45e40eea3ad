import type { NumberScope } from '../auth/principal.js'
import type { PrismaClient } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'
import { RecordColumns } from '../db/record-columns.js'

export type MediaSource = 'upload' | 'inbound' | 'link'
export type MediaStatus = 'uploading' | 'downloading' | 'ready' | 'failed' | 'remote'

export interface MediaRecord {
  id: string
  source: MediaSource
  status: MediaStatus
  mimeType: string | null
  size: number | null
  sha256: string | null
  filename: string | null
  link: string | null
  metaMediaId: string | null
  metaUploadedAt: Date | null
  expectedSha256: string | null
  attempts: number
  nextAttemptAt: Date | null
  error: string | null
  createdAt: Date
  updatedAt: Date
}

export interface NewMedia {
  id: string
  source: MediaSource
  status: MediaStatus
  mimeType?: string | null
  filename?: string | null
  link?: string | null
  metaMediaId?: string | null
  expectedSha256?: string | null
  nextAttemptAt?: Date | null
}

/** Media rows read by hand (alias `md`): the claims below, the dashboards' reads of messages with their files. */
export const MEDIA = new RecordColumns<MediaRecord>(
  [
    ['id', 'id'],
    ['source', 'source'],
    ['status::text', 'status'],
    ['mime_type', 'mimeType'],
    ['size', 'size'],
    ['sha256', 'sha256'],
    ['filename', 'filename'],
    ['link', 'link'],
    ['meta_media_id', 'metaMediaId'],
    ['meta_uploaded_at', 'metaUploadedAt'],
    ['expected_sha256', 'expectedSha256'],
    ['attempts', 'attempts'],
    ['next_attempt_at', 'nextAttemptAt'],
    ['error', 'error'],
    ['created_at', 'createdAt'],
    ['updated_at', 'updatedAt'],
  ],
  'md',
  ['id'],
)

/** A claimed row as a MediaRecord (RETURNING). */
const MEDIA_RETURNED = Prisma.raw(MEDIA.sql({ alias: 'media' }))

/** Files and their bytes (in ordered chunks). The only code that talks to the database about them. */
export class MediaRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(media: NewMedia): Promise<MediaRecord> {
    return (await this.prisma.media.create({ data: media })) as MediaRecord
  }

  /** Creates it unless one has this id already (a webhook delivered again). */
  async createOnce(media: NewMedia): Promise<void> {
    await this.prisma.media.createMany({ data: [media], skipDuplicates: true })
  }

  /**
   * The file, when it exists and (for a caller limited to some numbers) a message of one of their
   * conversations carries it: a filter in the query, so another number's file is as missing.
   */
  async find(id: string, scope: NumberScope = null): Promise<MediaRecord | null> {
    if (scope === null) return (await this.prisma.media.findUnique({ where: { id } })) as MediaRecord | null
    return (await this.prisma.media.findFirst({
      where: { id, messages: { some: { conversation: { businessPhoneNumberId: { in: scope } } } } },
    })) as MediaRecord | null
  }

  /** By id, in one query (for DataLoader). */
  async findMany(ids: readonly string[]): Promise<MediaRecord[]> {
    return (await this.prisma.media.findMany({ where: { id: { in: [...ids] } } })) as MediaRecord[]
  }

  /** Its bytes are all stored and checked: it may be served. */
  async markReady(id: string, file: { size: number; sha256: string }): Promise<MediaRecord> {
    return (await this.prisma.media.update({
      where: { id },
      data: { status: 'ready', size: file.size, sha256: file.sha256, error: null, nextAttemptAt: null },
    })) as MediaRecord
  }

  async markUploadedToMeta(id: string, metaMediaId: string, at: Date): Promise<void> {
    await this.prisma.media.update({ where: { id }, data: { metaMediaId, metaUploadedAt: at } })
  }

  /** Removes the file and its bytes. */
  async delete(id: string): Promise<void> {
    await this.prisma.media.deleteMany({ where: { id } })
  }

  /**
   * Takes up to `limit` inbound files whose download is due, for `leaseMs` (another instance takes
   * a file only once its lease ran out: its downloader died). Counts the attempt.
   */
  async claimDownloads(limit: number, leaseMs: number): Promise<MediaRecord[]> {
    return this.prisma.$queryRaw<MediaRecord[]>`
      UPDATE media SET attempts = attempts + 1, next_attempt_at = now() + ${leaseMs} * interval '1 millisecond',
                       updated_at = now()
      WHERE id IN (
        SELECT id FROM media WHERE status = 'downloading' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING ${MEDIA_RETURNED}`
  }

  /** When the next inbound download is due, if any is waiting. */
  async nextDownloadAt(): Promise<Date | null> {
    const next = await this.prisma.media.findFirst({
      where: { status: 'downloading' },
      orderBy: { nextAttemptAt: 'asc' },
      select: { nextAttemptAt: true },
    })
    return next?.nextAttemptAt ?? null
  }

  /** A download failed: tried again at `retryAt`, or failed for good (null). */
  async downloadFailed(id: string, error: string, retryAt: Date | null): Promise<void> {
    await this.prisma.media.update({
      where: { id },
      data: retryAt ? { error, nextAttemptAt: retryAt } : { error, status: 'failed', nextAttemptAt: null },
    })
  }
}
