import { describe, expect, it } from 'vitest'
import { renderTemplateText } from '../src/templates/template.render.js'

describe('renderTemplateText', () => {
  const components = [
    { type: 'HEADER', format: 'TEXT', text: 'Solicitud {{1}}' },
    { type: 'BODY', text: 'Hola {{1}}, su técnico llega {{2}}.' },
    { type: 'FOOTER', text: 'Gracias' },
    { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'OK' }] },
  ]

  it('fills positional header and body placeholders and keeps the footer', () => {
    expect(
      renderTemplateText(components, [
        { type: 'header', parameters: [{ type: 'text', text: 'SR-1042' }] },
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Ana' },
            { type: 'text', text: 'martes 10:00' },
          ],
        },
      ]),
    ).toBe('Solicitud SR-1042\nHola Ana, su técnico llega martes 10:00.\nGracias')
  })

  it('fills named placeholders and leaves missing ones visible', () => {
    const named = [{ type: 'BODY', text: 'Hola {{cliente}}, orden {{orden}}.' }]
    expect(
      renderTemplateText(named, [
        { type: 'body', parameters: [{ type: 'text', text: 'Ana', parameter_name: 'cliente' }] },
      ]),
    ).toBe('Hola Ana, orden {{orden}}.')
  })

  it('is null when the template is unknown; media headers are skipped', () => {
    expect(renderTemplateText(undefined, [])).toBeNull()
    expect(
      renderTemplateText(
        [
          { type: 'HEADER', format: 'IMAGE' },
          { type: 'BODY', text: 'Hola' },
        ],
        [],
      ),
    ).toBe('Hola')
  })
})
