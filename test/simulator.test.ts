import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SendTemplateDocument, TemplatesDocument } from './graphql/generated.js'
import { startTestApp, type TestApp } from './helpers/test-app.js'

let t: TestApp

beforeAll(async () => {
  t = await startTestApp() // no WHATSAPP_ACCESS_TOKEN: simulator mode
})
afterAll(() => t?.close())

describe('simulator mode (no Meta account)', () => {
  it('serves realistic approved templates', async () => {
    const { body } = await t.gql(TemplatesDocument, { refresh: true, status: 'APPROVED' })
    expect(body.data!.templates.map((x) => `${x.name}/${x.language}`)).toEqual(
      expect.arrayContaining(['appointment_reminder/es', 'service_confirmation/es']),
    )
  })

  it('accepts sends with wamid ids and refuses unknown templates like Meta (132001)', async () => {
    const { body } = await t.gql(SendTemplateDocument, {
      input: {
        templateName: 'appointment_reminder',
        languageCode: 'es',
        components: [
          {
            type: 'BODY',
            parameters: [
              { type: 'TEXT', text: 'Ana' },
              { type: 'TEXT', text: 'martes' },
            ],
          },
        ],
        recipients: [{ phoneNumber: '+50212345678' }],
      },
    })
    expect(body.data!.sendTemplate.results[0]).toMatchObject({
      success: true,
      wamid: expect.stringMatching(/^wamid\./),
    })
    expect(body.data!.sendTemplate.results[0].message!.content).toBe(
      'Hola Ana, te recordamos tu cita para el martes.\nServicios Profesionales',
    )

    const unknown = await t.rest('POST', '/api/whatsapp/send-template', {
      templateName: 'nope',
      languageCode: 'es',
      recipients: [{ phoneNumber: '+50212345678' }],
    })
    expect(unknown.body.results[0].error.meta.code).toBe(132001)
  })
})
