import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { WebhookService } from './webhook.service.js'

/**
 * Meta's webhook endpoint, `/webhooks/whatsapp`. Not behind the API's bearer tokens: Meta signs
 * each delivery instead. JSON bodies stay raw bytes here, because the signature covers the bytes as
 * sent (Meta escapes non-ASCII as \u00f3 and `/` as `\/`; re-serialised JSON would not match).
 */
export const webhookRoutes: FastifyPluginAsync<{ webhooks: WebhookService }> = async (
  app: FastifyInstance,
  { webhooks },
) => {
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  app.get('/', async (request, reply) => {
    const challenge = webhooks.verifySubscription(request.query as Record<string, unknown>)
    return reply.type('text/plain').send(challenge)
  })

  app.post('/', async (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    await webhooks.receive(raw, request.headers['x-hub-signature-256'] as string | undefined)
    return reply.status(200).send({ success: true })
  })
}
