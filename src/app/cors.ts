import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

/** The paths browsers may call from another origin: the two APIs, not health checks or Meta's webhooks. */
const API_PATHS = /^\/(graphql|api\/whatsapp)(\/|\?|$)/

/**
 * Lets browser dashboards on `origins` call GraphQL and REST with their bearer key (and read the
 * headers that carry meaning: request id, Retry-After, ranges…). Nothing when `origins` is empty.
 */
export async function registerCors(server: FastifyInstance, origins: string[]): Promise<void> {
  if (!origins.length) return
  const allowed = new Set(origins)
  await server.register(cors, {
    delegator: (request, callback) =>
      callback(null, {
        origin:
          API_PATHS.test(request.url) && allowed.has(request.headers.origin ?? '') ? request.headers.origin : false,
        methods: ['GET', 'HEAD', 'POST', 'DELETE'],
        allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'Range', 'If-None-Match'],
        exposedHeaders: [
          'X-Request-Id',
          'Retry-After',
          'X-Template-Batch-Id',
          'Content-Range',
          'ETag',
          'Accept-Ranges',
        ],
        maxAge: 600,
      }),
  })
}
