import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { callerOf } from '../auth/auth.js'
import type { IdempotencyKeyInput } from '../idempotency/idempotency.service.js'
import type { MessageRecord } from '../messages/message.records.js'
import { errorPayload, ValidationError } from '../errors/errors.js'
import type { MediaService } from '../media/media.service.js'
import { mediaRoutes } from './media.routes.js'
import { restConversation, restMessage, restPage } from './rest.shapes.js'
import type { Gate } from '../auth/auth.js'
import type { ConversationService } from '../conversations/conversation.service.js'
import type { MessagingService, SendRequest } from '../messaging/messaging.service.js'
import type { ScheduledSendService } from '../scheduled/scheduled-send.service.js'
import { restScheduledAnswer, restScheduledSend } from '../scheduled/scheduled-send.view.js'
import type { TemplateService } from '../templates/template.service.js'

export interface WhatsappRoutesOptions {
  conversations: ConversationService
  messaging: MessagingService
  templates: TemplateService
  media: MediaService
  scheduled: ScheduledSendService
  gate: Gate
}

/**
 * The documented REST paths under /api/whatsapp, each a thin call into the same services as the
 * GraphQL resolvers, shaping the documented snake_case responses.
 */
export const whatsappRoutes: FastifyPluginAsync<WhatsappRoutesOptions> = async (
  app: FastifyInstance,
  { conversations, messaging, templates, media, scheduled, gate },
) => {
  app.decorateRequest('caller', '')
  app.addHook('onRequest', async (request) => {
    request.caller = callerOf(await gate(request.headers.authorization))
  })

  // `Idempotency-Key` (optional) on every send: see IdempotencyService.
  const keyOf = (request: FastifyRequest): IdempotencyKeyInput => {
    const key = request.headers['idempotency-key']
    return { scope: request.caller, key: Array.isArray(key) ? key.join(',') : key, field: 'Idempotency-Key' }
  }

  /** A message just sent, shaped: its file read back when it has one (a new message has no reactions yet). */
  const sent = async (m: MessageRecord) =>
    restMessage(m, m.mediaId ? (await conversations.details([m])).get(m.id) : undefined)

  /**
   * A send with `sendAt` is stored to be sent then (202); without, it is sent now. The request is
   * stored without `sendAt`, as an immediate send takes it.
   */
  const later = async (
    body: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
    send: (input: unknown) => SendRequest,
  ): Promise<{ success: true; data: ReturnType<typeof restScheduledAnswer> } | null> => {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return null
    const { sendAt, ...input } = body as Record<string, unknown>
    if (sendAt === undefined || sendAt === null) return null
    const s = await scheduled.schedule(send(input), sendAt, keyOf(request))
    reply.status(202)
    return { success: true, data: restScheduledAnswer(s) }
  }

  app.post('/send', async (request, reply) => {
    const answer = await later(request.body, request, reply, (input) => ({ kind: 'sendText', input }))
    if (answer) return answer
    const { message, conversation } = await messaging.sendToNumber(request.body, keyOf(request))
    return { success: true, data: { message: await sent(message), conversation: restConversation(conversation) } }
  })

  app.post<{ Params: { id: string } }>('/conversations/:id/messages', async (request, reply) => {
    const answer = await later(request.body, request, reply, (input) => ({
      kind: 'sendInConversation',
      conversationId: request.params.id,
      input,
    }))
    if (answer) return answer
    const m = await messaging.sendInConversation(request.params.id, request.body, keyOf(request))
    // The documented fields first, as they always were; the message's other fields after them.
    const { message_id, conversation_id, content, status, wamid, ...rest } = await sent(m)
    return { success: true, data: { message_id, conversation_id, content, status, wamid, ...rest } }
  })

  app.post<{ Params: { id: string } }>('/conversations/:id/read', async (request) => {
    const c = await messaging.markRead(request.params.id, request.body)
    const unread = await conversations.unreadCounts([c.id])
    return {
      success: true,
      data: {
        conversation_id: c.id,
        last_read_message_id: c.lastReadMessageId,
        read_at: c.lastReadAt?.toISOString() ?? null,
        unread_count: unread.get(c.id) ?? 0,
      },
    }
  })

  app.post('/send-template', async (request, reply) => {
    const answer = await later(request.body, request, reply, (input) => ({ kind: 'sendTemplate', input }))
    if (answer) return answer
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
    const unread = await conversations.unreadCounts(page.nodes.map((c) => c.id))
    return restPage(page, (c) => ({
      ...restConversation(c),
      last_message_at: c.lastMessageAt?.toISOString() ?? null,
      unread_count: unread.get(c.id) ?? 0,
      last_read_at: c.lastReadAt?.toISOString() ?? null,
    }))
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/conversations/:id/messages',
    async (request) => {
      const { first, after } = request.query
      const page = await conversations.messagePage(request.params.id, { first, after })
      const details = await conversations.details(page.nodes)
      return restPage(page, (m) => restMessage(m, details.get(m.id)))
    },
  )

  app.get<{ Querystring: Record<string, unknown> }>('/scheduled', async (request) => {
    const { first, after, status } = request.query
    return restPage(await scheduled.page({ first, after, status }), restScheduledSend)
  })

  app.delete<{ Params: { id: string } }>('/scheduled/:id', async (request) => {
    return { success: true, data: restScheduledSend(await scheduled.cancel(request.params.id)) }
  })

  await app.register(mediaRoutes, { media })

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
