import { describe, expect, it } from 'vitest'
import { backoffMs, isRetryable } from '../src/meta/meta.retry.js'
import { MetaApiError, MetaUnreachableError } from '../src/meta/meta.errors.js'
import { META_ERRORS, type MetaErrorFixture } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ env: { WHATSAPP_RETRY_MAX: '3' } })

const metaError = (code: number, status = 400): MetaErrorFixture => ({
  status,
  body: { error: { message: `(#${code}) error`, type: 'OAuthException', code, fbtrace_id: 'Atrace' } },
})

async function sendTo(to: string) {
  const before = ctx.meta.requests.filter((r) => r.path.endsWith('/messages')).length
  const res = await ctx.t.rest('POST', '/api/whatsapp/send', { phoneNumber: `+${to}`, content: 'hola' })
  const attempts = ctx.meta.requests.filter((r) => r.path.endsWith('/messages')).length - before
  const stored = await ctx.t.app.database.prisma.message.findFirst({
    where: { conversation: { phoneNumber: to } },
    orderBy: { id: 'desc' },
  })
  return { res, attempts, stored }
}

describe('retries of Meta errors', () => {
  it.each([
    ['throughput (130429)', META_ERRORS.throttled()],
    ['pair rate (131056)', metaError(131056)],
    ['a transient error (131000)', metaError(131000)],
    ['a 5xx', metaError(2, 503)],
  ])('retries %s and the message is sent once', async (_what, fixture) => {
    ctx.meta.failNext(fixture)
    ctx.meta.failNext(fixture)
    const ledger = ctx.meta.accepted.length
    const { res, attempts, stored } = await sendTo('50271000001')
    expect(res.status).toBe(200)
    expect(attempts).toBe(3)
    expect(ctx.meta.accepted.length).toBe(ledger + 1)
    expect(stored).toMatchObject({ status: 'sent', wamid: ctx.meta.accepted.at(-1)!.wamid })
  })

  it.each([
    ['undeliverable (131026)', META_ERRORS.undeliverable(), 131026],
    ['parameter mismatch (132000)', META_ERRORS.paramCountMismatch(), 132000],
    ['invalid parameter (100)', META_ERRORS.invalidParameter('x'), 100],
  ])('fails %s at once, keeping Meta’s code on the message', async (_what, fixture, code) => {
    ctx.meta.failNext(fixture)
    const { res, attempts, stored } = await sendTo('50271000002')
    expect(res.status).toBe(502)
    expect(attempts).toBe(1)
    expect(stored).toMatchObject({ status: 'failed', errorCode: code })
  })

  it('stops after the configured retries and records the last error', async () => {
    for (let i = 0; i < 4; i++) ctx.meta.failNext(META_ERRORS.throttled())
    const ledger = ctx.meta.accepted.length
    const { res, attempts, stored } = await sendTo('50271000003')
    expect(res.status).toBe(502)
    expect(attempts).toBe(4)
    expect(ctx.meta.accepted.length).toBe(ledger)
    expect(stored).toMatchObject({ status: 'failed', errorCode: 130429 })
  })

  it('surfaces an invalid access token (190) as META_TOKEN_INVALID without retrying', async () => {
    ctx.meta.failNext(META_ERRORS.tokenExpired())
    const { res, attempts } = await sendTo('50271000004')
    expect(res.body.error.code).toBe('META_TOKEN_INVALID')
    expect(attempts).toBe(1)
  })
})

describe('retry policy', () => {
  const err = (code: number, status = 400) => new MetaApiError({ message: 'x', code }, status)

  it('retries only what cannot double a message', () => {
    expect(isRetryable(err(130429))).toBe(true)
    expect(isRetryable(err(80007))).toBe(true)
    expect(isRetryable(err(190, 401))).toBe(false)
    expect(isRetryable(err(131047))).toBe(false)
    expect(isRetryable(new MetaUnreachableError('refused', { notSent: true }))).toBe(true)
    expect(isRetryable(new MetaUnreachableError('timed out'))).toBe(false)
  })

  it('backs off exponentially with jitter, and waits out the pair rate', () => {
    const policy = { maxRetries: 3, baseDelayMs: 100 }
    expect(backoffMs(err(130429), 1, { ...policy, random: () => 0 })).toBe(50)
    expect(backoffMs(err(130429), 3, { ...policy, random: () => 1 })).toBe(400)
    expect(backoffMs(err(131056), 1, { ...policy, random: () => 1 })).toBe(1200)
  })
})
