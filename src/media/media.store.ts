import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { MediaRepository } from './media.repository.js'

/**
 * Where media bytes live. Every instance sharing the database must serve every file, for as long
 * as its message exists (Meta deletes its copy within weeks), so the bytes are kept in the database
 * itself: no new part to run. A deployment that outgrows that (many GB of video) adds an object
 * store behind this same interface.
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
}

/** More bytes than the file's kind allows arrived. */
export class MediaTooLargeError extends Error {
  override name = 'MediaTooLargeError'
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`)
  }
}

/** Bytes per stored chunk: what one write or read holds in memory, and the step of a seek. */
export const CHUNK_BYTES = 256 * 1024
/** Chunks fetched per query when reading (1 MiB). */
const READ_AHEAD = 4

/** The bytes in `media_chunks`, in order, CHUNK_BYTES each (the last one shorter). */
export class DatabaseMediaStore implements MediaStore {
  constructor(private readonly media: MediaRepository) {}

  async write(mediaId: string, source: AsyncIterable<Uint8Array>, maxBytes: number) {
    const hash = createHash('sha256')
    let size = 0
    let seq = 0
    let pending: Buffer[] = []
    let pendingBytes = 0
    const flush = async (bytes: number) => {
      const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
      await this.media.writeChunk(mediaId, seq++, all.subarray(0, bytes))
      const rest = all.subarray(bytes)
      pending = rest.length ? [rest] : []
      pendingBytes = rest.length
    }
    for await (const piece of source) {
      size += piece.length
      if (size > maxBytes) throw new MediaTooLargeError(maxBytes)
      hash.update(piece)
      pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength))
      pendingBytes += piece.length
      while (pendingBytes >= CHUNK_BYTES) await flush(CHUNK_BYTES)
    }
    if (pendingBytes > 0) await flush(pendingBytes)
    return { size, sha256: hash.digest('hex') }
  }

  read(mediaId: string, start: number, end: number): Readable {
    const media = this.media
    return Readable.from(
      (async function* () {
        const last = Math.floor(end / CHUNK_BYTES)
        for (let seq = Math.floor(start / CHUNK_BYTES); seq <= last; seq += READ_AHEAD) {
          const to = Math.min(last, seq + READ_AHEAD - 1)
          const chunks = await media.readChunks(mediaId, seq, to)
          // A file removed while being read: end with an error, never with fewer bytes than announced.
          if (chunks.length !== to - seq + 1) throw new Error(`media ${mediaId} lost its bytes while being read`)
          for (const [i, data] of chunks.entries()) {
            const offset = (seq + i) * CHUNK_BYTES
            const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
            yield buffer.subarray(Math.max(0, start - offset), Math.min(buffer.length, end - offset + 1))
          }
        }
      })(),
      { objectMode: false },
    )
  }

  async remove(mediaId: string): Promise<void> {
    await this.media.deleteChunks(mediaId)
  }
}
