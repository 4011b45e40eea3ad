import { beforeEach, describe, expect, it } from 'vitest'
import { metaTemplate } from './helpers/fake-meta.js'
import { startTestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const srUpdate = metaTemplate({
  name: 'sr_update',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Solicitud {{1}}' },
    { type: 'BODY', text: 'Hola {{1}}, su técnico llega {{2}}.' },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'URL', text: 'Ver', url: 'https://x.gt/sr/{{1}}' },
        { type: 'QUICK_REPLY', text: 'Confirmar' },
        { type: 'URL', text: 'Ayuda', url: 'https://x.gt/ayuda' },
      ],
    },
  ],
})
const orderDocument = metaTemplate({
  name: 'order_document',
  components: [
    { type: 'HEADER', format: 'DOCUMENT' },
    { type: 'BODY', text: 'Su orden.' },
  ],
})
const named = metaTemplate({
  name: 'named_update',
  parameter_format: 'NAMED',
  components: [{ type: 'BODY', text: 'Hola {{cliente}}, orden {{orden}}.' }],
})
const paused = metaTemplate({ name: 'paused_one', status: 'PAUSED' })

const good = {
  templateName: 'sr_update',
  languageCode: 'es',
  components: [
    { type: 'header', parameters: [{ type: 'text', text: 'SR-1042' }] },
    {
      type: 'body',
      parameters: [
        { type: 'text', text: 'Ana' },
        { type: 'text', text: 'martes 10:00' },
      ],
    },
    { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'SR-1042' }] },
    { type: 'button', sub_type: 'quick_reply', index: 1, parameters: [{ type: 'payload', payload: 'CONFIRM' }] },
  ],
  recipients: [{ phoneNumber: '+50212345678' }, { phoneNumber: '+50298765432' }],
}

const ctx = useTestApp({ meta: { templates: [srUpdate, orderDocument, named, paused] } })

const sends = () => ctx.meta.requests.filter((r) => r.path.endsWith('/messages')).length
const templateFetches = () => ctx.meta.requests.filter((r) => r.path.endsWith('/message_templates')).length
const withComponents = (components: unknown[], templateName = 'sr_update') => ({ ...good, templateName, components })

describe('pre-flight template checks', () => {
  beforeEach(() => {
    ctx.meta.templates = [srUpdate, orderDocument, named, paused]
  })

  it('syncs a template it has not seen once, then sends a request that fits', async () => {
    const fetches = templateFetches()
    const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', good)
    expect(res.body.summary).toEqual({ total: 2, sent: 2, failed: 0 })
    expect(templateFetches()).toBe(fetches + 1)
    await ctx.t.rest('POST', '/api/whatsapp/send-template', good)
    expect(templateFetches()).toBe(fetches + 1) // known now: no sync
  })

  it.each([
    ['an unknown template', { ...good, templateName: 'no_such' }, 'templateName', /no template no_such/],
    ['a template in another language', { ...good, languageCode: 'en_US' }, 'templateName', /en_US/],
    ['a template that is not APPROVED', withComponents([], 'paused_one'), 'templateName', /PAUSED, not APPROVED/],
    [
      'too few body parameters',
      withComponents([good.components[0], { type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }]),
      'components[1].parameters',
      /2 placeholders \(\{\{1\}\}, \{\{2\}\}\), got 1 parameter$/,
    ],
    ['a missing body', withComponents([good.components[0]]), 'components', /body needs 2 parameters/],
    ['a missing header parameter', withComponents([good.components[1]]), 'components', /header needs 1 parameter/],
    [
      'a media parameter in a text header',
      withComponents([
        { type: 'header', parameters: [{ type: 'image', image: { link: 'https://x.gt/a.png' } }] },
        good.components[1],
      ]),
      'components[0].parameters[0].type',
      /must be text/,
    ],
    [
      'a text parameter in a document header',
      withComponents([{ type: 'header', parameters: [{ type: 'text', text: 'x' }] }], 'order_document'),
      'components[0].parameters[0].type',
      /must be document/,
    ],
    [
      'a document header without its document',
      withComponents([], 'order_document'),
      'components',
      /header is DOCUMENT/,
    ],
    [
      'a button index the template does not have',
      withComponents([
        ...good.components.slice(0, 2),
        { type: 'button', sub_type: 'url', index: '5', parameters: [{ type: 'text', text: 'x' }] },
      ]),
      'components[2].index',
      /no button at index 5/,
    ],
    [
      'a url parameter for a quick-reply button',
      withComponents([
        ...good.components.slice(0, 2),
        { type: 'button', sub_type: 'url', index: '1', parameters: [{ type: 'text', text: 'x' }] },
      ]),
      'components[2].sub_type',
      /QUICK_REPLY, not URL/,
    ],
    [
      'a parameter for a fixed URL button',
      withComponents([
        ...good.components.slice(0, 2),
        { type: 'button', sub_type: 'url', index: '2', parameters: [{ type: 'text', text: 'x' }] },
      ]),
      'components[2]',
      /fixed URL/,
    ],
    [
      'a named parameter the template does not have',
      withComponents(
        [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Ana', parameter_name: 'cliente' },
              { type: 'text', text: '1', parameter_name: 'pedido' },
            ],
          },
        ],
        'named_update',
      ),
      'components[0].parameters[1].parameter_name',
      /cliente, orden/,
    ],
  ])('refuses %s with 422 at the exact field, and Meta is not called', async (_what, body, path, message) => {
    const before = sends()
    const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', body)
    expect(res.status).toBe(422)
    expect(res.body.error.fields).toContainEqual({ path, message: expect.stringMatching(message) })
    expect(sends()).toBe(before)
  })
})

describe('recipient cap', () => {
  it('refuses more recipients than WHATSAPP_MAX_RECIPIENTS before sending anything', async () => {
    const capped = await startTestApp({ meta: ctx.meta, env: { WHATSAPP_MAX_RECIPIENTS: '3' } })
    try {
      const before = sends()
      const recipients = ['+50212340001', '+50212340002', '+50212340003', '+50212340004'].map((phoneNumber) => ({
        phoneNumber,
      }))
      const res = await capped.rest('POST', '/api/whatsapp/send-template', { ...good, recipients })
      expect(res.status).toBe(422)
      expect(res.body.error.fields).toEqual([{ path: 'recipients', message: 'must have at most 3 recipients' }])
      expect(sends()).toBe(before)
      const ok = await capped.rest('POST', '/api/whatsapp/send-template', {
        ...good,
        recipients: recipients.slice(0, 3),
      })
      expect(ok.body.summary).toEqual({ total: 3, sent: 3, failed: 0 })
    } finally {
      await capped.close()
    }
  })
})
