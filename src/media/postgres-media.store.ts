import { Readable } from 'node:stream'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { assertMediaId, Measure, type MediaStore } from './media.store.js'

/** Bytes per row of `media_chunks`: what a write holds in memory, and one INSERT. */
export const CHUNK_BYTES = 512 * 1024
/** Chunks read per COPY statement: a slow reader holds a connection for at most this much. */
const CHUNKS_PER_READ = 16

/**
 * The bytes in `media_chunks`, CHUNK_BYTES a row, in order, on connections of their own (a few
 * large transfers never take the API's connections). Chunks are written with binary parameters
 * and read with `COPY … TO STDOUT (FORMAT binary)`: a plain SELECT returns bytea as hex text,
 * which costs several times the CPU and bytes of the file itself.
 */
export class PostgresMediaStore implements MediaStore {
  private readonly pool: pg.Pool

  constructor(url: string, connections = 4) {
    this.pool = new pg.Pool({ connectionString: url, max: connections })
    this.pool.on('error', () => {}) // an idle connection closed by the server: the pool replaces it
  }

  async write(mediaId: string, source: AsyncIterable<Uint8Array>, maxBytes: number) {
    assertMediaId(mediaId)
    const measure = new Measure(maxBytes)
    // One buffer per upload, filled and sent again and again: a fresh 1 MiB a chunk costs page
    // faults and garbage collection (pg copies the parameter before the query resolves).
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    let filled = 0
    let seq = 0
    const flush = async () => {
      await this.pool.query('INSERT INTO media_chunks (media_id, seq, data) VALUES ($1, $2, $3)', [
        mediaId,
        seq++,
        chunk.subarray(0, filled),
      ])
      filled = 0
    }
    for await (const piece of source) {
      measure.add(piece)
      for (let at = 0; at < piece.length;) {
        const n = Math.min(piece.length - at, CHUNK_BYTES - filled)
        chunk.set(piece.subarray(at, at + n), filled)
        filled += n
        at += n
        if (filled === CHUNK_BYTES) await flush()
      }
    }
    if (filled > 0) await flush()
    return measure.result()
  }

  read(mediaId: string, start: number, end: number): Readable {
    assertMediaId(mediaId)
    const pool = this.pool
    return Readable.from(
      (async function* () {
        const last = Math.floor(end / CHUNK_BYTES)
        for (let seq = Math.floor(start / CHUNK_BYTES); seq <= last; seq += CHUNKS_PER_READ) {
          const to = Math.min(last, seq + CHUNKS_PER_READ - 1)
          // The rows' bytes, back to back, are the file's from chunk `seq` on.
          let position = seq * CHUNK_BYTES
          for await (const piece of copyChunks(pool, mediaId, seq, to)) {
            const from = Math.max(0, start - position)
            const upTo = Math.min(piece.length, end - position + 1)
            position += piece.length
            if (upTo > from) yield piece.subarray(from, upTo)
          }
          // A file removed while being read: end with an error, never with fewer bytes than announced.
          if (position < Math.min(end + 1, (to + 1) * CHUNK_BYTES)) {
            throw new Error(`media ${mediaId} lost its bytes while being read`)
          }
        }
      })(),
      { objectMode: false },
    )
  }

  async remove(mediaId: string): Promise<void> {
    await this.pool.query('DELETE FROM media_chunks WHERE media_id = $1', [mediaId])
  }

  async stored(mediaId: string): Promise<number> {
    const { rows } = await this.pool.query<{ bytes: number }>(
      'SELECT COALESCE(sum(length(data)), 0)::int AS bytes FROM media_chunks WHERE media_id = $1',
      [mediaId],
    )
    return rows[0].bytes
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(DISTINCT media_id)::int AS n FROM media_chunks')
    return rows[0].n
  }

  close(): Promise<void> {
    return this.pool.end()
  }
}

/** Chunks `from` to `to` of a file, in order, through one COPY statement on a connection of its own. */
async function* copyChunks(pool: pg.Pool, mediaId: string, from: number, to: number): AsyncGenerator<Buffer> {
  const client = await pool.connect()
  let done = false
  try {
    // COPY takes no parameters: the id is checked (assertMediaId) and quoted, the bounds are integers.
    const sql =
      `COPY (SELECT data FROM media_chunks WHERE media_id = ${client.escapeLiteral(mediaId)} ` +
      `AND seq BETWEEN ${Math.trunc(from)} AND ${Math.trunc(to)} ORDER BY seq) TO STDOUT (FORMAT binary)`
    yield* binaryCopyValues(client.query(copyTo(sql)))
    done = true
  } finally {
    // A reader that stopped half-way leaves the connection mid-COPY: it is closed, not reused.
    client.release(!done)
  }
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')

/**
 * The bytes of the values of a one-column `COPY … (FORMAT binary)` stream, back to back, in the
 * pieces they arrive in (a 1 MiB row is never gathered into one buffer). The stream is a header,
 * then per row a field count, a length and the bytes, then -1.
 * @see https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
export async function* binaryCopyValues(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const input = source[Symbol.asyncIterator]()
  let buffered: Buffer = Buffer.alloc(0)
  const more = async () => {
    const { value, done } = await input.next()
    if (done) throw new Error('the COPY stream ended in the middle of a row')
    buffered = buffered.length ? Buffer.concat([buffered, value]) : value
  }
  /** `n` framing bytes (a few at a time: their copies are small). */
  const take = async (n: number) => {
    while (buffered.length < n) await more()
    const taken = buffered.subarray(0, n)
    buffered = buffered.subarray(n)
    return taken
  }
  const header = await take(SIGNATURE.length + 8)
  if (!header.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY stream')
  await take(header.readUInt32BE(SIGNATURE.length + 4)) // header extension
  for (;;) {
    const fields = (await take(2)).readInt16BE(0)
    if (fields === -1) {
      // Read to its end, so the connection is back at rest before it is reused.
      while (!(await input.next()).done);
      return
    }
    if (fields !== 1) throw new Error(`a COPY row with ${fields} fields, expected 1`)
    let remaining = (await take(4)).readInt32BE(0)
    if (remaining < 0) throw new Error('a COPY row with a null value')
    while (remaining > 0) {
      if (buffered.length === 0) await more()
      const piece = buffered.subarray(0, remaining)
      buffered = buffered.subarray(piece.length)
      remaining -= piece.length
      yield piece
    }
  }
}
