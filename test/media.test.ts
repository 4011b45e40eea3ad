/**
 * Media through the public surface: uploads (POST /api/whatsapp/media), downloads with ranges and
 * ETags (GET /api/whatsapp/media/:id), sends by uploaded id (uploaded to Meta once) or by link,
 * customers' files fetched from Meta in the background after their webhook, the same files in
 * GraphQL, and two instances sharing PostgreSQL. Real HTTP to the app; Meta is a FakeMetaServer.
 */
import { createHash, randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { MessageMediaDocument } from './graphql/generated.js'
import { META_ERRORS } from './helpers/fake-meta.js'
import { DOWNLOAD_PATH } from './helpers/fake-meta-media.js'
import { CHUNK_BYTES } from '../src/media/postgres-media.store.js'
import { API_TOKEN, TEST_DATABASE, type TestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'
import { inboundMessage, postWebhook, webhookEnv } from './helpers/webhooks.js'

const KB = 1024
const MB = 1024 * KB
/** PostgreSQL's rows of media_chunks; the file store has none, and the same ranges hold. */
const CHUNK = CHUNK_BYTES
const TO = '50212345678'
const env = { ...webhookEnv, WHATSAPP_ENFORCE_SERVICE_WINDOW: 'false' }

const ctx = useTestApp({ env })

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const auth = (token: string | null = API_TOKEN): Record<string, string> =>
  token === null ? {} : { authorization: `Bearer ${token}` }

/** A multipart upload of `bytes` as field `field` (default `file`) to the app under test. */
async function upload(
  bytes: Uint8Array,
  type: string,
  filename: string,
  options: { app?: TestApp; field?: string; token?: string | null } = {},
) {
  const form = new FormData()
  form.append(options.field ?? 'file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type }), filename)
  const res = await fetch(`${(options.app ?? ctx.t).url}/api/whatsapp/media`, {
    method: 'POST',
    headers: auth(options.token),
    body: form,
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

/** An upload expected to succeed: its media id. */
async function uploaded(bytes: Uint8Array, type: string, filename: string, app?: TestApp): Promise<string> {
  const res = await upload(bytes, type, filename, { app })
  expect(res.status).toBe(200)
  return res.body.data.media_id
}

/** GET of a media path (or `/api/whatsapp/media/<id>`), its bytes read whole. */
async function download(
  idOrPath: string,
  headers: Record<string, string> = {},
  options: { app?: TestApp; token?: string | null } = {},
) {
  const path = idOrPath.startsWith('/') ? idOrPath : `/api/whatsapp/media/${idOrPath}`
  const res = await fetch(`${(options.app ?? ctx.t).url}${path}`, { headers: { ...auth(options.token), ...headers } })
  const bytes = Buffer.from(await res.arrayBuffer())
  let json: any
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, bytes, json }
}

const mediaRow = (id: string) => ctx.t.app.database.prisma.media.findUnique({ where: { id } })
const counts = async () => ({
  media: await ctx.t.app.database.prisma.media.count(),
  stored: await ctx.t.app.mediaStore.count(),
})

/** Polls until `check` answers something truthy, or fails after `ms`. */
async function eventually<T>(check: () => Promise<T>, ms = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits until the app's downloader is done with a file (ready or failed for good). */
async function settled(app: TestApp, mediaId: string) {
  await app.app.webhooks.drained()
  await app.app.mediaFetcher.idle()
  return eventually(
    async () => {
      const row = await app.app.database.prisma.media.findUnique({ where: { id: mediaId } })
      return row && row.status !== 'downloading' ? row : null
    },
    15_000,
    `media ${mediaId} to settle`,
  )
}

let wamidSeq = 0
/** Posts an inbound media message; resolves once it is applied, with its stored message. */
async function receive(from: string, message: Record<string, unknown>, app = ctx.t) {
  const wamid = `wamid.MEDIA${++wamidSeq}_${randomBytes(4).toString('hex')}`
  const res = await postWebhook(app, inboundMessage(from, { id: wamid, ...message }))
  expect(res.status).toBe(200)
  await app.app.webhooks.drained()
  const stored = await app.app.database.prisma.message.findFirst({ where: { wamid } })
  expect(stored).not.toBeNull()
  return { wamid, message: stored!, mediaId: stored!.mediaId! }
}

/** The REST shape of one message of a conversation, by its id. */
async function restMessageOf(conversationId: number, messageId: number, app = ctx.t) {
  const res = await app.rest('GET', `/api/whatsapp/conversations/${conversationId}/messages?first=100`)
  expect(res.status).toBe(200)
  return res.body.data.find((m: any) => m.message_id === messageId)
}

const downloadsOf = (metaId: string) =>
  ctx.meta.requests.filter((r) => r.path === DOWNLOAD_PATH && r.query.get('mid') === metaId).length
const lookupsOf = (metaId: string) =>
  ctx.meta.requests.filter((r) => r.method === 'GET' && r.path === `/${ctx.meta.apiVersion}/${metaId}`).length

describe('POST /api/whatsapp/media', () => {
  it('stores a file and answers its id, type, size and hex sha256; on PostgreSQL in chunks of CHUNK_BYTES', async () => {
    const bytes = randomBytes(2 * CHUNK + 5)
    const res = await upload(bytes, 'image/jpeg', 'unidad.jpg')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      success: true,
      data: {
        media_id: expect.stringMatching(/^med_[\w-]{10,40}$/),
        mime_type: 'image/jpeg',
        size: bytes.length,
        sha256: sha256(bytes),
      },
    })
    const id = res.body.data.media_id
    expect(await mediaRow(id)).toMatchObject({
      source: 'upload',
      status: 'ready',
      mimeType: 'image/jpeg',
      size: bytes.length,
      sha256: sha256(bytes),
      filename: 'unidad.jpg',
      metaMediaId: null,
    })
    expect(await ctx.t.app.mediaStore.stored(id)).toBe(bytes.length)
    if (TEST_DATABASE.kind === 'postgres') {
      const chunks = await ctx.t.app.database.prisma.mediaChunk.findMany({
        where: { mediaId: id },
        orderBy: { seq: 'asc' },
      })
      expect(chunks.map((c) => [c.seq, c.data.length])).toEqual([
        [0, CHUNK],
        [1, CHUNK],
        [2, 5],
      ])
      expect(Buffer.concat(chunks.map((c) => c.data)).equals(bytes)).toBe(true)
    }
  })

  it('takes the type from the file name when the part says only application/octet-stream', async () => {
    const bytes = randomBytes(1000)
    const res = await upload(bytes, 'application/octet-stream', 'Informe.PDF')
    expect(res.status).toBe(200)
    expect(res.body.data).toMatchObject({ mime_type: 'application/pdf', size: 1000, sha256: sha256(bytes) })
  })

  it('refuses a type WhatsApp does not take with 422 on `file`, storing nothing', async () => {
    const before = await counts()
    const res = await upload(randomBytes(2000), 'image/gif', 'anim.gif')
    expect(res.status).toBe(422)
    expect(res.body.success).toBe(false)
    expect(res.body.error.code).toBe('VALIDATION_FAILED')
    expect(res.body.error.fields).toEqual([{ path: 'file', message: expect.stringContaining('image/gif') }])
    expect(await counts()).toEqual(before)
  })

  it.each([
    ['a 600 KB image/webp sticker', 600 * KB, 'image/webp', 'sticker.webp', 500 * KB],
    ['a 6 MB image/jpeg', 6 * MB, 'image/jpeg', 'foto.jpg', 5 * MB],
  ])('refuses %s with 413, storing nothing of it', async (_name, size, type, filename, limit) => {
    const before = await counts()
    const res = await upload(randomBytes(size), type, filename)
    expect(res.status).toBe(413)
    expect(res.body).toEqual({
      success: false,
      error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining(String(limit)) },
    })
    expect(await counts()).toEqual(before)
  })

  it('refuses an upload past its kind’s limit as it streams, when no Content-Length said so first', async () => {
    const before = await counts()
    // Chunked: the limit is found only once more than 500 KB of the sticker (two chunks) was stored.
    const boundary = 'xxBOUNDARYxx'
    const parts = [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.webp"\r\n` +
          'Content-Type: image/webp\r\n\r\n',
      ),
      ...Array.from({ length: 10 }, () => randomBytes(64 * KB)),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]
    const res = await fetch(`${ctx.t.url}/api/whatsapp/media`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: new ReadableStream({
        pull(controller) {
          const next = parts.shift()
          if (next) controller.enqueue(new Uint8Array(next))
          else controller.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(((await res.json()) as any).error).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringContaining(String(500 * KB)),
    })
    expect(await counts()).toEqual(before)
  })

  it('refuses a Content-Length over 100 MiB before reading the body', async () => {
    const before = await counts()
    const started = Date.now()
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const boundary = 'xxBOUNDARYxx'
      const req = httpRequest(`${ctx.t.url}/api/whatsapp/media`, {
        method: 'POST',
        headers: {
          ...auth(),
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(101 * MB + 64 * KB),
        },
      })
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) })
          req.destroy()
        })
      })
      req.on('error', reject)
      // Only the start of the body: an answer can only come if the server did not wait for the rest.
      req.write(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n` +
          'Content-Type: application/pdf\r\n\r\n%PDF-1.7\n',
      )
    })
    expect(answer.status).toBe(413)
    expect(answer.body.error.code).toBe('PAYLOAD_TOO_LARGE')
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await counts()).toEqual(before)
  })

  it('answers 415 to a body that is not multipart', async () => {
    const json = await ctx.t.rest('POST', '/api/whatsapp/media', { file: 'aGVsbG8=' })
    expect(json.status).toBe(415)
    expect(json.body.error).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('multipart') })
    const raw = await ctx.t.rest('POST', '/api/whatsapp/media', undefined, { raw: 'hello', contentType: 'image/jpeg' })
    expect(raw.status).toBe(415)
    expect(raw.body.error).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('multipart') })
  })

  it('answers 422 on `file` when no part is named file', async () => {
    const before = await counts()
    const other = await upload(randomBytes(100), 'image/jpeg', 'a.jpg', { field: 'document' })
    expect(other.status).toBe(422)
    expect(other.body.error).toMatchObject({ code: 'VALIDATION_FAILED', fields: [{ path: 'file' }] })

    const form = new FormData()
    form.append('caption', 'no file here')
    const res = await fetch(`${ctx.t.url}/api/whatsapp/media`, { method: 'POST', headers: auth(), body: form })
    expect(res.status).toBe(422)
    expect(((await res.json()) as any).error).toMatchObject({ code: 'VALIDATION_FAILED', fields: [{ path: 'file' }] })
    expect(await counts()).toEqual(before)
  })

  it('answers 400 MALFORMED_REQUEST to a multipart body it cannot read, and 422 to an empty file, storing nothing', async () => {
    const before = await counts()
    const post = async (contentType: string, body: Buffer) => {
      const res = await fetch(`${ctx.t.url}/api/whatsapp/media`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': contentType },
        body: new Uint8Array(body),
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    const head = (type: string) =>
      `--XX\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: ${type}\r\n\r\n`

    const noBoundary = await post('multipart/form-data', Buffer.from('abc'))
    expect(noBoundary.status).toBe(400)
    expect(noBoundary.body.error.code).toBe('MALFORMED_REQUEST')

    // Cut short after more than a chunk was stored: what was stored goes.
    const cut = await post(
      'multipart/form-data; boundary=XX',
      Buffer.concat([Buffer.from(head('application/pdf')), randomBytes(CHUNK + 1000)]),
    )
    expect(cut.status).toBe(400)
    expect(cut.body.error).toEqual({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('multipart') })

    const empty = await post(
      'multipart/form-data; boundary=XX',
      Buffer.from(`${head('application/pdf')}\r\n--XX--\r\n`),
    )
    expect(empty.status).toBe(422)
    expect(empty.body.error.fields).toEqual([{ path: 'file', message: 'is empty' }])
    expect(await counts()).toEqual(before)
  })

  it('answers 401 without a valid bearer token', async () => {
    const before = await counts()
    for (const token of [null, 'not-the-token']) {
      const res = await upload(randomBytes(100), 'image/jpeg', 'a.jpg', { token })
      expect(res.status).toBe(401)
      expect(res.body.error.code).toBe('UNAUTHENTICATED')
    }
    expect(await counts()).toEqual(before)
  })
})

describe('GET /api/whatsapp/media/:mediaId', () => {
  const size = 6 * MB + 1234
  const pdf = randomBytes(size)
  let id: string

  beforeAll(async () => {
    id = await uploaded(pdf, 'application/pdf', 'Factura 12 ñ.pdf')
  })

  it('serves the bytes exactly, with type, length, a strong ETag and Accept-Ranges', async () => {
    const res = await download(id)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.headers.get('content-length')).toBe(String(size))
    expect(res.headers.get('etag')).toBe(`"${sha256(pdf)}"`)
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    expect(res.headers.get('content-disposition')).toBe(`inline; filename*=UTF-8''Factura%2012%20%C3%B1.pdf`)
    expect(res.headers.get('content-range')).toBeNull()
    expect(res.bytes.length).toBe(size)
    expect(res.bytes.equals(pdf)).toBe(true)
  })

  it.each([
    ['within one chunk', 10, 99],
    ['across a chunk boundary', CHUNK - 100, CHUNK + 99],
    ['across several chunks', CHUNK * 3 + 7, CHUNK * 5 + 13],
    ['exactly one whole chunk', CHUNK, 2 * CHUNK - 1],
    ['the last byte', size - 1, size - 1],
  ])('serves a range %s with 206 and Content-Range', async (_name, start, end) => {
    const res = await download(id, { range: `bytes=${start}-${end}` })
    expect(res.status).toBe(206)
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`)
    expect(res.headers.get('content-length')).toBe(String(end - start + 1))
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.bytes.equals(pdf.subarray(start, end + 1))).toBe(true)
  })

  it('serves open-ended, suffix and over-long ranges up to the end of the file', async () => {
    const open = await download(id, { range: `bytes=${size - CHUNK - 10}-` })
    expect(open.status).toBe(206)
    expect(open.headers.get('content-range')).toBe(`bytes ${size - CHUNK - 10}-${size - 1}/${size}`)
    expect(open.bytes.equals(pdf.subarray(size - CHUNK - 10))).toBe(true)

    const suffix = await download(id, { range: 'bytes=-100' })
    expect(suffix.status).toBe(206)
    expect(suffix.headers.get('content-range')).toBe(`bytes ${size - 100}-${size - 1}/${size}`)
    expect(suffix.headers.get('content-length')).toBe('100')
    expect(suffix.bytes.equals(pdf.subarray(size - 100))).toBe(true)

    // Several ranges may be answered with the whole file.
    const several = await download(id, { range: 'bytes=0-1,5-6' })
    expect(several.status).toBe(200)
    expect(several.bytes.equals(pdf)).toBe(true)

    const long = await download(id, { range: `bytes=${size - 5}-${size + 1000}` })
    expect(long.status).toBe(206)
    expect(long.headers.get('content-range')).toBe(`bytes ${size - 5}-${size - 1}/${size}`)
    expect(long.bytes.equals(pdf.subarray(size - 5))).toBe(true)
  })

  it.each([`bytes=${6 * MB + 1234}-`, `bytes=${10 * MB}-${10 * MB + 5}`, 'bytes=-0'])(
    'answers 416 with Content-Range bytes */size to %s',
    async (range) => {
      const res = await download(id, { range })
      expect(res.status).toBe(416)
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`)
      expect(res.json.error.code).toBe('RANGE_NOT_SATISFIABLE')
    },
  )

  it('answers 304 without a body to If-None-Match naming its ETag, and the bytes to another ETag', async () => {
    const etag = `"${sha256(pdf)}"`
    const same = await download(id, { 'if-none-match': etag })
    expect(same.status).toBe(304)
    expect(same.headers.get('etag')).toBe(etag)
    expect(same.bytes.length).toBe(0)
    // Compared weakly, as If-None-Match must be; * names any stored file.
    for (const header of [`"abc", ${etag}`, `W/${etag}`, '*']) {
      const res = await download(id, { 'if-none-match': header })
      expect(res.status).toBe(304)
      expect(res.bytes.length).toBe(0)
    }
    const other = await download(id, { 'if-none-match': `"${'0'.repeat(64)}"` })
    expect(other.status).toBe(200)
    expect(other.bytes.equals(pdf)).toBe(true)
  })

  it('answers 404 NOT_FOUND to an unknown or malformed id, 401 without a token', async () => {
    for (const unknown of ['med_AAAAAAAAAAAAAAAAAAAAAA', 'nope', `${id}x`]) {
      const res = await download(unknown)
      expect(res.status).toBe(404)
      expect(res.json.error.code).toBe('NOT_FOUND')
    }
    for (const token of [null, 'wrong']) {
      const res = await download(id, {}, { token })
      expect(res.status).toBe(401)
      expect(res.json.error.code).toBe('UNAUTHENTICATED')
      expect(res.bytes.includes(pdf.subarray(0, 32))).toBe(false)
    }
  })
})

describe('sending a file', () => {
  const send = (body: Record<string, unknown>) => ctx.t.rest('POST', '/api/whatsapp/send', body)
  const messageCount = () => ctx.t.app.database.prisma.message.count()

  it('uploads it to Meta once, sends its Meta id, and answers the message with its media', async () => {
    const pdf = randomBytes(200 * KB)
    const id = await uploaded(pdf, 'application/pdf', 'original.pdf')
    const uploadsBefore = ctx.meta.uploads.size
    const requestsBefore = ctx.meta.requests.length

    const res = await send({
      phoneNumber: '+50212345678',
      type: 'document',
      mediaId: id,
      caption: 'Su factura',
      filename: 'Factura-1.pdf',
    })
    expect(res.status).toBe(200)
    expect(ctx.meta.uploads.size).toBe(uploadsBefore + 1)
    const [metaId, record] = [...ctx.meta.uploads].at(-1)!
    expect(record).toMatchObject({ mimeType: 'application/pdf', size: pdf.length, sha256: sha256(pdf) })
    expect(record.bytes!.equals(pdf)).toBe(true)

    const calls = ctx.meta.requests.slice(requestsBefore)
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /v24.0/${ctx.meta.phoneNumberId}/media`,
      `POST /v24.0/${ctx.meta.phoneNumberId}/messages`,
    ])
    expect(calls[0].authorization).toBe(`Bearer ${ctx.meta.accessToken}`)
    expect(calls[0].body).toEqual({
      messaging_product: 'whatsapp',
      type: 'application/pdf',
      file: { filename: 'original.pdf', mimeType: 'application/pdf', size: pdf.length, sha256: sha256(pdf) },
    })
    expect(calls[1].body).toMatchObject({
      messaging_product: 'whatsapp',
      to: TO,
      type: 'document',
      document: { id: metaId, caption: 'Su factura', filename: 'Factura-1.pdf' },
    })
    expect(ctx.meta.malformed).toEqual([])

    const message = res.body.data.message
    expect(message).toMatchObject({
      content: 'Su factura',
      message_type: 'document',
      direction: 'outbound',
      status: 'sent',
      wamid: ctx.meta.accepted.at(-1)!.wamid,
    })
    expect(message.media).toEqual({
      media_id: id,
      mime_type: 'application/pdf',
      size: pdf.length,
      sha256: sha256(pdf),
      filename: 'Factura-1.pdf',
      caption: 'Su factura',
      url: `/api/whatsapp/media/${id}`,
      status: 'ready',
      error: null,
      voice: false,
    })
    expect(await mediaRow(id)).toMatchObject({ metaMediaId: metaId })

    // Sent again: Meta still has it, so no second upload.
    const again = await send({ phoneNumber: '+50212345678', type: 'document', mediaId: id })
    expect(again.status).toBe(200)
    expect(ctx.meta.uploads.size).toBe(uploadsBefore + 1)
    expect(ctx.meta.requests.slice(requestsBefore + 2).map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /v24.0/${ctx.meta.phoneNumberId}/messages`,
    ])
    expect(ctx.meta.accepted.at(-1)!.request).toMatchObject({
      type: 'document',
      document: { id: metaId, filename: 'original.pdf' },
    })
    expect(again.body.data.message.media).toMatchObject({
      media_id: id,
      filename: 'original.pdf',
      caption: null,
      url: `/api/whatsapp/media/${id}`,
      status: 'ready',
    })
  })

  it('uploads a file once when two sends of it start together', async () => {
    const jpeg = randomBytes(50 * KB)
    const id = await uploaded(jpeg, 'image/jpeg', 'foto.jpg')
    const uploadsBefore = ctx.meta.uploads.size
    const [a, b] = await Promise.all([
      send({ phoneNumber: '+50212345678', type: 'image', mediaId: id, caption: 'uno' }),
      send({ phoneNumber: '+50212345678', type: 'image', mediaId: id, caption: 'dos' }),
    ])
    expect([a.status, b.status]).toEqual([200, 200])
    expect(ctx.meta.uploads.size).toBe(uploadsBefore + 1)
    const metaId = [...ctx.meta.uploads.keys()].at(-1)!
    expect(
      ctx.meta.accepted
        .slice(-2)
        .map((x) => (x.request as any).image)
        .sort((x: any, y: any) => x.caption.localeCompare(y.caption)),
    ).toEqual([
      { id: metaId, caption: 'dos' },
      { id: metaId, caption: 'uno' },
    ])
  })

  it('refuses a file of another kind, or an unknown one, with 422 on mediaId and nothing sent', async () => {
    const id = await uploaded(randomBytes(1000), 'application/pdf', 'doc.pdf')
    const requestsBefore = ctx.meta.requests.length
    const messagesBefore = await messageCount()
    for (const [type, mediaId, why] of [
      ['image', id, /application\/pdf/],
      ['sticker', id, /application\/pdf/],
      ['document', 'med_AAAAAAAAAAAAAAAAAAAAAA', /no media/],
      ['document', 'not-an-id', /no media/],
    ] as const) {
      const res = await send({ phoneNumber: '+50212345678', type, mediaId })
      expect(res.status).toBe(422)
      expect(res.body.error.code).toBe('VALIDATION_FAILED')
      expect(res.body.error.fields).toEqual([{ path: 'mediaId', message: expect.stringMatching(why) }])
    }
    expect(ctx.meta.requests.length).toBe(requestsBefore)
    expect(await messageCount()).toBe(messagesBefore)
  })

  it('sends a link as the link, and shows it as a remote file', async () => {
    const link = 'https://cdn.example.com/fotos/unidad-42.jpg'
    const uploadsBefore = ctx.meta.uploads.size
    const res = await send({ phoneNumber: '+50212345678', type: 'image', link, caption: 'La unidad' })
    expect(res.status).toBe(200)
    expect(ctx.meta.uploads.size).toBe(uploadsBefore)
    expect(ctx.meta.accepted.at(-1)!.request).toMatchObject({ type: 'image', image: { link, caption: 'La unidad' } })
    expect(res.body.data.message.media).toEqual({
      media_id: expect.stringMatching(/^med_/),
      mime_type: null,
      size: null,
      sha256: null,
      filename: null,
      caption: 'La unidad',
      url: link,
      status: 'remote',
      error: null,
      voice: false,
    })
    // Nothing here to serve.
    const served = await download(res.body.data.message.media.media_id)
    expect(served.status).toBe(404)
    expect(served.json.error.code).toBe('NOT_FOUND')
  })

  it('refuses a link that is not https, or both a link and a mediaId, with 422 and nothing sent', async () => {
    const id = await uploaded(randomBytes(1000), 'image/jpeg', 'a.jpg')
    const requestsBefore = ctx.meta.requests.length
    const plain = await send({ phoneNumber: '+50212345678', type: 'image', link: 'http://cdn.example.com/a.jpg' })
    expect(plain.status).toBe(422)
    expect(plain.body.error.fields).toEqual([{ path: 'link', message: 'must be a public https URL' }])
    const both = await send({ phoneNumber: '+50212345678', type: 'image', mediaId: id, link: 'https://x.gt/a.jpg' })
    expect(both.status).toBe(422)
    expect(both.body.error.fields).toEqual([
      { path: 'mediaId', message: 'give either mediaId or link for image messages' },
    ])
    expect(ctx.meta.requests.length).toBe(requestsBefore)
  })

  it('answers 502 META_API_ERROR when Meta refuses the upload, storing no message; a later send uploads it', async () => {
    const id = await uploaded(randomBytes(3000), 'image/png', 'plano.png')
    const messagesBefore = await messageCount()
    const acceptedBefore = ctx.meta.accepted.length
    ctx.meta.failNext(META_ERRORS.mediaUploadError('Unsupported Image mime type image/png.'))
    const res = await send({ phoneNumber: '+50212345678', type: 'image', mediaId: id })
    expect(res.status).toBe(502)
    expect(res.body.error).toMatchObject({
      code: 'META_API_ERROR',
      message: '(#131053) Media upload error',
      meta: { code: 131053 },
    })
    expect(ctx.meta.accepted.length).toBe(acceptedBefore)
    expect(await messageCount()).toBe(messagesBefore)
    expect(await mediaRow(id)).toMatchObject({ status: 'ready', metaMediaId: null })

    const later = await send({ phoneNumber: '+50212345678', type: 'image', mediaId: id })
    expect(later.status).toBe(200)
    expect(ctx.meta.accepted.at(-1)!.request).toMatchObject({ image: { id: [...ctx.meta.uploads.keys()].at(-1) } })
  })
})

describe('a customer’s file (inbound webhook)', () => {
  const conversationIdOf = async (phoneNumber: string) =>
    (await ctx.t.app.database.prisma.conversation.findFirst({ where: { phoneNumber } }))!.id

  it('fetches an image in the background and shows it ready, serving exactly its bytes', async () => {
    const jpeg = randomBytes(700 * KB + 3)
    const metaId = ctx.meta.addInboundMedia(jpeg, 'image/jpeg')
    const { message, mediaId } = await receive('50255550010', {
      type: 'image',
      image: { ...ctx.meta.inboundMediaWebhookFields(metaId), caption: 'La unidad' },
    })
    await settled(ctx.t, mediaId)
    const rest = await restMessageOf(await conversationIdOf('50255550010'), message.id)
    expect(rest).toMatchObject({ message_type: 'image', content: 'La unidad', direction: 'inbound' })
    expect(rest.media).toEqual({
      media_id: mediaId,
      mime_type: 'image/jpeg',
      size: jpeg.length,
      sha256: sha256(jpeg),
      filename: null,
      caption: 'La unidad',
      url: `/api/whatsapp/media/${mediaId}`,
      status: 'ready',
      error: null,
      voice: false,
    })
    const served = await download(rest.media.url)
    expect(served.status).toBe(200)
    expect(served.headers.get('content-type')).toBe('image/jpeg')
    expect(served.bytes.equals(jpeg)).toBe(true)
    expect(downloadsOf(metaId)).toBe(1)
  })

  it('stores the file once when the same webhook arrives twice', async () => {
    const bytes = randomBytes(5000)
    const metaId = ctx.meta.addInboundMedia(bytes, 'image/png')
    const wamid = `wamid.TWICE_${randomBytes(4).toString('hex')}`
    const payload = inboundMessage('50255550011', {
      id: wamid,
      type: 'image',
      image: ctx.meta.inboundMediaWebhookFields(metaId),
    })
    expect((await postWebhook(ctx.t, payload)).status).toBe(200)
    expect((await postWebhook(ctx.t, payload)).status).toBe(200)
    await ctx.t.app.webhooks.drained()
    const messages = await ctx.t.app.database.prisma.message.findMany({ where: { wamid } })
    expect(messages).toHaveLength(1)
    const row = await settled(ctx.t, messages[0].mediaId!)
    expect(row).toMatchObject({ status: 'ready', sha256: sha256(bytes), size: 5000 })
    expect(await ctx.t.app.database.prisma.media.count({ where: { metaMediaId: metaId } })).toBe(1)
    expect(downloadsOf(metaId)).toBe(1)
  })

  it('marks a voice note as voice, keeping its codecs', async () => {
    const ogg = randomBytes(30 * KB)
    const metaId = ctx.meta.addInboundMedia(ogg, 'audio/ogg; codecs=opus')
    const { message, mediaId } = await receive('50255550012', {
      type: 'audio',
      audio: { ...ctx.meta.inboundMediaWebhookFields(metaId), voice: true },
    })
    await settled(ctx.t, mediaId)
    const rest = await restMessageOf(await conversationIdOf('50255550012'), message.id)
    expect(rest).toMatchObject({ message_type: 'audio', content: null })
    expect(rest.media).toEqual({
      media_id: mediaId,
      mime_type: 'audio/ogg; codecs=opus',
      size: ogg.length,
      sha256: sha256(ogg),
      filename: null,
      caption: null,
      url: `/api/whatsapp/media/${mediaId}`,
      status: 'ready',
      error: null,
      voice: true,
    })
    const served = await download(mediaId)
    expect(served.headers.get('content-type')).toBe('audio/ogg; codecs=opus')
    expect(served.bytes.equals(ogg)).toBe(true)
  })

  it('keeps a document’s file name (shown as its content when it has no caption)', async () => {
    const pdf = randomBytes(300 * KB)
    const metaId = ctx.meta.addInboundMedia(pdf, 'application/pdf')
    const { message, mediaId } = await receive('50255550013', {
      type: 'document',
      document: { ...ctx.meta.inboundMediaWebhookFields(metaId), filename: 'Cotización 7.pdf' },
    })
    await settled(ctx.t, mediaId)
    const rest = await restMessageOf(await conversationIdOf('50255550013'), message.id)
    expect(rest).toMatchObject({ message_type: 'document', content: 'Cotización 7.pdf' })
    expect(rest.media).toMatchObject({
      media_id: mediaId,
      mime_type: 'application/pdf',
      size: pdf.length,
      sha256: sha256(pdf),
      filename: 'Cotización 7.pdf',
      caption: null,
      status: 'ready',
      voice: false,
    })
    const served = await download(mediaId)
    expect(served.headers.get('content-disposition')).toBe(`inline; filename*=UTF-8''Cotizaci%C3%B3n%207.pdf`)
    expect(served.bytes.equals(pdf)).toBe(true)
  })

  it('tries a failing download again and ends ready with the right bytes', async () => {
    const jpeg = randomBytes(20 * KB)
    const metaId = ctx.meta.addInboundMedia(jpeg, 'image/jpeg')
    ctx.meta.failDownloads(metaId, 2, 503)
    const { mediaId } = await receive('50255550014', {
      type: 'image',
      image: ctx.meta.inboundMediaWebhookFields(metaId),
    })
    const row = await settled(ctx.t, mediaId)
    expect(row).toMatchObject({ status: 'ready', size: jpeg.length, sha256: sha256(jpeg), attempts: 3, error: null })
    // Each attempt looks the file up again (a fresh URL) and downloads it.
    expect(lookupsOf(metaId)).toBe(3)
    expect(downloadsOf(metaId)).toBe(3)
    expect((await download(mediaId)).bytes.equals(jpeg)).toBe(true)
  })

  it('never serves a file whose bytes do not match Meta’s sha256; it ends failed, the message kept', async () => {
    const jpeg = randomBytes(10 * KB)
    const wrong = sha256(Buffer.from('something else'))
    const metaId = ctx.meta.addInboundMedia(jpeg, 'image/jpeg', { sha256: wrong })
    const { message, mediaId } = await receive('50255550015', {
      type: 'image',
      image: { ...ctx.meta.inboundMediaWebhookFields(metaId), caption: 'Foto del medidor' },
    })
    const row = await settled(ctx.t, mediaId)
    expect(row.status).toBe('failed')
    expect(row.attempts).toBeGreaterThan(1)
    expect(downloadsOf(metaId)).toBe(row.attempts)
    expect(await ctx.t.app.mediaStore.stored(mediaId)).toBe(0)

    const rest = await restMessageOf(await conversationIdOf('50255550015'), message.id)
    expect(rest).toMatchObject({ message_type: 'image', content: 'Foto del medidor' })
    expect(rest.media).toMatchObject({
      media_id: mediaId,
      status: 'failed',
      error: expect.stringContaining('sha256'),
      size: null,
      sha256: null,
      caption: 'Foto del medidor',
    })
    const served = await download(mediaId)
    expect(served.status).toBe(404)
    expect(served.json.error.code).toBe('NOT_FOUND')
    expect(served.bytes.includes(jpeg.subarray(0, 64))).toBe(false)
  })

  it('answers the webhook without waiting for the download, and 409 MEDIA_NOT_READY while it runs', async () => {
    const jpeg = randomBytes(40 * KB)
    const metaId = ctx.meta.addInboundMedia(jpeg, 'image/jpeg')
    const stallMs = 2_000
    ctx.meta.stall(stallMs)
    let mediaId: string
    try {
      const started = Date.now()
      const received = await receive('50255550016', {
        type: 'image',
        image: ctx.meta.inboundMediaWebhookFields(metaId),
      })
      mediaId = received.mediaId
      expect(Date.now() - started).toBeLessThan(stallMs / 2)

      const early = await download(mediaId)
      expect(early.status).toBe(409)
      expect(early.headers.get('retry-after')).toBe('2')
      expect(early.json.error.code).toBe('MEDIA_NOT_READY')
      const rest = await restMessageOf(
        await conversationIdOf('50255550016'),
        (await ctx.t.app.database.prisma.message.findFirst({ where: { mediaId } }))!.id,
      )
      expect(rest.media).toMatchObject({ media_id: mediaId, status: 'downloading', size: null, sha256: null })
    } finally {
      ctx.meta.stall(0)
    }
    const row = await settled(ctx.t, mediaId)
    expect(row.status).toBe('ready')
    expect((await download(mediaId)).bytes.equals(jpeg)).toBe(true)
  })
})

describe('GraphQL Message.media', () => {
  const graphqlMedia = async (messageId: number) => {
    const res = await ctx.t.gql(MessageMediaDocument, { id: messageId })
    expect(res.body.errors).toBeUndefined()
    return res.body.data!.message.media
  }
  /** The REST `media` object in GraphQL's names. */
  const asGraphql = (m: any) => ({
    id: m.media_id,
    mimeType: m.mime_type,
    size: m.size,
    sha256: m.sha256,
    filename: m.filename,
    caption: m.caption,
    url: m.url,
    status: m.status.toUpperCase(),
    error: m.error,
    voice: m.voice,
  })

  it('shows the same file as REST: a sent document, a received voice note, a failed download', async () => {
    const pdf = randomBytes(2000)
    const id = await uploaded(pdf, 'application/pdf', 'x.pdf')
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', {
      phoneNumber: '+50212345678',
      type: 'document',
      mediaId: id,
      caption: 'Su factura',
      filename: 'Factura-1.pdf',
    })
    expect(sent.status).toBe(200)
    const sentMedia = sent.body.data.message.media
    expect(await graphqlMedia(sent.body.data.message.message_id)).toEqual(asGraphql(sentMedia))
    expect(await graphqlMedia(sent.body.data.message.message_id)).toEqual({
      id,
      mimeType: 'application/pdf',
      size: 2000,
      sha256: sha256(pdf),
      filename: 'Factura-1.pdf',
      caption: 'Su factura',
      url: `/api/whatsapp/media/${id}`,
      status: 'READY',
      error: null,
      voice: false,
    })

    const ogg = randomBytes(4000)
    const voiceId = ctx.meta.addInboundMedia(ogg, 'audio/ogg; codecs=opus')
    const voice = await receive('50255550020', {
      type: 'audio',
      audio: { ...ctx.meta.inboundMediaWebhookFields(voiceId), voice: true },
    })
    await settled(ctx.t, voice.mediaId)
    const voiceRest = await restMessageOf(voice.message.conversationId, voice.message.id)
    expect(await graphqlMedia(voice.message.id)).toEqual(asGraphql(voiceRest.media))
    expect(voiceRest.media).toMatchObject({ voice: true, status: 'ready', sha256: sha256(ogg) })

    const badId = ctx.meta.addInboundMedia(randomBytes(100), 'image/jpeg', { sha256: sha256(Buffer.from('x')) })
    const bad = await receive('50255550020', { type: 'image', image: ctx.meta.inboundMediaWebhookFields(badId) })
    await settled(ctx.t, bad.mediaId)
    const badRest = await restMessageOf(bad.message.conversationId, bad.message.id)
    expect(await graphqlMedia(bad.message.id)).toEqual(asGraphql(badRest.media))
    expect(badRest.media).toMatchObject({ status: 'failed', error: expect.stringContaining('sha256') })
  })

  it('is null for a message without a file', async () => {
    const sent = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: '+50212345678', content: 'hola' })
    expect(await graphqlMedia(sent.body.data.message.message_id)).toBeNull()
  })
})

describe('a 20 MB document', () => {
  // PGlite stores only a few MB a second: this one test may take longer than the default 30 s.
  it('uploads and downloads through HTTP, streamed, in many chunks', async () => {
    const size = 20 * MB
    const bytes = randomBytes(size)
    const digest = sha256(bytes)
    const id = await uploaded(bytes, 'application/pdf', 'manual.pdf')
    expect(await mediaRow(id)).toMatchObject({ size, sha256: digest })
    expect(await ctx.t.app.mediaStore.stored(id)).toBe(size)
    if (TEST_DATABASE.kind === 'postgres') {
      expect(await ctx.t.app.database.prisma.mediaChunk.count({ where: { mediaId: id } })).toBe(size / CHUNK)
    }

    const res = await fetch(`${ctx.t.url}/api/whatsapp/media/${id}`, { headers: auth() })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(size))
    const hash = createHash('sha256')
    let received = 0
    let pieces = 0
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(piece)
      received += piece.length
      pieces++
    }
    expect(received).toBe(size)
    expect(hash.digest('hex')).toBe(digest)
    expect(pieces).toBeGreaterThan(1)

    const tail = await download(id, { range: `bytes=${size - CHUNK - 1}-` })
    expect(tail.status).toBe(206)
    expect(tail.bytes.equals(bytes.subarray(size - CHUNK - 1))).toBe(true)
  }, 120_000)
})

describe.skipIf(TEST_DATABASE.kind !== 'postgres')('two instances on one PostgreSQL database (PostgreSQL only)', () => {
  const b = useTestApp({ meta: () => ctx.meta, database: () => ctx.t.databaseUrl, env })

  it('serves a file uploaded on one instance from the other, ranges included', async () => {
    const bytes = randomBytes(CHUNK * 2 + 17)
    const id = await uploaded(bytes, 'application/pdf', 'a.pdf')
    const whole = await download(id, {}, { app: b.t })
    expect(whole.status).toBe(200)
    expect(whole.bytes.equals(bytes)).toBe(true)
    const part = await download(id, { range: `bytes=${CHUNK - 3}-${CHUNK + 3}` }, { app: b.t })
    expect(part.status).toBe(206)
    expect(part.bytes.equals(bytes.subarray(CHUNK - 3, CHUNK + 4))).toBe(true)

    const back = await uploaded(bytes.subarray(0, 999), 'text/plain', 'b.txt', b.t)
    expect((await download(back)).bytes.equals(bytes.subarray(0, 999))).toBe(true)
  })

  it('serves a customer’s file fetched by one instance from the other, fetched once', async () => {
    for (const [receiver, server] of [
      [ctx.t, b.t],
      [b.t, ctx.t],
    ]) {
      const jpeg = randomBytes(300 * KB)
      const metaId = ctx.meta.addInboundMedia(jpeg, 'image/jpeg')
      const { mediaId } = await receive(
        '50255550030',
        { type: 'image', image: ctx.meta.inboundMediaWebhookFields(metaId) },
        receiver,
      )
      const row = await settled(receiver, mediaId)
      expect(row).toMatchObject({ status: 'ready', sha256: sha256(jpeg) })
      const served = await download(mediaId, {}, { app: server })
      expect(served.status).toBe(200)
      expect(served.bytes.equals(jpeg)).toBe(true)
      expect(downloadsOf(metaId)).toBe(1)
    }
  })
})
