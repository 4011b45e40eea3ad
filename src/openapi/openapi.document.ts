import { z } from 'zod'
import { errorHeaders } from '../errors/error.answers.js'
import { type ErrorCode, errorPayload } from '../errors/errors.js'
import { restConversationSchema, restMediaSchema, restMessageSchema } from '../rest/rest.shapes.js'
import { documentationOf } from '../validation.js'
import { errorSample } from './error.samples.js'
import { restScope } from '../auth/scopes.js'
import type { AnswerDoc, HeaderDoc, Operation } from './operation.js'

/**
 * The OpenAPI 3.1 document of the REST API, generated from the documented routes: every schema in
 * it is converted (z.toJSONSchema, JSON Schema 2020-12, OpenAPI 3.1's dialect) from the zod schema
 * that validates the request or types the answer.
 */

type Json = Record<string, unknown>

/** Codes any route behind the bearer token may answer (the gate, the rate limit, an outage, a bug). */
const EVERY_ROUTE: ErrorCode[] = ['UNAUTHENTICATED', 'RATE_LIMITED', 'DATABASE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR']
/** And any route that reads a JSON body (Fastify's parser, translated in rest.errors.ts). */
const JSON_BODY: ErrorCode[] = ['MALFORMED_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']

/** Headers that error answers carry (see errorHeaders). */
const ERROR_HEADERS: Record<string, HeaderDoc> = {
  'Retry-After': { description: 'Seconds after which asking again makes sense', schema: z.number().int().min(0) },
  'Content-Range': { description: '`bytes */<size>`: the size of the file', schema: z.string() },
}

/** Shared shapes get a name of their own; the rest is named after its operation. */
const NAMED: [z.ZodType, string][] = [
  [restMessageSchema, 'Message'],
  [restConversationSchema, 'Conversation'],
  [restMediaSchema, 'MessageMedia'],
]

const fieldIssue = z.object({
  path: z.string().describe('The field as the client sent it, e.g. recipients[1].phoneNumber'),
  message: z.string(),
})

/** `{"success":false,"error":{code,message,…}}` with one of `codes`. */
function errorBodySchema(codes: [ErrorCode, ...ErrorCode[]], withFields: boolean) {
  return z.object({
    success: z.literal(false),
    error: z
      .object({
        code: z.enum(codes),
        message: z.string(),
        ...(withFields ? { fields: z.array(fieldIssue).describe('Every invalid field') } : {}),
      })
      .catchall(z.unknown())
      .describe('More detail for some codes: fields, serviceWindowExpiresAt, retryAfterSeconds, batchId, meta, …'),
  })
}

const upper = (s: string) => s[0].toUpperCase() + s.slice(1)
/** `retry-after` as documents write it: `Retry-After`. */
const capitalized = (header: string) => header.split('-').map(upper).join('-')

/**
 * How zod schemas become JSON Schema here: as their input (what a request sends; objects stay open,
 * as the API ignores unknown fields and answers may gain fields), a date as the ISO 8601 string a
 * client sends (z.coerce.date() has no JSON Schema of its own).
 */
const CONVERSION = {
  target: 'draft-2020-12',
  io: 'input',
  unrepresentable: 'any',
  override: (ctx: { zodSchema: { _zod: { def: { type: string } } }; jsonSchema: Json }) => {
    if (ctx.zodSchema._zod.def.type === 'date') Object.assign(ctx.jsonSchema, { type: 'string', format: 'date-time' })
  },
} as const

const jsonSchemaOf = (schema: z.ZodType): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(documentationOf(schema), CONVERSION) as Json
  return rest
}

/** A parameter's schema: null is how zod says "may be absent", which a parameter says with `required`. */
function withoutNull(schema: Json): Json {
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== 'null')
    return { ...schema, type: types.length === 1 ? types[0] : types }
  }
  const anyOf = schema.anyOf as Json[] | undefined
  if (!anyOf) return schema
  const rest = anyOf.filter((s) => s.type !== 'null')
  const { anyOf: _, ...others } = schema
  return rest.length === 1 ? { ...others, ...rest[0] } : { ...others, anyOf: rest }
}

function parameters(where: 'path' | 'query', object: z.ZodObject | undefined): Json[] {
  if (!object) return []
  const schema = jsonSchemaOf(object)
  const required = new Set((schema.required as string[] | undefined) ?? [])
  return Object.entries((schema.properties as Record<string, Json>) ?? {}).map(([name, property]) => {
    const { description, ...rest } = withoutNull(property)
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    }
  })
}

const headerObjects = (headers: Record<string, HeaderDoc> | undefined) =>
  Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, h]) => [
      name,
      { description: h.description, schema: jsonSchemaOf(h.schema) },
    ]),
  )

export interface DocumentOptions {
  title: string
  version: string
  description: string
}

export function buildOpenApiDocument(operations: Operation[], options: DocumentOptions): Json {
  // Every named schema goes through one registry, so shared shapes become $refs to components.
  const registry = z.registry<{ id: string }>()
  const name = (schema: z.ZodType, id: string) => {
    const documented = documentationOf(schema)
    if (!registry.has(documented)) registry.add(documented, { id })
    return { $ref: `#/components/schemas/${registry.get(documented)!.id}` }
  }
  for (const [schema, id] of NAMED) name(schema, id)

  const paths: Record<string, Record<string, Json>> = {}
  for (const { path, doc } of operations) {
    const base = upper(doc.operationId)
    const answers = Object.entries(doc.answers as Record<string, AnswerDoc>).map(([status, answer]) => [
      status,
      {
        description: answer.description,
        ...(answer.headers ? { headers: headerObjects(answer.headers) } : {}),
        ...(answer.json
          ? {
              content: {
                'application/json': { schema: name(answer.json, `${base}Answer${status === '200' ? '' : status}`) },
              },
            }
          : answer.binary
            ? { content: { '*/*': { schema: { type: 'string', format: 'binary' } } } }
            : {}),
      },
    ])

    // Every key holds READ: only a route that needs more can answer FORBIDDEN for its scope.
    const scope = restScope(doc.method, path)
    const codes = new Set<ErrorCode>([
      ...EVERY_ROUTE,
      ...(scope === 'SEND' || scope === 'ADMIN' ? (['FORBIDDEN'] as const) : []),
      ...(doc.body ? JSON_BODY : []),
      ...doc.errors,
    ])
    const byStatus = new Map<number, ErrorCode[]>()
    for (const code of codes) {
      const status = errorSample(code).httpStatus
      byStatus.set(status, [...(byStatus.get(status) ?? []), code])
    }
    const errors = [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => {
        const samples = list.map(errorSample)
        const headers = new Set(samples.flatMap((s) => Object.keys(errorHeaders(s)).map(capitalized)))
        return [
          String(status),
          {
            description: list.join(', '),
            ...(headers.size
              ? { headers: headerObjects(Object.fromEntries([...headers].map((h) => [h, ERROR_HEADERS[h]]))) }
              : {}),
            content: {
              'application/json': {
                schema: jsonSchemaOf(errorBodySchema(list as [ErrorCode, ...ErrorCode[]], status === 422)),
                examples: Object.fromEntries(
                  samples.map((s) => [s.code, { value: { success: false, error: errorPayload(s) } }]),
                ),
              },
            },
          },
        ]
      })

    const openapiPath = path.replace(/:(\w+)/g, '{$1}')
    paths[openapiPath] ??= {}
    paths[openapiPath][doc.method.toLowerCase()] = {
      operationId: doc.operationId,
      summary: doc.summary,
      // The key scope it needs (READ, SEND, ADMIN: see the bearerAuth scheme).
      ...(scope ? { 'x-scope': scope } : {}),
      ...(doc.description ? { description: doc.description } : {}),
      tags: [doc.tag],
      parameters: [
        ...parameters('path', doc.params),
        ...parameters('query', doc.query),
        ...Object.entries(doc.headers ?? {}).map(([header, h]) => ({
          name: header,
          in: 'header',
          required: h.required ?? false,
          description: h.description,
          schema: jsonSchemaOf(h.schema),
        })),
      ],
      ...(doc.body
        ? {
            requestBody: {
              required: !doc.body.optional,
              content: {
                'application/json': { schema: name(doc.body.json, `${base}Request`) },
              },
            },
          }
        : {}),
      ...(doc.multipart
        ? {
            requestBody: {
              required: true,
              content: {
                'multipart/form-data': {
                  schema: name(doc.multipart.schema, `${base}Request`),
                  ...(doc.multipart.encoding ? { encoding: doc.multipart.encoding } : {}),
                },
              },
            },
          }
        : {}),
      responses: Object.fromEntries([...answers, ...errors]),
    }
  }

  const { schemas } = z.toJSONSchema(registry, {
    ...CONVERSION,
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> }
  // Each converted schema names itself ($schema, $id): the document's components need neither.
  const components = Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _, $id: __, ...schema }]) => [id, schema]),
  )

  const document = {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    tags: [...new Set(operations.map((o) => o.doc.tag))].map((tag) => ({ name: tag })),
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'One of API_TOKENS, or an API key (createApiKey, `npm run keys`): `Authorization: Bearer <token>` on every ' +
            'operation. A key has a scope: READ (GETs), SEND (READ plus sends, uploads, read receipts), ADMIN ' +
            '(everything); each operation names the one it needs in `x-scope`, and answers 403 FORBIDDEN to a key without it.',
        },
      },
    },
  }
  // Plain JSON: what is served, with no undefined left in the examples.
  return JSON.parse(JSON.stringify(document)) as Json
}
