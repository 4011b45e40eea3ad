import { describe, expect, it } from 'vitest'
import { TemplatesDocument } from './graphql/generated.js'
import { startTestApp } from './helpers/test-app.js'
import { useTestApp } from './helpers/setup.js'

const ctx = useTestApp({ app: false })

describe('production mode', () => {
  it('masks unknown errors, hides schema hints, and keeps introspection and Sandbox off unless enabled', async () => {
    const prod = await startTestApp({ meta: ctx.meta, env: { NODE_ENV: 'production' } })
    try {
      const typo = await prod.rest('POST', '/graphql', { query: '{ conversatons { totalCount } }' })
      expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean/)

      await prod.app.database.prisma.$executeRawUnsafe('DROP TABLE templates')
      const { body } = await prod.gql(TemplatesDocument, {})
      expect(body.errors![0]).toEqual({
        message: 'Internal server error',
        locations: expect.any(Array),
        path: ['templates'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      })
      const rest = await prod.rest('GET', '/api/whatsapp/templates')
      expect(rest.status).toBe(500)
      expect(rest.body).toEqual({
        success: false,
        error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' },
      })
    } finally {
      await prod.close()
    }

    const open = await startTestApp({
      meta: ctx.meta,
      env: { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', GRAPHQL_SANDBOX: 'true' },
    })
    try {
      const introspection = await open.rest('POST', '/graphql', { query: '{ __schema { queryType { name } } }' })
      expect(introspection.body.data.__schema.queryType.name).toBe('Query')
      const page = await fetch(`${open.url}/graphql`, { headers: { accept: 'text/html' } })
      expect(await page.text()).toMatch(/sandbox/i)
    } finally {
      await open.close()
    }
  })
})
