import { describe, expect, it } from 'vitest'
import { SendTextDocument } from './graphql/generated.js'
import { startTestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ app: false })

describe('graceful shutdown', () => {
  it('finishes in-flight sends before closing', async () => {
    const own = await startTestApp({ meta: ctx.meta })
    ctx.meta.stall(300)
    try {
      const before = ctx.meta.requests.length
      const inFlight = own.gql(SendTextDocument, { input: { phoneNumber: '+50212345678', content: 'en camino' } })
      while (ctx.meta.requests.length === before) await new Promise((r) => setTimeout(r, 5))
      const closing = own.app.close()
      const { status, body } = await inFlight
      expect(status).toBe(200)
      expect(body.data!.sendText.message!.status).toBe('SENT')
      await closing
      await expect(fetch(`${own.url}/healthz`)).rejects.toThrow()
    } finally {
      ctx.meta.stall(0)
      await own.close().catch(() => {})
    }
  })
})
