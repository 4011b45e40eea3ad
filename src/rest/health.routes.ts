import type { FastifyPluginAsync } from 'fastify'
import type { Database } from '../db/database.js'

/** Cheap and unauthenticated, for load balancers and orchestrators. */
export const healthRoutes: FastifyPluginAsync<{ database: Database }> = async (app, { database }) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (request, reply) => {
    const reason = await database.notReadyReason()
    if (!reason) return { status: 'ready' }
    request.log.warn({ reason }, 'not ready')
    // Unauthenticated: say what kind of problem, never the driver's words (hosts, users).
    return reply
      .status(503)
      .send({ status: 'unavailable', reason: reason.startsWith('migrations') ? reason : 'database unreachable' })
  })
}
