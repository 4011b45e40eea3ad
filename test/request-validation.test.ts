import { describe, expect, it } from 'vitest'
import { sendTemplateSchema } from '../src/messaging/messaging.schemas.js'
import { normalizePhoneNumber } from '../src/shared/phone.js'
import { formatPath } from '../src/validation.js'

describe('normalizePhoneNumber', () => {
  it.each([
    ['+50212345678', '50212345678'],
    ['+502 1234-5678', '50212345678'],
    ['(+502) 1234 5678', '50212345678'],
    ['00502 1234 5678', '50212345678'],
    ['+1 (415) 555-0100', '14155550100'],
  ])('%s → %s', (input, digits) => expect(normalizePhoneNumber(input)).toBe(digits))

  it.each(['12345678', '50212345678', '+0502123456', '+502', '+5021234567890123', '+502abc45678', ''])(
    'refuses %j',
    (input) => expect(normalizePhoneNumber(input)).toBeNull(),
  )
})

describe('request validation', () => {
  it('names nested fields the way the client sent them', () => {
    expect(formatPath(['recipients', 1, 'phoneNumber'])).toBe('recipients[1].phoneNumber')
    expect(formatPath(['components', 0, 'parameters', 2, 'text'])).toBe('components[0].parameters[2].text')
    expect(formatPath([])).toBe('')
  })

  it('keeps the number as written next to the digits sent to Meta, and sends button indexes as strings', () => {
    const parsed = sendTemplateSchema.parse({
      templateName: 'x',
      languageCode: 'es_MX',
      components: [{ type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: 'a' }] }],
      recipients: [{ phoneNumber: '+502 1234 5678', requestId: '12' }],
    })
    expect(parsed.recipients).toEqual([{ phoneNumber: '+502 1234 5678', to: '50212345678', requestId: 12 }])
    expect(parsed.components[0]).toMatchObject({ index: '0' })
  })
})
