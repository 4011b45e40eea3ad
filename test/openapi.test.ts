/**
 * The OpenAPI document (GET /api/whatsapp/openapi.json): valid OpenAPI 3.1, one operation per
 * documented REST path, the real answers of the running service match it, and so does every
 * request and answer example in README.md and docs/api.md: an example that drifts from the
 * document fails here.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import Fastify from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { collectOperations, documented } from '../src/openapi/operation.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import { API_TOKEN, startTestApp } from './helpers/test-app.js'

type Json = Record<string, any>

const ROOT = path.resolve(import.meta.dirname, '..')
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8')

const ctx = useTestApp({
  meta: {
    templates: [
      metaTemplate({
        name: 'appointment_reminder',
        components: [{ type: 'BODY', text: 'Hola {{1}}, te recordamos tu cita para el {{2}}.' }],
      }),
    ],
  },
})

let doc: Json
let ajv: Ajv2020
beforeAll(async () => {
  const res = await ctx.t.rest('GET', '/api/whatsapp/openapi.json', undefined, { token: null })
  expect(res.status).toBe(200)
  doc = res.body
  ajv = validatorOf(doc)
})

// ---------------------------------------------------------------------------------------------
// Validating against the document

/**
 * Examples and answers are held to the fields the document names: an object schema that does not
 * say otherwise gets `additionalProperties: false` here (the document itself leaves them open,
 * since the API ignores unknown request fields and answers may gain fields).
 */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Json = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'examples' ? v : strict(v)]))
  if (out.properties && !('additionalProperties' in out)) out.additionalProperties = false
  return out
}

/** `#/components/schemas/X` as a reference into the one schema holding the components. */
const toComponents = (schema: unknown, prefix: string) =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${prefix}`))

function validatorOf(document: Json): Ajv2020 {
  const instance = new Ajv2020({ allErrors: true, strict: true })
  // ajv-formats is CommonJS: its function is the default export, or that export's `default`.
  const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as typeof addFormatsModule.default
  addFormats(instance)
  instance.addFormat('binary', true)
  instance.addSchema({ $id: 'components', $defs: strict(toComponents(document.components.schemas, '#/$defs/')) })
  return instance
}

const compiled = new Map<unknown, ValidateFunction>()
/** The problems of `value` against `schema` (a schema of the document), none when it is valid. */
function problems(schema: unknown, value: unknown): string[] {
  let validate = compiled.get(schema)
  if (!validate) {
    validate = ajv.compile(strict(toComponents(schema, 'components#/$defs/')) as object)
    compiled.set(schema, validate)
  }
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
}

interface Found {
  template: string
  operation: Json
  params: Record<string, string>
}

/** The operation answering `method path` (a path under /api/whatsapp, without its query). */
function operationOf(method: string, pathname: string): Found | undefined {
  for (const [template, item] of Object.entries(doc.paths as Record<string, Json>)) {
    const names: string[] = []
    const pattern = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name)
      return '([^/]+)'
    })
    const match = new RegExp(`^${pattern}$`).exec(pathname)
    const operation = item[method.toLowerCase()]
    if (match && operation) {
      return {
        template,
        operation,
        params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1])])),
      }
    }
  }
  return undefined
}

/** A parameter's value as its schema types it: `?first=20` is the integer 20. */
function parameterValue(schema: Json, raw: string): unknown {
  const types = [schema.type].flat()
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw)
  if (types.includes('boolean') && /^(true|false)$/.test(raw)) return raw === 'true'
  return raw
}

/** The problems of a request (method, URL, body or form fields) against the document. */
function requestProblems(request: { method: string; url: URL; body?: string; form?: string[] }): string[] {
  const found = operationOf(request.method, request.url.pathname)
  if (!found) return [`no operation ${request.method} ${request.url.pathname} in the document`]
  const { operation, params } = found
  const declared = (operation.parameters ?? []) as Json[]
  const out: string[] = []
  const given = [
    ...Object.entries(params).map(([name, raw]) => ({ where: 'path', name, raw })),
    ...[...request.url.searchParams].map(([name, raw]) => ({ where: 'query', name, raw })),
  ]
  for (const { where, name, raw } of given) {
    const parameter = declared.find((p) => p.in === where && p.name === name)
    if (!parameter) out.push(`${where} parameter ${name} is not in the document`)
    else out.push(...problems(parameter.schema, parameterValue(parameter.schema, raw)).map((p) => `${name}: ${p}`))
  }
  const content = operation.requestBody?.content ?? {}
  if (request.body !== undefined) {
    const schema = content['application/json']?.schema
    if (!schema) out.push('the operation takes no JSON body')
    else out.push(...problems(schema, JSON.parse(request.body)))
  } else if (request.form) {
    const schema = content['multipart/form-data']?.schema
    if (!schema) out.push('the operation takes no multipart body')
    else {
      const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema
      for (const field of request.form) {
        if (!resolved.properties?.[field]) out.push(`multipart field ${field} is not in the document`)
      }
      for (const field of resolved.required ?? []) {
        if (!request.form.includes(field)) out.push(`multipart field ${field} is required`)
      }
    }
  } else if (operation.requestBody?.required) out.push('the operation requires a body')
  return out
}

/** The problems of an answer (its status and JSON body) against the operation's response for that status. */
function answerProblems(method: string, pathname: string, status: number, body: unknown): string[] {
  const found = operationOf(method, pathname)
  if (!found) return [`no operation ${method} ${pathname} in the document`]
  const response = found.operation.responses[String(status)]
  if (!response) return [`${method} ${found.template} documents no ${status} answer`]
  const schema = response.content?.['application/json']?.schema
  if (!schema) return [`${method} ${found.template} documents no JSON body for ${status}`]
  return problems(schema, body)
}

// ---------------------------------------------------------------------------------------------
// Reading the examples in the Markdown files

interface Block {
  lang: string
  text: string
  /** The prose between the previous block and this one. */
  before: string
}

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = []
  let last = 0
  for (const m of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```\s*$/gm)) {
    blocks.push({ lang: m[1], text: m[2], before: markdown.slice(last, m.index).trim() })
    last = m.index + m[0].length
  }
  return blocks
}

const lineEnd = (text: string, from: number) => (text.indexOf('\n', from) + 1 || text.length + 1) - 1

/** The commands of a shell snippet as words: quotes, `\` line continuations, `;` and comments as sh reads them. */
function shellCommands(text: string): string[][] {
  const commands: string[][] = []
  let words: string[] = []
  let word: string | null = null
  const endWord = () => {
    if (word !== null) words.push(word)
    word = null
  }
  const endCommand = () => {
    endWord()
    if (words.length) commands.push(words)
    words = []
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\' && text[i + 1] === '\n') i++
    else if (c === "'") {
      const end = text.indexOf("'", i + 1)
      word = (word ?? '') + text.slice(i + 1, end)
      i = end
    } else if (c === '"') {
      let s = ''
      for (i++; text[i] !== '"'; i++) s += text[i] === '\\' ? text[++i] : text[i]
      word = (word ?? '') + s
    } else if (c === '#' && word === null) i = lineEnd(text, i) - 1
    else if (c === '\n' || c === ';') endCommand()
    else if (c === ' ' || c === '\t') endWord()
    else word = (word ?? '') + c
  }
  endCommand()
  return commands
}

interface CurlRequest {
  method: string
  url: URL
  body?: string
  form?: string[]
  source: string
}

/** Every curl to the REST API in a shell snippet, with `$VAR`s set earlier in it (README: `API=…`). */
function curls(text: string, file: string): CurlRequest[] {
  const vars: Record<string, string> = {}
  const out: CurlRequest[] = []
  for (const command of shellCommands(text)) {
    const expand = (w: string) => w.replace(/\$\{?(\w+)\}?/g, (all, name: string) => vars[name] ?? all)
    if (/^\w+=/.test(command[0])) {
      for (const assignment of command) {
        const [name, ...value] = assignment.split('=')
        vars[name] = expand(value.join('='))
      }
      continue
    }
    if (command[0] !== 'curl') continue
    let method: string | undefined
    let url: string | undefined
    let body: string | undefined
    const form: string[] = []
    for (let i = 1; i < command.length; i++) {
      const w = command[i]
      if (w === '-X') method = command[++i]
      else if (w === '-d' || w === '--data') body = command[++i]
      else if (w === '-F') form.push(command[++i].split('=')[0])
      else if (w === '-H' || w === '-o') i++
      else if (!w.startsWith('-')) url = expand(w)
    }
    if (!url?.includes('/api/whatsapp')) continue
    out.push({
      method: method ?? (body !== undefined || form.length ? 'POST' : 'GET'),
      url: new URL(url),
      body,
      form: form.length ? form : undefined,
      source: `${file}: ${command.slice(0, 4).join(' ')}…`,
    })
  }
  return out
}

/** The JSON values of a snippet, one after another, `//` comments dropped (a jsonc block of bodies). */
function jsonValues(text: string): unknown[] {
  const values: unknown[] = []
  let depth = 0
  let start = -1
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++
    } else if (c === '/' && text[i + 1] === '/' && depth === 0) i = lineEnd(text, i) - 1
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i
    } else if (c === '}' || c === ']') {
      if (--depth === 0) values.push(JSON.parse(text.slice(start, i + 1)))
    }
  }
  return values
}

interface Examples {
  requests: CurlRequest[]
  answers: { request: CurlRequest; body: unknown; source: string }[]
}

/**
 * The examples of a Markdown file: every curl to the REST API is a request; a ```json block right
 * after a shell block is the answer to that block's last curl; a ```jsonc block is a series of
 * request bodies for the `METHOD $API/path` named just before it.
 */
function examplesOf(file: string): Examples {
  const examples: Examples = { requests: [], answers: [] }
  let previous: Block | undefined
  let lastCurl: CurlRequest | undefined
  for (const block of codeBlocks(read(file))) {
    if (block.lang === 'sh') {
      const found = curls(block.text, file)
      examples.requests.push(...found)
      lastCurl = found.at(-1)
    } else if (block.lang === 'json') {
      if (previous?.lang !== 'sh' || !lastCurl || block.before !== '') {
        throw new Error(`${file}: a JSON example that answers no curl right before it:\n${block.text.slice(0, 120)}`)
      }
      examples.answers.push({
        request: lastCurl,
        body: JSON.parse(block.text),
        source: `${file}: answer to ${lastCurl.source}`,
      })
    } else if (block.lang === 'jsonc') {
      const target = /`(GET|POST) \$API(\/[^`]*)`[^`]*$/.exec(block.before)
      if (!target) throw new Error(`${file}: a jsonc block of bodies must follow the \`METHOD $API/path\` they are for`)
      for (const body of jsonValues(block.text)) {
        examples.requests.push({
          method: target[1],
          url: new URL(`http://localhost${'/api/whatsapp'}${target[2]}`),
          body: JSON.stringify(body),
          source: `${file}: ${JSON.stringify(body).slice(0, 60)}…`,
        })
      }
    }
    previous = block
  }
  return examples
}

// ---------------------------------------------------------------------------------------------

describe('GET /api/whatsapp/openapi.json', () => {
  it('is valid OpenAPI 3.1, served without a token, with the bearer scheme on every operation', async () => {
    const validator = new Validator()
    const result = await validator.validate(doc as never)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.security).toEqual([{ bearerAuth: [] }])
  })

  it('has one operation per REST path that docs/api.md lists, each with its errors', () => {
    const listed = [...read('docs/api.md').matchAll(/^\| `(GET|POST|DELETE) (\/[^`]+)` \|/gm)].map(
      ([, method, p]) => `${method} /api/whatsapp${p.replace(/:(\w+)/g, '{$1}')}`,
    )
    const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([p, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${p}`),
    )
    expect(listed.length).toBeGreaterThanOrEqual(11)
    expect(documented.sort()).toEqual(listed.sort())
    for (const item of Object.values(doc.paths as Record<string, Json>)) {
      for (const operation of Object.values(item)) {
        // The gate, the rate limit and an outage can answer any of them.
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '401', '429', '503']))
      }
    }
    const send = doc.paths['/api/whatsapp/conversations/{id}/messages'].post
    expect(Object.keys(send.responses)).toEqual(
      expect.arrayContaining(['400', '404', '409', '413', '415', '422', '500', '502', '504']),
    )
    expect(send.responses['422'].content['application/json'].schema.properties.error.required).toContain('fields')
    expect(doc.paths['/api/whatsapp/media'].post.requestBody.content['multipart/form-data']).toBeDefined()
    expect(doc.paths['/api/whatsapp/media/{mediaId}'].get.responses['206'].content['*/*']).toBeDefined()
  })

  it('is made from the validation schemas: a send body lists every field the API reads', () => {
    const send = doc.components.schemas.SendMessageRequest
    expect(send.required).toEqual(['phoneNumber'])
    expect(Object.keys(send.properties)).toEqual(
      expect.arrayContaining(['phoneNumber', 'requestId', 'type', 'content', 'mediaId', 'link', 'location', 'buttons']),
    )
    expect(send.properties.type.enum).toContain('interactive')
    expect(doc.components.schemas.SendTemplateRequest.properties.recipients.maxItems).toBe(1000)
  })
})

describe('collectOperations', () => {
  it('refuses, at start-up, a REST route without its document entry', async () => {
    const app = Fastify()
    const operations = collectOperations(app, '/api/whatsapp')
    const doc = {
      method: 'GET',
      url: '/ping',
      operationId: 'ping',
      summary: 'Ping',
      tag: 'Test',
      answers: { 200: { description: 'Pong', json: z.object({ pong: z.literal(true) }) } },
      errors: [],
    } as const
    const registered = app.register(
      async (api) => {
        api.route(documented(doc, async () => ({ pong: true as const })))
        api.get('/undocumented', async () => ({}))
      },
      { prefix: '/api/whatsapp' },
    )
    await expect(registered).rejects.toThrow(/GET \/api\/whatsapp\/undocumented has no OpenAPI description/)
    expect(operations.done().map((o) => o.path)).toEqual(['/api/whatsapp/ping'])
  })
})

describe('the real answers match the document', () => {
  /** A call to the running service whose answer must be the documented one for its status. */
  async function call(
    method: string,
    p: string,
    body?: unknown,
    options?: { token?: string | null; raw?: string; contentType?: string },
  ) {
    const res = await ctx.t.rest(method, p, body, options)
    expect(
      answerProblems(method, new URL(p, 'http://x').pathname, res.status, res.body),
      `${method} ${p} → ${res.status}`,
    ).toEqual([])
    return res
  }

  it('for every operation, successes and errors alike', async () => {
    const sent = await call('POST', '/api/whatsapp/send', {
      phoneNumber: '+50212345678',
      content: 'Hola',
      requestId: 5,
    })
    expect(sent.status).toBe(200)
    const id = sent.body.data.conversation.conversation_id
    expect(
      (
        await call('POST', `/api/whatsapp/conversations/${id}/messages`, {
          type: 'location',
          location: { latitude: 14.6, longitude: -90.5 },
        })
      ).status,
    ).toBe(200)
    expect((await call('POST', `/api/whatsapp/conversations/${id}/read`, {})).status).toBe(200)

    const form = new FormData()
    form.append('file', new Blob(['%PDF-1.4 factura'], { type: 'application/pdf' }), 'factura.pdf')
    const upload = await fetch(`${ctx.t.url}/api/whatsapp/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}` },
      body: form,
    })
    const uploaded = await upload.json()
    expect(answerProblems('POST', '/api/whatsapp/media', upload.status, uploaded)).toEqual([])
    const download = await fetch(`${ctx.t.url}/api/whatsapp/media/${uploaded.data.media_id}`, {
      headers: { authorization: `Bearer ${API_TOKEN}`, range: 'bytes=0-3' },
    })
    expect(download.status).toBe(206)
    const documentedHeaders = Object.keys(doc.paths['/api/whatsapp/media/{mediaId}'].get.responses['206'].headers)
    for (const header of documentedHeaders) expect(download.headers.get(header), header).not.toBeNull()
    const document = {
      type: 'document',
      mediaId: uploaded.data.media_id,
      filename: 'Factura.pdf',
      caption: 'Su factura',
    }
    expect((await call('POST', `/api/whatsapp/conversations/${id}/messages`, document)).status).toBe(200)

    // Pages holding a text, a location and a file.
    expect((await call('GET', '/api/whatsapp/conversations?first=5&phoneNumber=50212345678')).status).toBe(200)
    const page = await call('GET', `/api/whatsapp/conversations/${id}/messages?first=5`)
    expect(page.body.data.map((m: Json) => m.message_type)).toEqual(['document', 'location', 'text'])
    expect((await call('GET', '/api/whatsapp/templates?status=APPROVED')).status).toBe(200)
    const template = await call('POST', '/api/whatsapp/send-template', {
      templateName: 'appointment_reminder',
      languageCode: 'es',
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Ana' },
            { type: 'text', text: 'lunes' },
          ],
        },
      ],
      recipients: [{ phoneNumber: '+50212345678' }, { phoneNumber: '+50298765432' }],
    })
    expect(template.status).toBe(200)
    expect(template.headers.get('x-template-batch-id')).toMatch(/^\d+$/)

    // Errors, each in the shape and with a code the document gives that operation and status.
    expect((await call('POST', '/api/whatsapp/send', { phoneNumber: '12', content: '' })).status).toBe(422)
    expect((await call('POST', '/api/whatsapp/send', undefined, { raw: '{"phoneNumber":' })).status).toBe(400)
    expect(
      (await call('POST', '/api/whatsapp/send', undefined, { raw: 'hola', contentType: 'text/plain' })).status,
    ).toBe(415)
    expect((await call('GET', '/api/whatsapp/conversations', undefined, { token: null })).status).toBe(401)
    expect((await call('GET', '/api/whatsapp/conversations?first=500')).status).toBe(422)
    expect((await call('POST', '/api/whatsapp/conversations/999999/messages', { content: 'Hola' })).status).toBe(404)
    expect((await call('GET', '/api/whatsapp/media/med_doesnotexist00')).status).toBe(404)
  })
})

describe('the examples in README.md and docs/api.md', () => {
  const files = ['README.md', 'docs/api.md']
  const all = files.map(examplesOf)
  const requests = all.flatMap((e) => e.requests)
  const answers = all.flatMap((e) => e.answers)

  it('are all found (the Markdown is read as intended)', () => {
    // README: 9 curls and 10 message bodies; docs/api.md: 8 curls, 7 of them with their answer.
    expect(all[0].requests.length).toBeGreaterThanOrEqual(19)
    expect(all[1].requests.length).toBeGreaterThanOrEqual(8)
    expect(answers.length).toBeGreaterThanOrEqual(7)
    const operations = new Set(requests.map((r) => `${r.method} ${operationOf(r.method, r.url.pathname)?.template}`))
    expect(operations.size).toBe(
      Object.values(doc.paths as Record<string, Json>).flatMap((item) => Object.keys(item)).length,
    )
  })

  it('send requests the document describes', () => {
    const failures = requests
      .map((r) => ({ example: r.source, problems: requestProblems(r) }))
      .filter((f) => f.problems.length)
    expect(failures).toEqual([])
  })

  it('show answers the document describes', () => {
    const failures = answers
      .map((a) => {
        // A send with `sendAt` is answered 202 (scheduled), any other success 200.
        const scheduled = a.request.body !== undefined && 'sendAt' in JSON.parse(a.request.body)
        const status =
          (a.body as Json).success === false ? errorStatusOf(a.request, a.body as Json) : scheduled ? 202 : 200
        return { example: a.source, problems: answerProblems(a.request.method, a.request.url.pathname, status, a.body) }
      })
      .filter((f) => f.problems.length)
    expect(failures).toEqual([])
  })

  /** The status the document gives an error example's code on that operation. */
  function errorStatusOf(request: CurlRequest, body: Json): number {
    const found = operationOf(request.method, request.url.pathname)
    for (const [status, response] of Object.entries((found?.operation.responses ?? {}) as Record<string, Json>)) {
      if (
        response.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum?.includes(
          body.error?.code,
        )
      ) {
        return Number(status)
      }
    }
    return 0
  }
})

describe('Swagger UI', () => {
  it('is not served outside development', async () => {
    expect((await ctx.t.rest('GET', '/api/whatsapp/docs/')).status).toBe(404)
  })

  it('is served in development, from the package, with the same document', async () => {
    const dev = await startTestApp({ meta: ctx.meta, env: { NODE_ENV: 'development' } })
    try {
      const page = await fetch(`${dev.url}/api/whatsapp/docs/`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      const html = await page.text()
      // Every script and stylesheet is ours: nothing is fetched from elsewhere.
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
      expect(assets.length).toBeGreaterThan(0)
      for (const asset of assets) expect(asset).toMatch(/^\.\//)
      const bundle = await fetch(`${dev.url}/api/whatsapp/docs/static/swagger-ui-bundle.js`)
      expect(bundle.status).toBe(200)
      expect((await bundle.text()).length).toBeGreaterThan(100_000)
      const served = await (await fetch(`${dev.url}/api/whatsapp/docs/json`)).json()
      expect(served).toEqual(doc)
    } finally {
      await dev.close()
    }
  })
})
