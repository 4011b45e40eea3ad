import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { callerOf } from '../auth/auth.js'
import type { IdempotencyKeyInput } from '../idempotency/idempotency.service.js'
import type { ConversationRecord, MessageRecord } from '../conversations/conversation.repository.js'
import { serviceWindowExpiresAt } from '../conversations/service-window.js'
import { errorPayload, ValidationError } from '../errors.js'
import type { Gate } from '../auth/auth.js'
import { RateLimitedError } from '../auth/rate-limit.js'
import type { ConversationService } from '../conversations/conversation.service.js'
import type { Page } from '../conversations/pagination.js'
import type { MessagingService } from '../messaging/messaging.service.js'
import type { TemplateService } from '../templates/template.service.js'

export interface WhatsappRoutesOptions {
  conversations: ConversationService
  messaging: MessagingService
  templates: TemplateService
  gate: Gate
}

const restMessage = (m: MessageRecord) => ({
  message_id: m.id,
  conversation_id: m.conversationId,
  content: m.content,
  message_type: m.type,
  direction: m.direction,
  status: m.status,
  wamid: m.wamid,
  created_at: m.createdAt.toISOString(),
})

const restPage = async <T, R>(page: Page<T>, shape: (node: T) => R) => ({
  success: true,
  data: page.nodes.map(shape),
  page_info: { has_next_page: page.hasNextPage, end_cursor: page.cursors.at(-1) ?? null },
  total_count: await page.totalCount(),
})

const restConversation = (c: ConversationRecord) => ({
  conversation_id: c.id,
  phone_number: c.phoneNumber,
  request_id: c.requestId,
  contact_name: c.contactName,
  service_window_expires_at: serviceWindowExpiresAt(c)?.toISOString() ?? null,
})

/**
 * The documented REST paths under /api/whatsapp, each a thin call into the same services as the
 * GraphQL resolvers, shaping the documented snake_case responses.
 */
export const whatsappRoutes: FastifyPluginAsync<WhatsappRoutesOptions> = async (
  app: FastifyInstance,
  { conversations, messaging, templates, gate },
) => {
  app.decorateRequest('caller', '')
  app.addHook('onRequest', async (request, reply) => {
    try {
      request.caller = callerOf(await gate(request.headers.authorization))
    } catch (err) {
      if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterSeconds))
      throw err
    }
  })

  // `Idempotency-Key` (optional) on every send: see IdempotencyService.
  const keyOf = (request: FastifyRequest): IdempotencyKeyInput => {
    const key = request.headers['idempotency-key']
    return { scope: request.caller, key: Array.isArray(key) ? key.join(',') : key, field: 'Idempotency-Key' }
  }

  app.post('/send', async (request) => {
    const { message, conversation } = await messaging.sendText(request.body, keyOf(request))
    return { success: true, data: { message: restMessage(message), conversation: restConversation(conversation) } }
  })

  app.post<{ Params: { id: string } }>('/conversations/:id/messages', async (request) => {
    const m = await messaging.sendInConversation(request.params.id, request.body, keyOf(request))
    return {
      success: true,
      data: {
        message_id: m.id,
        conversation_id: m.conversationId,
        content: m.content,
        status: m.status,
        wamid: m.wamid,
      },
    }
  })

  app.post('/send-template', async (request, reply) => {
    const { batchId, summary, results } = await messaging.sendTemplate(request.body, keyOf(request))
    // The body keeps the documented shape exactly; the stored batch (GraphQL templateBatch) is named here.
    reply.header('x-template-batch-id', String(batchId))
    return {
      success: true,
      summary: { total: summary.total, sent: summary.sent, failed: summary.failed },
      results: results.map((r) =>
        r.success
          ? {
              phoneNumber: r.phoneNumber,
              success: true,
              data: {
                messages: [{ id: r.wamid }],
                message_id: r.message.id,
                conversation_id: r.message.conversationId,
              },
            }
          : { phoneNumber: r.phoneNumber, success: false, error: errorPayload(r.error) },
      ),
    }
  })

  app.get<{ Querystring: Record<string, unknown> }>('/conversations', async (request) => {
    const { first, after, ...filter } = request.query
    const page = await conversations.page({ first, after, filter }).catch((err: unknown) => {
      // Filters are top-level query parameters here, not GraphQL's `filter` argument.
      if (!(err instanceof ValidationError)) throw err
      throw new ValidationError(err.fields.map((f) => ({ ...f, path: f.path.replace(/^filter\./, '') })))
    })
    return restPage(page, (c) => ({ ...restConversation(c), last_message_at: c.lastMessageAt?.toISOString() ?? null }))
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/conversations/:id/messages',
    async (request) => {
      const { first, after } = request.query
      return restPage(await conversations.messagePage(request.params.id, { first, after }), restMessage)
    },
  )

  app.get<{ Querystring: Record<string, unknown> }>('/templates', async (request) => {
    const list = await templates.list({ ...request.query, refresh: true })
    return {
      success: true,
      data: list.map((t) => ({
        name: t.name,
        status: t.status,
        category: t.category,
        language: t.language,
        parameter_format: t.parameterFormat,
        components: t.components,
      })),
    }
  })
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling (a digest of their API token), set once the gate let them in. */
    caller: string
  }
}
