import { describe, expect, it } from 'vitest'
import {
  ConversationDocument,
  ConversationsDocument,
  SendInConversationDocument,
  SendTemplateDocument,
  SendTextDocument,
  TemplatesDocument,
} from './graphql/generated.js'
import { META_ERRORS, metaTemplate } from './helpers/fake-meta.js'
import { nodes } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({
  meta: {
    templates: [
      metaTemplate({
        name: 'appointment_reminder',
        components: [
          { type: 'HEADER', format: 'DOCUMENT' },
          { type: 'BODY', text: 'Hola {{1}}, cita el {{2}}.' },
          {
            type: 'BUTTONS',
            buttons: [
              { type: 'URL', text: 'Ver', url: 'https://x.gt/sr/{{1}}' },
              { type: 'QUICK_REPLY', text: 'Confirmar' },
            ],
          },
        ],
      }),
      metaTemplate({ name: 'sr_update', parameter_format: 'NAMED', status: 'PAUSED' }),
    ],
  },
})

describe('GraphQL mutations', () => {
  it('sendText sends through Meta and returns the message and its conversation', async () => {
    const { status, body } = await ctx.t.gql(SendTextDocument, {
      input: { phoneNumber: '+50212345678', content: 'Hola desde GraphQL', requestId: 55 },
    })
    expect(status).toBe(200)
    expect(body.errors).toBeUndefined()
    const message = body.data!.sendText.message!
    const conversation = body.data!.sendText.conversation!
    expect(conversation).toEqual({ id: expect.any(Number), phoneNumber: '50212345678', requestId: 55 })
    expect(message).toMatchObject({
      conversationId: conversation.id,
      direction: 'OUTBOUND',
      type: 'text',
      content: 'Hola desde GraphQL',
      status: 'SENT',
      wamid: ctx.meta.accepted.at(-1)!.wamid,
      requestId: 55,
      error: null,
    })
    expect(new Date(message.createdAt).getTime()).not.toBeNaN()
  })

  it('gives a bad input the same field errors as REST, with extensions.code VALIDATION_FAILED', async () => {
    const input = { phoneNumber: '12345', content: '' }
    const { body } = await ctx.t.gql(SendTextDocument, { input })
    const rest = await ctx.t.rest('POST', '/api/whatsapp/send', input)
    expect(body.data).toBeNull()
    expect(body.errors).toEqual([
      {
        message: rest.body.error.message,
        locations: expect.any(Array),
        path: ['sendText'],
        extensions: { code: 'VALIDATION_FAILED', fields: rest.body.error.fields },
      },
    ])
    expect(rest.body.error.fields.map((f: { path: string }) => f.path)).toEqual(['phoneNumber', 'content'])
  })

  it('sendInConversation texts an existing conversation; NOT_FOUND for an unknown one', async () => {
    const sent = await ctx.t.gql(SendTextDocument, { input: { phoneNumber: '+50233334444', content: 'uno' } })
    const conversationId = sent.body.data!.sendText.conversation!.id
    const { body } = await ctx.t.gql(SendInConversationDocument, { input: { conversationId, content: 'dos' } })
    expect(body.data!.sendInConversation).toMatchObject({ conversationId, content: 'dos', status: 'SENT' })
    expect(ctx.meta.requests.at(-1)!.body).toMatchObject({ to: '50233334444', text: { body: 'dos' } })

    const missing = await ctx.t.gql(SendInConversationDocument, { input: { conversationId: 424242, content: 'x' } })
    expect(missing.body.errors![0].extensions).toEqual({ code: 'NOT_FOUND' })
  })

  it('a refusal by Meta is META_API_ERROR with Meta’s details, and the message shows the failure', async () => {
    ctx.meta.failFor('50261616161', META_ERRORS.undeliverable)
    const { body } = await ctx.t.gql(SendTextDocument, { input: { phoneNumber: '+50261616161', content: 'x' } })
    expect(body.errors![0].extensions).toEqual({
      code: 'META_API_ERROR',
      meta: { code: 131026, type: 'OAuthException', details: 'Message Undeliverable.', fbtrace_id: expect.any(String) },
    })
    const list = await ctx.t.gql(ConversationsDocument, {})
    const conversation = nodes(list.body.data!.conversations).find((c) => c.phoneNumber === '50261616161')!
    const detail = await ctx.t.gql(ConversationDocument, { id: conversation.id })
    expect(nodes(detail.body.data!.conversation.messages)[0]).toMatchObject({
      status: 'FAILED',
      wamid: null,
      error: {
        code: 131026,
        details: 'Message Undeliverable.',
        fbtraceId: body.errors![0].extensions!.meta.fbtrace_id,
      },
    })
  })

  it('sendTemplate maps the GraphQL input to Meta’s components and reports each recipient', async () => {
    ctx.meta.failFor('50298765432', META_ERRORS.throttled)
    const { body } = await ctx.t.gql(SendTemplateDocument, {
      input: {
        templateName: 'appointment_reminder',
        languageCode: 'es',
        components: [
          {
            type: 'BODY',
            parameters: [
              { type: 'TEXT', text: 'Juan Pérez', parameterName: 'cliente' },
              { type: 'TEXT', text: 'martes' },
            ],
          },
          { type: 'BUTTON', subType: 'QUICK_REPLY', index: 1, parameters: [{ type: 'PAYLOAD', payload: 'CONFIRM' }] },
          { type: 'HEADER', parameters: [{ type: 'DOCUMENT', link: 'https://x.gt/o.pdf', filename: 'orden.pdf' }] },
        ],
        recipients: [{ phoneNumber: '+50212345678', requestId: 9 }, { phoneNumber: '+50298765432' }],
      },
    })
    expect(body.errors).toBeUndefined()
    const result = body.data!.sendTemplate
    expect(result.summary).toEqual({ total: 2, sent: 1, failed: 1, unknown: 0 })
    expect(result.results[0]).toMatchObject({ phoneNumber: '+50212345678', success: true, error: null })
    expect(result.results[0].message).toMatchObject({ type: 'template', requestId: 9, wamid: result.results[0].wamid })
    expect(result.results[1]).toMatchObject({
      phoneNumber: '+50298765432',
      success: false,
      wamid: null,
      error: { code: 'META_API_ERROR', meta: { code: 130429 } },
      message: { status: 'FAILED' },
    })
    expect(ctx.meta.sendsTo('50212345678').at(-1)!.request).toMatchObject({
      template: {
        name: 'appointment_reminder',
        language: { code: 'es' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Juan Pérez', parameter_name: 'cliente' },
              { type: 'text', text: 'martes' },
            ],
          },
          {
            type: 'button',
            sub_type: 'quick_reply',
            index: '1',
            parameters: [{ type: 'payload', payload: 'CONFIRM' }],
          },
          {
            type: 'header',
            parameters: [{ type: 'document', document: { link: 'https://x.gt/o.pdf', filename: 'orden.pdf' } }],
          },
        ],
      },
    })
  })
})

describe('GraphQL queries', () => {
  it('templates syncs from Meta on refresh, reads the database otherwise, and filters by status', async () => {
    const before = ctx.meta.requests.length
    const refreshed = await ctx.t.gql(TemplatesDocument, { refresh: true })
    expect(ctx.meta.requests.length).toBe(before + 1)
    expect(refreshed.body.data!.templates.map((x) => [x.name, x.status, x.parameterFormat])).toEqual([
      ['appointment_reminder', 'APPROVED', 'POSITIONAL'],
      ['sr_update', 'PAUSED', 'NAMED'],
    ])
    expect(refreshed.body.data!.templates[0].components).toEqual([
      { type: 'HEADER', format: 'DOCUMENT', text: null, example: null, buttons: null },
      { type: 'BODY', format: null, text: 'Hola {{1}}, cita el {{2}}.', example: null, buttons: null },
      {
        type: 'BUTTONS',
        format: null,
        text: null,
        example: null,
        buttons: [
          { type: 'URL', text: 'Ver', url: 'https://x.gt/sr/{{1}}', phoneNumber: null },
          { type: 'QUICK_REPLY', text: 'Confirmar', url: null, phoneNumber: null },
        ],
      },
    ])

    const cached = await ctx.t.gql(TemplatesDocument, { status: 'APPROVED' })
    expect(ctx.meta.requests.length).toBe(before + 1)
    expect(cached.body.data!.templates.map((x) => x.name)).toEqual(['appointment_reminder'])
  })

  it('conversation(id) is NOT_FOUND for an unknown id; conversations lists newest activity first', async () => {
    const missing = await ctx.t.gql(ConversationDocument, { id: 987654 })
    expect(missing.body.errors![0].extensions!.code).toBe('NOT_FOUND')

    await ctx.t.gql(SendTextDocument, { input: { phoneNumber: '+50270000001', content: 'a' } })
    await ctx.t.gql(SendTextDocument, { input: { phoneNumber: '+50270000002', content: 'b' } })
    const { body } = await ctx.t.gql(ConversationsDocument, { first: 2 })
    expect(nodes(body.data!.conversations).map((c) => [c.phoneNumber, [c.lastMessage!.content]])).toEqual([
      ['50270000002', ['b']],
      ['50270000001', ['a']],
    ])
    const [newest] = nodes(body.data!.conversations)
    expect(newest.lastMessage!.conversation.id).toBe(newest.id)

    const tooMany = await ctx.t.gql(ConversationsDocument, { first: 5000 })
    expect(tooMany.body.errors![0].extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      fields: [{ path: 'first', message: expect.stringContaining('100') }],
    })
  })
})

describe('GraphQL over HTTP', () => {
  it('refuses operations without a valid token with 401 UNAUTHENTICATED', async () => {
    const { status, body } = await ctx.t.gql(ConversationsDocument, {}, { token: 'not-the-token-123456' })
    expect(status).toBe(401)
    expect(body.errors![0].extensions!.code).toBe('UNAUTHENTICATED')
  })

  it('serves Apollo Sandbox to a browser at /graphql without a token', async () => {
    const res = await fetch(`${ctx.t.url}/graphql`, { headers: { accept: 'text/html' } })
    expect(res.status).toBe(200)
    expect(await res.text()).toMatch(/sandbox/i)
  })

  it('answers malformed JSON and GraphQL syntax errors with GraphQL errors, not 500s', async () => {
    const bad = await ctx.t.rest('POST', '/graphql', undefined, { raw: '{"query": ' })
    expect(bad.status).toBe(400)
    expect(bad.body.errors[0].extensions.code).toBe('MALFORMED_REQUEST')

    const syntax = await ctx.t.rest('POST', '/graphql', { query: '{ conversations { ' })
    expect(syntax.status).toBe(400)
    expect(syntax.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED')

    const unknownField = await ctx.t.rest('POST', '/graphql', { query: '{ nope }' })
    expect(unknownField.status).toBe(400)
    expect(unknownField.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED')
    expect(JSON.stringify(unknownField.body)).not.toContain('stacktrace')
  })
})
