import type { FastifyPluginAsync } from 'fastify'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PROJECT_ROOT } from '../project-root.js'
import { buildOpenApiDocument } from './openapi.document.js'
import type { Operation } from './operation.js'

export interface OpenApiRoutesOptions {
  operations: Operation[]
  /** Serve Swagger UI at `docs` too (development only: it is a page for people, with its own scripts). */
  ui: boolean
}

/**
 * `GET openapi.json`: the REST API's OpenAPI 3.1 document, open to anyone (a contract, like the
 * GraphQL schema file; it holds no data). In development, Swagger UI at `docs/`, its assets served
 * from the package (nothing from a CDN).
 */
export const openapiRoutes: FastifyPluginAsync<OpenApiRoutesOptions> = async (app, { operations, ui }) => {
  const { version } = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
  const document = buildOpenApiDocument(operations, {
    title: 'wa-gateway REST API',
    version,
    description:
      'Sends and reads WhatsApp conversations for a field-service business. Every operation needs ' +
      '`Authorization: Bearer <token>`. Answers are `{"success":true,"data":…}`; errors ' +
      '`{"success":false,"error":{"code","message",…}}`. GraphQL, with the same operations, is at /graphql.',
  })
  const body = JSON.stringify(document)
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(body))

  if (!ui) return
  // Loaded only when served: production never loads them.
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ])
  // Static mode: @fastify/swagger only hands our document to the UI (it reads no route schemas).
  await app.register(swagger, { mode: 'static', specification: { document: document as never } })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: true, displayOperationId: true },
    // The UI's own scripts only: no inline script, nothing from elsewhere.
    staticCSP: true,
  })
}
