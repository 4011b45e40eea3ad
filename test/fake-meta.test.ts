/**
 * The fake Meta itself, driven directly with fetch: media uploads, look-ups, downloads, inbound
 * media, every kind of send and read receipts, accepted and refused as Meta does.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generatedChunks } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ app: false })

const KB = 1024
const MB = 1024 * KB
const TO = '50255551234'
const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex')

const graph = (method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}) =>
  fetch(`${ctx.meta.url}/${ctx.meta.apiVersion}/${path}`, {
    method,
    body: init.body,
    headers: { authorization: `Bearer ${ctx.meta.accessToken}`, ...init.headers },
  })

/** A multipart upload; `fields` overrides or removes (undefined) the usual ones. */
const upload = (file: Blob | undefined, fields: Record<string, string | undefined> = {}, filename = 'file.bin') => {
  const form = new FormData()
  const all = { messaging_product: 'whatsapp', type: file?.type, ...fields }
  for (const [name, value] of Object.entries(all)) if (value !== undefined) form.append(name, value)
  if (file) form.append('file', file, filename)
  return graph('POST', `${ctx.meta.phoneNumberId}/media`, { body: form })
}
const bytesOf = (size: number, fill = 7) => Buffer.alloc(size, fill)
const uploadId = async (bytes: Buffer<ArrayBuffer>, type: string) => {
  const res = await upload(new Blob([bytes], { type }))
  expect(res.status).toBe(200)
  return ((await res.json()) as { id: string }).id
}

const lookup = async (id: string) => (await graph('GET', id)).json() as Promise<Record<string, string>>
const download = (url: string, token: string | null = ctx.meta.accessToken) =>
  fetch(url, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })

/** Meta's error body with this code, recorded in `malformed` when it is a refusal of a malformed request. */
async function expectMetaError(res: Response, status: number, code: number, details?: RegExp) {
  expect(res.status).toBe(status)
  const body = (await res.json()) as { error: { code: number; message: string; error_data?: { details: string } } }
  expect(body.error.code).toBe(code)
  if (code === 131053) expect(body.error.message).toBe('(#131053) Media upload error')
  if (code === 131009) expect(body.error.message).toBe('(#131009) Parameter value is not valid')
  if (details) expect(body.error.error_data?.details).toMatch(details)
  return body
}

describe('media upload', () => {
  it('accepts a file, answers a numeric id and records what arrived', async () => {
    const bytes = Buffer.from('\xff\xd8\xff fake jpeg', 'latin1')
    const res = await upload(new Blob([bytes], { type: 'image/jpeg' }), {}, 'foto.jpg')
    expect(res.status).toBe(200)
    const { id } = (await res.json()) as { id: string }
    expect(id).toMatch(/^\d{16}$/)
    expect(ctx.meta.uploads.get(id)).toEqual({
      mimeType: 'image/jpeg',
      size: bytes.length,
      sha256: sha256(bytes),
      filename: 'foto.jpg',
      bytes,
      at: expect.any(Number),
    })
    const recorded = ctx.meta.requests.at(-1)!
    expect(recorded.path).toBe(`/${ctx.meta.apiVersion}/${ctx.meta.phoneNumberId}/media`)
    expect(recorded.body).toEqual({
      messaging_product: 'whatsapp',
      type: 'image/jpeg',
      file: { filename: 'foto.jpg', mimeType: 'image/jpeg', size: bytes.length, sha256: sha256(bytes) },
    })
  })

  it('accepts a voice note as audio/ogg; codecs=opus, keeping the parameter', async () => {
    const id = await uploadId(bytesOf(2 * KB), 'audio/ogg; codecs=opus')
    expect(ctx.meta.uploads.get(id)!.mimeType).toBe('audio/ogg; codecs=opus')
    expect((await lookup(id)).mime_type).toBe('audio/ogg; codecs=opus')
  })

  it('refuses a type Meta does not take with 131053', async () => {
    const before = ctx.meta.malformed.length
    await expectMetaError(await upload(new Blob([bytesOf(100)], { type: 'audio/opus' })), 400, 131053, /audio\/opus/)
    await expectMetaError(await upload(new Blob([bytesOf(100)], { type: 'image/gif' })), 400, 131053, /image\/gif/)
    expect(ctx.meta.malformed.length).toBe(before + 2)
  })

  it('refuses a file over its kind’s limit with 131053 (a sticker over 500 KB), and takes one at the limit', async () => {
    await uploadId(bytesOf(500 * KB), 'image/webp')
    const body = await expectMetaError(
      await upload(new Blob([bytesOf(500 * KB + 1)], { type: 'image/webp' })),
      400,
      131053,
      /sticker/,
    )
    expect(body.error.error_data!.details).toContain(String(500 * KB + 1))
  })

  it('counts and hashes a large upload as it streams, without keeping its bytes', async () => {
    const bytes = bytesOf(21 * MB, 3)
    const id = await uploadId(bytes, 'application/pdf')
    const record = ctx.meta.uploads.get(id)!
    expect(record).toMatchObject({ size: bytes.length, sha256: sha256(bytes), mimeType: 'application/pdf' })
    expect(record.bytes).toBeUndefined()
    expect((await lookup(id)).file_size).toBe(String(21 * MB))
  })

  it('refuses an upload without messaging_product, file or type, or one that is not multipart, with 100', async () => {
    const file = new Blob([bytesOf(10)], { type: 'image/png' })
    await expectMetaError(await upload(file, { messaging_product: undefined }), 400, 100, /messaging_product/)
    await expectMetaError(await upload(undefined, { type: 'image/png' }), 400, 100, /file/)
    await expectMetaError(await upload(file, { type: undefined }), 400, 100, /type/)
    const json = await graph('POST', `${ctx.meta.phoneNumberId}/media`, {
      body: JSON.stringify({ messaging_product: 'whatsapp', type: 'image/png' }),
      headers: { 'content-type': 'application/json' },
    })
    await expectMetaError(json, 400, 100, /multipart/)
  })

  it('requires the bearer token', async () => {
    const form = new FormData()
    form.append('messaging_product', 'whatsapp')
    form.append('file', new Blob([bytesOf(10)], { type: 'image/png' }))
    const res = await fetch(`${ctx.meta.url}/${ctx.meta.apiVersion}/${ctx.meta.phoneNumberId}/media`, {
      method: 'POST',
      body: form,
    })
    await expectMetaError(res, 401, 190)
  })
})

describe('media look-up, download and delete', () => {
  it('looks an upload up as Meta does, and downloads it with the bearer token', async () => {
    const bytes = Buffer.from('%PDF-1.4 a small pdf')
    const id = await uploadId(bytes, 'application/pdf')
    const info = await lookup(id)
    expect(info).toEqual({
      messaging_product: 'whatsapp',
      url: expect.stringMatching(/\/whatsapp_business\/attachments\/\?mid=\d+&ext=\d+&hash=/),
      mime_type: 'application/pdf',
      sha256: sha256(bytes),
      file_size: String(bytes.length),
      id,
    })
    expect(info.url.startsWith(ctx.meta.url)).toBe(true)

    const res = await download(info.url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.headers.get('content-length')).toBe(String(bytes.length))
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes)
  })

  it('answers a download without the token, or with a wrong one, with a 401 HTML page, not the file', async () => {
    const id = await uploadId(bytesOf(64), 'image/png')
    const { url } = await lookup(id)
    for (const token of [null, 'EAAGwrong']) {
      const res = await download(url, token)
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await res.text()).toMatch(/<html/)
    }
  })

  it('expires the download URL after mediaUrlTtlMs; a fresh look-up gives a working one', async () => {
    const id = await uploadId(bytesOf(64), 'image/png')
    ctx.meta.mediaUrlTtlMs = 30
    try {
      const { url } = await lookup(id)
      await new Promise((resolve) => setTimeout(resolve, 60))
      expect((await download(url)).status).toBe(404)
    } finally {
      ctx.meta.mediaUrlTtlMs = 5 * 60_000
    }
    expect((await download((await lookup(id)).url)).status).toBe(200)
  })

  it('fails the next downloads of a media id as told', async () => {
    const id = await uploadId(bytesOf(64), 'image/png')
    ctx.meta.failDownloads(id, 2, 503)
    const { url } = await lookup(id)
    expect((await download(url)).status).toBe(503)
    expect((await download(url)).status).toBe(503)
    expect((await download(url)).status).toBe(200)
  })

  it('deletes media: the look-up, download and sends then fail as for an unknown id', async () => {
    const id = await uploadId(bytesOf(64), 'image/png')
    const { url } = await lookup(id)
    const res = await graph('DELETE', id)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ success: true })
    expect(ctx.meta.deletedMedia).toContain(id)
    expect(ctx.meta.uploads.has(id)).toBe(true) // the record of what was uploaded stays

    const malformed = ctx.meta.malformed.length
    const body = await expectMetaError(await graph('GET', id), 400, 100)
    expect(body.error).toMatchObject({ type: 'GraphMethodException', error_subcode: 33 })
    expect(body.error.message).toContain(`'${id}'`)
    expect(ctx.meta.malformed.length).toBe(malformed) // an unknown id is not a malformed request
    expect((await download(url)).status).toBe(404)
    await expectMetaError(await graph('DELETE', id), 400, 100)
    await expectMetaError(await sendMessage({ type: 'image', image: { id } }), 400, 100, /media id/)
  })
})

describe('inbound media', () => {
  it('registers a file: webhook fields carry base64 sha256, the look-up hex, the download the bytes', async () => {
    const bytes = Buffer.from('inbound jpeg bytes')
    const id = ctx.meta.addInboundMedia(bytes, 'image/jpeg')
    const digest = createHash('sha256').update(bytes).digest()
    expect(ctx.meta.inboundMediaWebhookFields(id)).toEqual({
      id,
      mime_type: 'image/jpeg',
      sha256: digest.toString('base64'),
    })
    const info = await lookup(id)
    expect(info).toMatchObject({ id, sha256: digest.toString('hex'), file_size: String(bytes.length) })
    expect(Buffer.from(await (await download(info.url)).arrayBuffer())).toEqual(bytes)
  })

  it('can claim another sha256 than the bytes have, to test a mismatch', async () => {
    const claimed = sha256(Buffer.from('something else'))
    const bytes = Buffer.from('the real bytes')
    const id = ctx.meta.addInboundMedia(bytes, 'audio/ogg; codecs=opus', { sha256: claimed })
    const info = await lookup(id)
    expect(info.sha256).toBe(claimed)
    expect(ctx.meta.inboundMediaWebhookFields(id).sha256).toBe(Buffer.from(claimed, 'hex').toString('base64'))
    expect(sha256(Buffer.from(await (await download(info.url)).arrayBuffer()))).not.toBe(claimed)
  })

  it('generates a large file on the fly: a 30 MB download streams with the sha256 the look-up reports', async () => {
    const size = 30 * MB + 123
    const id = ctx.meta.addInboundMedia({ size, seed: 42 }, 'application/pdf')
    const info = await lookup(id)
    expect(info.file_size).toBe(String(size))

    const res = await download(info.url)
    expect(res.headers.get('content-length')).toBe(String(size))
    const hash = createHash('sha256')
    let received = 0
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk)
      received += chunk.length
    }
    expect(received).toBe(size)
    expect(hash.digest('hex')).toBe(info.sha256)

    // Deterministic: the same seed gives the same bytes, another seed others.
    expect((await lookup(ctx.meta.addInboundMedia({ size, seed: 42 }, 'application/pdf'))).sha256).toBe(info.sha256)
    expect((await lookup(ctx.meta.addInboundMedia({ size, seed: 43 }, 'application/pdf'))).sha256).not.toBe(info.sha256)
    const expected = createHash('sha256')
    for (const chunk of generatedChunks({ size, seed: 42 })) expected.update(chunk)
    expect(expected.digest('hex')).toBe(info.sha256)
  })
})

const sendMessage = (message: Record<string, unknown>) =>
  graph('POST', `${ctx.meta.phoneNumberId}/messages`, {
    body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', to: TO, ...message }),
    headers: { 'content-type': 'application/json' },
  })

async function expectAccepted(message: Record<string, unknown>) {
  const res = await sendMessage(message)
  const body = (await res.json()) as { messages: { id: string }[] }
  expect(res.status, JSON.stringify(body)).toBe(200)
  expect(body).toEqual({
    messaging_product: 'whatsapp',
    contacts: [{ input: TO, wa_id: TO }],
    messages: [{ id: expect.stringMatching(/^wamid\./) }],
  })
  expect(ctx.meta.accepted.at(-1)).toMatchObject({ wamid: body.messages[0].id, request: message })
}

const buttons = (...titles: string[]) => ({
  buttons: titles.map((title, n) => ({ type: 'reply', reply: { id: `b${n}`, title } })),
})
const interactive = (type: string, action: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'interactive',
  interactive: { type, body: { text: '¿Confirma su cita del lunes 10:00?' }, action, ...extra },
})
const rows = (n: number, prefix = 'r') =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, title: `10:0${i}`, description: 'Técnico Luis' }))

describe('sends', () => {
  it('takes media of every kind by uploaded id or https link, with caption and filename where allowed', async () => {
    const image = await uploadId(bytesOf(100), 'image/jpeg')
    const inbound = ctx.meta.addInboundMedia(bytesOf(100), 'video/mp4')
    await expectAccepted({ type: 'image', image: { id: image, caption: 'Su técnico' } })
    await expectAccepted({ type: 'video', video: { id: inbound, caption: 'x'.repeat(1024) } })
    await expectAccepted({ type: 'audio', audio: { link: 'https://cdn.example.com/a.ogg' } })
    await expectAccepted({
      type: 'document',
      document: { link: 'https://cdn.example.com/orden.pdf', caption: 'Orden', filename: 'orden.pdf' },
    })
    await expectAccepted({ type: 'sticker', sticker: { id: image } })
  })

  it('refuses media without exactly one of id and link, an unknown id, a non-https link, or fields the kind lacks', async () => {
    const id = await uploadId(bytesOf(100), 'image/png')
    const link = 'https://cdn.example.com/a.png'
    await expectMetaError(await sendMessage({ type: 'image', image: { id, link } }), 400, 100, /exactly one/)
    await expectMetaError(await sendMessage({ type: 'video', video: {} }), 400, 100, /exactly one/)
    await expectMetaError(await sendMessage({ type: 'image', image: { id: '1234567890123456' } }), 400, 100, /media id/)
    await expectMetaError(
      await sendMessage({ type: 'document', document: { link: 'http://x.gt/a.pdf' } }),
      400,
      100,
      /https/,
    )
    await expectMetaError(await sendMessage({ type: 'audio', audio: { link, caption: 'no' } }), 400, 100, /caption/)
    await expectMetaError(await sendMessage({ type: 'sticker', sticker: { id, caption: 'no' } }), 400, 100, /caption/)
    await expectMetaError(await sendMessage({ type: 'image', image: { id, filename: 'a.png' } }), 400, 100, /filename/)
    await expectMetaError(await sendMessage({ type: 'image', image: { id, caption: 'x'.repeat(1025) } }), 400, 131009)
    expect(ctx.meta.malformed.at(-1)!.problem).toMatch(/caption/)
  })

  it('takes a location and refuses coordinates out of range', async () => {
    await expectAccepted({
      type: 'location',
      location: { latitude: 14.6349, longitude: -90.5069, name: 'Oficina', address: 'Zona 10' },
    })
    await expectAccepted({ type: 'location', location: { latitude: -90, longitude: 180 } })
    await expectMetaError(await sendMessage({ type: 'location', location: { latitude: 91, longitude: 0 } }), 400, 100)
    await expectMetaError(await sendMessage({ type: 'location', location: { latitude: 0, longitude: -181 } }), 400, 100)
    await expectMetaError(
      await sendMessage({ type: 'location', location: { latitude: '14.6', longitude: 0 } }),
      400,
      100,
    )
  })

  it('takes reply buttons within the limits and refuses them outside with 131009', async () => {
    await expectAccepted(
      interactive('button', buttons('Confirmar', 'Reprogramar', 'x'.repeat(20)), {
        header: { type: 'text', text: 'Cita' },
        footer: { text: 'Ambiotec' },
      }),
    )
    await expectMetaError(await sendMessage(interactive('button', buttons('a', 'b', 'c', 'd'))), 400, 131009)
    await expectMetaError(await sendMessage(interactive('button', buttons())), 400, 131009)
    await expectMetaError(await sendMessage(interactive('button', buttons('x'.repeat(21)))), 400, 131009)
    await expectMetaError(await sendMessage(interactive('button', buttons('Sí', 'Sí'))), 400, 131009, /unique/)
    const sameIds = { buttons: [1, 2].map((n) => ({ type: 'reply', reply: { id: 'same', title: `t${n}` } })) }
    await expectMetaError(await sendMessage(interactive('button', sameIds)), 400, 131009, /unique/)
    const longBody = interactive('button', buttons('a'))
    longBody.interactive.body.text = 'x'.repeat(1025)
    await expectMetaError(await sendMessage(longBody), 400, 131009)
    await expectMetaError(
      await sendMessage(interactive('button', buttons('a'), { header: { type: 'text', text: 'x'.repeat(61) } })),
      400,
      131009,
    )
    await expectMetaError(
      await sendMessage({ type: 'interactive', interactive: { type: 'button', action: buttons('a') } }),
      400,
      100,
      /body/,
    )
  })

  it('takes lists within the limits and refuses them outside with 131009', async () => {
    const list = (sections: unknown[], button = 'Ver horarios') => interactive('list', { button, sections })
    await expectAccepted(list([{ rows: rows(10) }]))
    await expectAccepted(
      list([
        { title: 'Lunes', rows: rows(4, 'l') },
        { title: 'x'.repeat(24), rows: rows(6, 'm') },
      ]),
    )
    await expectMetaError(
      await sendMessage(
        list([
          { title: 'A', rows: rows(6, 'a') },
          { title: 'B', rows: rows(5, 'b') },
        ]),
      ),
      400,
      131009,
      /10 rows/,
    )
    await expectMetaError(
      await sendMessage(list([{ rows: rows(2, 'a') }, { title: 'B', rows: rows(2, 'b') }])),
      400,
      100,
      /title/,
    )
    await expectMetaError(await sendMessage(list([{ rows: rows(1) }], 'x'.repeat(21))), 400, 131009)
    await expectMetaError(await sendMessage(list([{ title: 'x'.repeat(25), rows: rows(1) }])), 400, 131009)
    await expectMetaError(await sendMessage(list([{ rows: [{ id: 'a', title: 'x'.repeat(25) }] }])), 400, 131009)
    await expectMetaError(
      await sendMessage(list([{ rows: [{ id: 'a', title: 'a', description: 'x'.repeat(73) }] }])),
      400,
      131009,
    )
    await expectMetaError(await sendMessage(list([{ rows: [{ id: 'x'.repeat(201), title: 'a' }] }])), 400, 131009)
    await expectMetaError(
      await sendMessage(
        list([
          { title: 'A', rows: rows(1) },
          { title: 'B', rows: rows(1) },
        ]),
      ),
      400,
      131009,
      /unique/,
    )
    await expectMetaError(
      await sendMessage(list(Array.from({ length: 11 }, (_, i) => ({ title: `s${i}`, rows: rows(1, `s${i}`) })))),
      400,
      131009,
    )
    await expectMetaError(await sendMessage(list([])), 400, 131009)
  })

  it('takes reactions, the empty emoji removing one, and refuses a non-wamid target', async () => {
    await expectAccepted({ type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji: '👍' } })
    await expectAccepted({ type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji: '👨‍👩‍👧‍👦' } })
    await expectAccepted({ type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji: '' } })
    await expectMetaError(
      await sendMessage({ type: 'reaction', reaction: { message_id: 'IN1', emoji: '👍' } }),
      400,
      100,
    )
    await expectMetaError(await sendMessage({ type: 'reaction', reaction: { message_id: 'wamid.IN1' } }), 400, 100)
    const long = { type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji: 'not an emoji at all' } }
    await expectMetaError(await sendMessage(long), 400, 131009)
  })

  it('takes a quoted reply (context) and the callback data on any send; refuses a context without a wamid', async () => {
    await expectAccepted({
      type: 'text',
      text: { preview_url: false, body: 'Sí, a las 10' },
      context: { message_id: 'wamid.IN1' },
      biz_opaque_callback_data: 'sr-1042',
    })
    await expectAccepted({
      type: 'location',
      location: { latitude: 1, longitude: 2 },
      context: { message_id: 'wamid.IN2' },
    })
    const bad = { type: 'text', text: { body: 'x' }, context: { message_id: 'IN1' } }
    await expectMetaError(await sendMessage(bad), 400, 100, /context/)
    await expectMetaError(await sendMessage({ type: 'text', text: { body: 'x' }, context: 'wamid.IN1' }), 400, 100)
  })

  it('refuses a type Meta does not have', async () => {
    await expectMetaError(await sendMessage({ type: 'carousel', carousel: {} }), 400, 100, /not supported/)
  })
})

describe('read receipts', () => {
  const read = (body: Record<string, unknown>) =>
    graph('POST', `${ctx.meta.phoneNumberId}/messages`, {
      body: JSON.stringify({ messaging_product: 'whatsapp', status: 'read', ...body }),
      headers: { 'content-type': 'application/json' },
    })

  it('marks a message read, with or without the typing indicator, and records it apart from sends', async () => {
    const sends = ctx.meta.accepted.length
    for (const body of [{ message_id: 'wamid.R1' }, { message_id: 'wamid.R2', typing_indicator: { type: 'text' } }]) {
      const res = await read(body)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ success: true })
    }
    expect(ctx.meta.readReceipts.slice(-2)).toEqual([
      { messageId: 'wamid.R1', typing: false, at: expect.any(Number) },
      { messageId: 'wamid.R2', typing: true, at: expect.any(Number) },
    ])
    expect(ctx.meta.accepted.length).toBe(sends)
  })

  it('refuses a missing or invalid message_id, another status or typing indicator type, with 100', async () => {
    const receipts = ctx.meta.readReceipts.length
    await expectMetaError(await read({}), 400, 100, /message_id/)
    await expectMetaError(await read({ message_id: 'R1' }), 400, 100, /message_id/)
    await expectMetaError(await read({ message_id: 'wamid.R1', status: 'delivered' }), 400, 100, /status/)
    await expectMetaError(
      await read({ message_id: 'wamid.R1', typing_indicator: { type: 'audio' } }),
      400,
      100,
      /typing/,
    )
    await expectMetaError(await read({ message_id: 'wamid.R1', typing_indicator: true }), 400, 100, /typing/)
    expect(ctx.meta.readReceipts.length).toBe(receipts)
  })
})
