import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'

/**
 * Where media bytes live. Every instance that shares the database must serve every file, for as
 * long as its message exists (Meta deletes its copy within weeks), without a new part to run:
 * on PostgreSQL the bytes are in the database itself ({@link PostgresMediaStore}); the embedded
 * database has one instance, and keeps them in files beside its data folder ({@link FileMediaStore}).
 * A deployment that outgrows that (many GB of video) adds an object store behind this interface.
 */
export interface MediaStore {
  /**
   * Stores the bytes of `mediaId` as they come, hashing them; stops with {@link MediaTooLargeError}
   * past `maxBytes` (what was written so far is left for {@link remove}).
   */
  write(mediaId: string, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ size: number; sha256: string }>
  /** Bytes `start` to `end` (inclusive) of a stored file, as a stream. */
  read(mediaId: string, start: number, end: number): Readable
  remove(mediaId: string): Promise<void>
  /** Bytes stored for `mediaId` (0: none). */
  stored(mediaId: string): Promise<number>
  /** How many files have bytes stored (checks, tests). */
  count(): Promise<number>
  close(): Promise<void>
}

/** More bytes than the file's kind allows arrived. */
export class MediaTooLargeError extends Error {
  override name = 'MediaTooLargeError'
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`)
  }
}

/** Media ids are ours (`med_` and base64url): safe in file names and SQL literals, checked anyway. */
export function assertMediaId(mediaId: string): void {
  if (!/^med_[\w-]{10,40}$/.test(mediaId)) throw new Error(`not a media id: ${mediaId}`)
}

/** Counts and hashes bytes as they pass, refusing more than `maxBytes`. */
export class Measure {
  private readonly hash = createHash('sha256')
  size = 0

  constructor(private readonly maxBytes: number) {}

  /** @throws MediaTooLargeError */
  add(piece: Uint8Array): void {
    this.size += piece.length
    if (this.size > this.maxBytes) throw new MediaTooLargeError(this.maxBytes)
    this.hash.update(piece)
  }

  result(): { size: number; sha256: string } {
    return { size: this.size, sha256: this.hash.digest('hex') }
  }
}
