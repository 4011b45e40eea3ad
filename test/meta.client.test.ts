import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { MetaGraphClient } from '../src/meta/meta.client.js'
import { MetaApiError, MetaUnreachableError } from '../src/meta/meta.errors.js'
import { META_ERRORS, metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'

let client: MetaGraphClient

const ctx = useTestApp({ meta: { apiVersion: 'v23.0', maxPageSize: 2 }, app: false })
beforeAll(async () => {
  client = new MetaGraphClient({
    graphApiUrl: ctx.meta.url,
    apiVersion: 'v23.0',
    accessToken: ctx.meta.accessToken,
    phoneNumberId: ctx.meta.phoneNumberId,
    businessAccountId: ctx.meta.businessAccountId,
    timeoutMs: 300,
  })
})
beforeEach(() => ctx.meta.stall(0))

describe('MetaGraphClient', () => {
  it('posts text messages to the pinned version and phone number with the bearer token', async () => {
    const { wamid } = await client.sendText('50212345678', 'Hola')
    expect(wamid).toBe(ctx.meta.accepted.at(-1)!.wamid)
    expect(ctx.meta.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: `/v23.0/${ctx.meta.phoneNumberId}/messages`,
      authorization: `Bearer ${ctx.meta.accessToken}`,
    })
  })

  it('omits empty template components, as Meta expects for templates without parameters', async () => {
    await client.sendTemplate('50212345678', { name: 'hello_world', language: 'en_US', components: [] })
    expect(ctx.meta.requests.at(-1)!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '50212345678',
      type: 'template',
      template: { name: 'hello_world', language: { code: 'en_US' } },
    })
  })

  it('follows the paging cursor to the last page, never the `next` host', async () => {
    ctx.meta.templates = Array.from({ length: 5 }, (_, i) => metaTemplate({ name: `t${i}`, id: String(i) }))
    const before = ctx.meta.requests.length
    const templates = await client.listTemplates()
    expect(templates.map((t) => t.name)).toEqual(['t0', 't1', 't2', 't3', 't4'])
    expect(templates[0]).toEqual({
      metaId: '0',
      name: 't0',
      language: 'es',
      status: 'APPROVED',
      category: 'UTILITY',
      parameterFormat: 'POSITIONAL',
      components: ctx.meta.templates[0].components,
    })
    // next points at graph.facebook.com; every request still went to the configured base URL
    expect(ctx.meta.requests.length - before).toBe(3)
  })

  it("turns Meta's error body into a MetaApiError with code, details and fbtrace_id", async () => {
    const fixture = META_ERRORS.paramCountMismatch()
    ctx.meta.failNext(fixture)
    const err = await client.sendText('50212345678', 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MetaApiError)
    expect(err).toMatchObject({
      code: 'META_API_ERROR',
      metaCode: 132000,
      status: 400,
      metaDetails: fixture.body.error.error_data!.details,
      fbtraceId: fixture.body.error.fbtrace_id,
    })
  })

  it('reports an invalid token as Meta does (190, HTTP 401)', async () => {
    const wrong = new MetaGraphClient({
      graphApiUrl: ctx.meta.url,
      apiVersion: 'v23.0',
      accessToken: 'expired',
      phoneNumberId: ctx.meta.phoneNumberId,
      businessAccountId: ctx.meta.businessAccountId,
      timeoutMs: 1000,
    })
    await expect(wrong.sendText('50212345678', 'x')).rejects.toMatchObject({ metaCode: 190, status: 401 })
  })

  it('gives up after the configured timeout with MetaUnreachableError', async () => {
    ctx.meta.stall(1000)
    const started = Date.now()
    const err = await client.sendText('50212345678', 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MetaUnreachableError)
    expect((err as Error).message).toMatch(/did not answer in time/)
    expect(Date.now() - started).toBeLessThan(900)
  })

  it('treats a non-JSON answer (a proxy error page) as MetaUnreachableError', async () => {
    ctx.meta.answerNextWith(502, '<html>Bad Gateway</html>')
    const err = await client.sendText('50212345678', 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MetaUnreachableError)
    expect(err).toMatchObject({ message: 'Meta answered HTTP 502 without an error body', notSent: false })
  })

  it('treats a 200 without a JSON object as unreachable, never as not sent (Meta may have taken it)', async () => {
    for (const body of ['OK', 'null', '']) {
      ctx.meta.answerNextWith(200, body)
      const err = await client.sendText('50212345678', 'x').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MetaUnreachableError)
      expect(err).toMatchObject({ message: 'Meta answered HTTP 200 without a JSON object', notSent: false })
    }
  })

  it('never takes an empty answer for an empty template list (that would mark every template removed)', async () => {
    ctx.meta.answerNextWith(200, '')
    await expect(client.listTemplates()).rejects.toBeInstanceOf(MetaUnreachableError)
  })

  it('says a refused connection never reached Meta, so sending again cannot double it', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const closed = new MetaGraphClient({
      graphApiUrl: `http://127.0.0.1:${port}`,
      apiVersion: 'v23.0',
      accessToken: ctx.meta.accessToken,
      phoneNumberId: ctx.meta.phoneNumberId,
      businessAccountId: ctx.meta.businessAccountId,
      timeoutMs: 1000,
    })
    const err = await closed.sendText('50212345678', 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MetaUnreachableError)
    expect(err).toMatchObject({ notSent: true, message: "Meta's Graph API could not be reached (ECONNREFUSED)" })
  })

  it('tells the caller once the request is written out, long before Meta answers', async () => {
    const patient = new MetaGraphClient({
      graphApiUrl: ctx.meta.url,
      apiVersion: 'v23.0',
      accessToken: ctx.meta.accessToken,
      phoneNumberId: ctx.meta.phoneNumberId,
      businessAccountId: ctx.meta.businessAccountId,
      timeoutMs: 5_000,
    })
    ctx.meta.stall(1_000) // Meta holds its answer (headers included) for a second
    const started = performance.now()
    let answered = false
    let writtenAfter = Infinity
    const sent = patient
      .sendText('50212345678', 'x', { messageId: 7, onWritten: () => (writtenAfter = performance.now() - started) })
      .then(() => (answered = true))
    await vi.waitFor(() => expect(writtenAfter).toBeLessThan(Infinity), { timeout: 900 })
    expect(answered).toBe(false)
    expect(writtenAfter).toBeLessThan(900) // not when the answer came
    await sent
    expect(ctx.meta.requests.at(-1)!.body).toMatchObject({ biz_opaque_callback_data: 'wa-gateway:message:7' })
  })

  it('uploads a file as a streamed multipart body with its type, and names it by Meta’s id', async () => {
    const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(300_000)])
    const id = await client.uploadMedia({
      stream: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
      size: bytes.length,
      mimeType: 'application/pdf',
      filename: 'factura "1".pdf',
    })
    expect(ctx.meta.uploads.get(id)).toMatchObject({
      mimeType: 'application/pdf',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      filename: 'factura _1_.pdf',
    })
    expect(ctx.meta.requests.at(-1)).toMatchObject({ method: 'POST', path: `/v23.0/${ctx.meta.phoneNumberId}/media` })
  })

  it('looks a customer’s file up and downloads it with the token; an expired URL is an error, not a file', async () => {
    const bytes = randomBytes(50_000)
    const id = ctx.meta.addInboundMedia(bytes, 'image/jpeg')
    const info = await client.mediaInfo(id)
    expect(info).toEqual({
      url: expect.stringContaining(ctx.meta.url),
      mimeType: 'image/jpeg',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
    })
    const chunks: Buffer[] = []
    for await (const chunk of await client.downloadMedia(info.url)) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true)

    ctx.meta.failDownloads(id, 1, 404)
    await expect(client.downloadMedia(info.url)).rejects.toBeInstanceOf(MetaUnreachableError)
    await expect(client.mediaInfo('404404404')).rejects.toMatchObject({ metaCode: 100 })
  })

  it('never sends the access token to a plain-http host other than the Graph API’s', async () => {
    const before = ctx.meta.requests.length
    await expect(client.downloadMedia('http://127.0.0.2:9/file')).rejects.toThrow(/Refusing to send the access token/)
    expect(ctx.meta.requests.length).toBe(before)
  })

  it('marks a message read, with the typing indicator when asked', async () => {
    await client.markRead('wamid.IN1', { typing: true })
    await client.markRead('wamid.IN2', { typing: false })
    expect(ctx.meta.readReceipts.slice(-2)).toMatchObject([
      { messageId: 'wamid.IN1', typing: true },
      { messageId: 'wamid.IN2', typing: false },
    ])
    expect(ctx.meta.requests.at(-1)!.body).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.IN2',
    })
  })
})
