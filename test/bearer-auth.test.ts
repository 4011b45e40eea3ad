import { describe, expect, it } from 'vitest'
import { bearerAuthenticator } from '../src/auth/auth.js'

describe('bearerAuthenticator', () => {
  const authenticate = bearerAuthenticator(['token-one-0123456789', 'token-two-0123456789'])
  const verify = (header: string | undefined) => authenticate(header) !== null

  it('answers which token matched', () => {
    expect(authenticate('Bearer token-two-0123456789')).toBe('token-two-0123456789')
  })

  it('accepts any configured token, case-insensitive scheme', () => {
    expect(verify('Bearer token-one-0123456789')).toBe(true)
    expect(verify('bearer token-two-0123456789')).toBe(true)
  })

  it.each([
    undefined,
    '',
    'Bearer',
    'Bearer token-one',
    'Basic token-one-0123456789',
    'token-one-0123456789',
    'Bearer token-one-0123456789x',
  ])('refuses %j', (header) => expect(verify(header)).toBe(false))
})
