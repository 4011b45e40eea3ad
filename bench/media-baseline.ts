/**
 * The media benchmark's baseline: a plain file copy over loopback. A bare node:http server with the
 * service's two media paths and nothing else. `POST /api/whatsapp/media` streams the request body
 * into a file, dropping only the multipart framing on the way (the part's headers before the bytes,
 * the closing boundary after them: the client sends one part, so nothing is parsed in between, and
 * nothing is hashed); `GET /api/whatsapp/media/:id` streams that file back with fs.createReadStream.
 * No auth, no database.
 *
 * Environment: MEDIA_DIR (where the files go), PORT. Prints one JSON line, {url}, once listening.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'

const dir = process.env.MEDIA_DIR
if (!dir) throw new Error('MEDIA_DIR is required')

const HEAD_SEPARATOR = Buffer.from('\r\n\r\n')

/** The bytes of a single-part multipart body: what follows the part's headers, less the closing boundary. */
class SinglePart extends Transform {
  private head: Buffer | null = Buffer.alloc(0)
  private tail = Buffer.alloc(0)
  constructor(private readonly epilogue: Buffer) {
    super()
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
    if (this.head) {
      const head = Buffer.concat([this.head, chunk])
      const at = head.indexOf(HEAD_SEPARATOR)
      if (at < 0) {
        if (head.length > 16_384) return done(new Error('no part headers in the first 16 KiB'))
        this.head = head
        return done()
      }
      this.head = null
      chunk = head.subarray(at + HEAD_SEPARATOR.length)
    }
    // Hold back the last epilogue.length bytes: the closing boundary, once the body ends.
    const keep = this.epilogue.length
    if (chunk.length >= keep) {
      if (this.tail.length) this.push(this.tail)
      this.push(chunk.subarray(0, chunk.length - keep))
      this.tail = Buffer.from(chunk.subarray(chunk.length - keep))
    } else {
      const joined = Buffer.concat([this.tail, chunk])
      const cut = Math.max(0, joined.length - keep)
      if (cut) this.push(joined.subarray(0, cut))
      this.tail = joined.subarray(cut)
    }
    done()
  }
  override _flush(done: TransformCallback) {
    done(this.head || !this.tail.equals(this.epilogue) ? new Error('not a single-part multipart body') : null)
  }
}

function send(res: ServerResponse, status: number, body: unknown) {
  const json = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
  res.end(json)
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method === 'POST' && url.pathname === '/api/whatsapp/media') {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/.exec(req.headers['content-type'] ?? '')
    if (!boundary) {
      req.resume()
      return send(res, 400, { success: false, error: { message: 'multipart/form-data with a boundary expected' } })
    }
    const id = `base_${randomBytes(12).toString('hex')}`
    const file = path.join(dir!, id)
    await pipeline(
      req,
      new SinglePart(Buffer.from(`\r\n--${boundary[1] ?? boundary[2]}--\r\n`)),
      createWriteStream(file),
    )
    const { size } = await stat(file)
    return send(res, 200, { success: true, data: { media_id: id, mime_type: 'application/pdf', size } })
  }
  const match = /^\/api\/whatsapp\/media\/(base_[0-9a-f]+)$/.exec(url.pathname)
  if (req.method === 'GET' && match) {
    const file = path.join(dir!, match[1])
    const info = await stat(file).catch(() => null)
    if (!info) return send(res, 404, { success: false, error: { message: 'no such file' } })
    res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': info.size })
    return pipeline(createReadStream(file), res)
  }
  req.resume()
  send(res, 404, { success: false, error: { message: `no route ${req.method} ${url.pathname}` } })
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: Error) => {
    if (res.headersSent) res.destroy(err)
    else send(res, 400, { success: false, error: { message: err.message } })
  })
})
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`)

process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  process.exit(0)
})
