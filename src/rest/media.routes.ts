import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import {
  MalformedRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors/errors.js'
import { etagOf, type MediaService } from '../media/media.service.js'
import { MAX_MEDIA_BYTES, MEDIA_KINDS, MEDIA_LIMITS, SUPPORTED_MIME_TYPES } from '../meta/meta.limits.js'
import { documented } from '../openapi/operation.js'
import { okSchema } from './rest.shapes.js'

/** Room for the multipart framing around the largest file. */
const MULTIPART_OVERHEAD = 64 * 1024

/** Types a browser shows in place; anything else is downloaded, never rendered from our origin. */
const INLINE = /^(image\/(jpeg|png|webp)|video\/(mp4|3gpp)|audio\/|application\/pdf$)/

/** A file name for an upload whose part says only application/octet-stream. */
const BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  mp4: 'video/mp4',
  '3gp': 'video/3gpp',
  aac: 'audio/aac',
  amr: 'audio/amr',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  pdf: 'application/pdf',
  txt: 'text/plain',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
}

const mimeTypeOf = (declared: string, filename: string) =>
  declared && declared !== 'application/octet-stream'
    ? declared
    : (BY_EXTENSION[filename.split('.').pop()?.toLowerCase() ?? ''] ?? declared)

const uploadAnswer = okSchema(
  z.object({
    media_id: z.string().describe('Send it with mediaId'),
    // Never null after an upload; typed as the stored record is.
    mime_type: z.string().nullable(),
    size: z.number().int().nullable().describe('Bytes'),
    sha256: z.string().nullable().describe('Hex SHA-256 of the bytes'),
  }),
)

const fileHeaders = {
  ETag: { description: 'The file’s sha256, quoted', schema: z.string() },
  'Content-Length': { description: 'Bytes in this answer', schema: z.number().int() },
  'Content-Disposition': {
    description: '`inline` for types a browser shows, else `attachment`; the file name',
    schema: z.string(),
  },
  'Accept-Ranges': { description: '`bytes`', schema: z.string() },
}

/**
 * `POST /media` (a multipart upload, field `file`) and `GET /media/:mediaId` (the bytes, with
 * Range). Both stream: a file never sits whole in memory.
 */
export const mediaRoutes: FastifyPluginAsync<{ media: MediaService }> = async (app: FastifyInstance, { media }) => {
  await app.register(multipart, {
    limits: { files: 1, fields: 10, fieldSize: 1024, parts: 12, fileSize: MAX_MEDIA_BYTES + 1 },
  })

  app.route(
    documented(
      {
        method: 'POST',
        url: '/media',
        operationId: 'uploadMedia',
        tag: 'Media',
        summary: 'Upload a file, to send it later by its media_id',
        description: `At most, by kind: ${MEDIA_KINDS.map((k) => `${k} ${MEDIA_LIMITS[k].maxBytes} bytes`).join(', ')}.`,
        multipart: {
          schema: z.object({
            // The types it may have are the encoding's (below); the service checks them and the size.
            file: z.file().describe('The file; its part’s Content-Type (or its name’s extension) says its type'),
          }),
          encoding: { file: { contentType: SUPPORTED_MIME_TYPES.join(', ') } },
        },
        answers: { 200: { description: 'Stored', json: uploadAnswer } },
        errors: ['MALFORMED_REQUEST', 'VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'],
      },
      async (request, reply) => {
        if (!request.isMultipart()) {
          throw new UnsupportedMediaTypeError('Send the file as multipart/form-data, in a field named "file"')
        }
        // Refused before a byte is stored when the client says how much is coming.
        const length = Number(request.headers['content-length'])
        if (length > MAX_MEDIA_BYTES + MULTIPART_OVERHEAD) {
          reply.header('connection', 'close')
          throw new PayloadTooLargeError(`file: at most ${MAX_MEDIA_BYTES} bytes (a document; other kinds less)`)
        }
        // The parser's own errors (no boundary, a body cut short) are the client's: 400, not 500.
        const unreadable = (err: unknown) =>
          (err as { statusCode?: number }).statusCode
            ? err // @fastify/multipart's limits: 413 already
            : new MalformedRequestError(`The multipart body could not be read: ${(err as Error).message}`)
        const part = await request.file().catch((err: unknown) => {
          throw unreadable(err)
        })
        if (!part || part.fieldname !== 'file') {
          throw new ValidationError([{ path: 'file', message: 'is required: a multipart field named "file"' }])
        }
        let streamError: unknown
        part.file.once('error', (err) => (streamError = err))
        try {
          const stored = await media.upload({
            stream: part.file,
            mimeType: mimeTypeOf(part.mimetype, part.filename),
            filename: part.filename || null,
            declaredBytes: Number.isSafeInteger(length) ? length - MULTIPART_OVERHEAD : undefined,
          })
          return {
            success: true,
            data: { media_id: stored.id, mime_type: stored.mimeType, size: stored.size, sha256: stored.sha256 },
          }
        } catch (err) {
          // The rest of the upload is not read: end the connection rather than drain it.
          if (err instanceof PayloadTooLargeError) reply.header('connection', 'close')
          if (err !== undefined && err === streamError) throw unreadable(err)
          throw err
        }
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'GET',
        url: '/media/:mediaId',
        operationId: 'downloadMedia',
        tag: 'Media',
        summary: 'Download a stored file, sent or received',
        params: z.object({ mediaId: z.string().describe('med_…, as the upload or a message’s media answered') }),
        headers: {
          Range: { description: 'One byte range, e.g. `bytes=0-1023`', schema: z.string() },
          'If-None-Match': { description: 'The ETag already held: answered 304', schema: z.string() },
        },
        answers: {
          200: { description: 'The whole file, in its own Content-Type', binary: true, headers: fileHeaders },
          206: {
            description: 'The requested range',
            binary: true,
            headers: {
              ...fileHeaders,
              'Content-Range': { description: '`bytes <start>-<end>/<size>`', schema: z.string() },
            },
          },
          304: { description: 'Not modified: the ETag named in If-None-Match' },
        },
        errors: ['NOT_FOUND', 'MEDIA_NOT_READY', 'RANGE_NOT_SATISFIABLE'],
      },
      async (request, reply) => {
        const range = request.headers.range
        const ifNoneMatch = request.headers['if-none-match']
        const file = await media.download(
          request.params.mediaId,
          { range, ifNoneMatch },
          request.principal.phoneNumberIds,
        )
        const type = file.media.mimeType ?? 'application/octet-stream'
        reply
          .header('etag', etagOf(file.media))
          .header('accept-ranges', 'bytes')
          // An id's bytes never change.
          .header('cache-control', 'private, max-age=31536000, immutable')
          .header('x-content-type-options', 'nosniff')
        if (file.status === 304) return reply.code(304).send()
        const name = file.media.filename ? `; filename*=UTF-8''${encodeURIComponent(file.media.filename)}` : ''
        reply
          .code(file.status)
          .type(type)
          .header('content-length', String(file.end - file.start + 1))
          .header('content-disposition', `${INLINE.test(type) ? 'inline' : 'attachment'}${name}`)
        if (file.status === 206) reply.header('content-range', `bytes ${file.start}-${file.end}/${file.media.size}`)
        return reply.send(file.body)
      },
    ),
  )
}
