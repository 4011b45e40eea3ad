import { describe, expect, it } from 'vitest'
import { bearerToken, callerOf, createIdentify } from '../src/auth/auth.js'

describe('configured bearer tokens (API_TOKENS)', () => {
  // No stored keys: only the configured tokens can match.
  const identify = createIdentify(['token-one-0123456789', 'token-two-0123456789'], async () => null)
  const authenticate = async (header: string | undefined) => {
    const token = bearerToken(header)
    return token === null ? null : identify(token)
  }
  const verify = async (header: string | undefined) => (await authenticate(header)) !== null

  it('answers which token matched', async () => {
    expect((await authenticate('Bearer token-two-0123456789'))?.caller).toBe(callerOf('token-two-0123456789'))
  })

  it('accepts any configured token, case-insensitive scheme', async () => {
    expect(await verify('Bearer token-one-0123456789')).toBe(true)
    expect(await verify('bearer token-two-0123456789')).toBe(true)
  })

  it.each([
    undefined,
    '',
    'Bearer',
    'Bearer token-one',
    'Basic token-one-0123456789',
    'token-one-0123456789',
    'Bearer token-one-0123456789x',
  ])('refuses %j', async (header) => expect(await verify(header)).toBe(false))
})
