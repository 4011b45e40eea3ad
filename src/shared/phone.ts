import { z } from 'zod'
import { stringError } from '../validation.js'

/**
 * Normalises a phone number typed in international format (`+502 1234-5678`, `+50212345678`,
 * `00502 1234 5678`) to the digits WhatsApp uses (`50212345678`), or returns null when it is not one.
 * E.164: a country code that does not start with 0, at most 15 digits in all.
 */
export function normalizePhoneNumber(input: string): string | null {
  const compact = input.trim().replace(/[\s().-]/g, '')
  const match = /^(?:\+|00)([1-9]\d{7,14})$/.exec(compact)
  return match ? match[1] : null
}

export const PHONE_NUMBER_FORMAT = 'must be a phone number in international format, e.g. +50212345678'

/** A phone number as clients type it, parsed to the digits WhatsApp uses. */
export const phoneNumberSchema = z.string({ error: stringError }).transform((value, ctx) => {
  const digits = normalizePhoneNumber(value)
  if (digits === null) {
    ctx.addIssue({ code: 'custom', message: PHONE_NUMBER_FORMAT })
    return z.NEVER
  }
  return digits
})
