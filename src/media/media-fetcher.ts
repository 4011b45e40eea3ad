import { describeError } from '../errors/errors.js'
import type { MetaApi } from '../meta/meta.api.js'
import { MAX_MEDIA_BYTES } from '../meta/meta.limits.js'
import type { MediaRecord, MediaRepository } from './media.repository.js'
import type { MediaStore } from './media.store.js'

export interface MediaFetcherOptions {
  /** Downloads tried per file before it is marked failed. */
  maxAttempts: number
  /** The first retry's wait; it doubles each time, with jitter. */
  retryBaseMs: number
  /** How many files download at once in this instance. */
  concurrency?: number
  /** How long one download may take before another instance may take the file over. */
  leaseMs?: number
  /** How often to look for due downloads (another instance's, or after a restart). */
  pollMs?: number
  onError?: (err: unknown, mediaId: string) => void
  /** Told when a file's download ended, ready or failed for good. */
  onSettled?: (mediaId: string) => void
}

/** Meta's hash of a file in a webhook is base64; its media lookup gives hex. Either matches `hex`. */
export function sameSha256(expected: string, hex: string): boolean {
  const given = expected.trim()
  if (/^[0-9a-f]{64}$/i.test(given)) return given.toLowerCase() === hex
  return Buffer.from(given, 'base64').toString('hex') === hex
}

/**
 * Fetches customers' files from Meta soon after their webhook, in the background: a slow or failing
 * download never delays a webhook's answer or other messages. Each file's bytes are checked against
 * the hash Meta gave; a failed or mismatched download is tried again with backoff, then the file is
 * marked failed with the reason. Only a checked file is ever served. State is in the database, so a
 * download due when an instance died is taken by another one, or after the restart.
 */
export class MediaFetcher {
  private running = 0
  private timer: NodeJS.Timeout | null = null
  private poller: NodeJS.Timeout | null = null
  private stopped = false
  private readonly active = new Set<Promise<void>>()

  constructor(
    private readonly media: MediaRepository,
    private readonly store: MediaStore,
    private readonly meta: MetaApi,
    private readonly options: MediaFetcherOptions,
  ) {}

  start(): void {
    this.stopped = false
    this.kick()
    this.poller = setInterval(() => this.kick(), this.options.pollMs ?? 5_000).unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.poller) clearInterval(this.poller)
    if (this.timer) clearTimeout(this.timer)
    await Promise.allSettled([...this.active])
  }

  /** Looks for due downloads now (a new inbound file was stored). */
  kick(): void {
    if (this.stopped) return
    const work = this.fill().catch((err) => this.options.onError?.(err, '*'))
    this.active.add(work)
    void work.finally(() => this.active.delete(work))
  }

  /** Resolves when no download is running or due in this instance (tests). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active])
  }

  private async fill(): Promise<void> {
    const free = (this.options.concurrency ?? 4) - this.running
    if (free <= 0 || this.stopped) return
    // The slots are taken before the claim's round trip, so overlapping looks never exceed them.
    this.running += free
    let claimed: MediaRecord[] = []
    try {
      claimed = await this.media.claimDownloads(free, this.options.leaseMs ?? 10 * 60_000)
    } finally {
      this.running -= free - claimed.length
    }
    for (const file of claimed) {
      const work = this.fetch(file)
        .catch((err) => this.options.onError?.(err, file.id))
        .finally(() => {
          this.running--
          this.kick()
        })
      this.active.add(work)
      void work.finally(() => this.active.delete(work))
    }
    if (claimed.length === 0) await this.wakeForNext()
  }

  /** Sleeps until the next retry is due (the poll also catches it, later). */
  private async wakeForNext(): Promise<void> {
    const next = await this.media.nextDownloadAt()
    if (!next || this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    const wait = Math.max(0, next.getTime() - Date.now()) + 5
    this.timer = setTimeout(() => this.kick(), Math.min(wait, 2 ** 31 - 1)).unref()
  }

  private async fetch(file: MediaRecord): Promise<void> {
    try {
      // A fresh URL each attempt: Meta's last only minutes, and a 404 means "look it up again".
      const info = await this.meta.mediaInfo(file.metaMediaId!)
      await this.store.remove(file.id) // what an earlier attempt left
      const stored = await this.store.write(file.id, await this.meta.downloadMedia(info.url), MAX_MEDIA_BYTES)
      const expected = file.expectedSha256 ?? info.sha256
      if (expected && !sameSha256(expected, stored.sha256)) {
        throw new Error(`the bytes do not match the sha256 Meta gave (${expected}, got ${stored.sha256})`)
      }
      await this.media.markReady(file.id, stored)
      this.options.onSettled?.(file.id)
    } catch (err) {
      await this.store.remove(file.id).catch(() => {})
      const last = file.attempts >= this.options.maxAttempts
      const wait = this.options.retryBaseMs * 2 ** (file.attempts - 1) * (0.75 + Math.random() / 2)
      await this.media.downloadFailed(file.id, describeError(err), last ? null : new Date(Date.now() + wait))
      if (last) {
        this.options.onError?.(err, file.id)
        this.options.onSettled?.(file.id)
      }
    }
  }
}
