import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { ConversationRecord, MessageRecord } from '../conversations/conversation.repository.js'
import { serviceWindowExpiresAt } from '../conversations/service-window.js'
import { errorPayload, UnauthenticatedError } from '../errors.js'
import type { MessagingService } from '../messaging/messaging.service.js'
import type { TemplateService } from '../templates/template.service.js'

export interface WhatsappRoutesOptions {
  messaging: MessagingService
  templates: TemplateService
  isAuthorized: (authorization: string | undefined) => boolean
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
  { messaging, templates, isAuthorized },
) => {
  app.addHook('onRequest', async (request) => {
    if (!isAuthorized(request.headers.authorization)) throw new UnauthenticatedError()
  })

  app.post('/send', async (request) => {
    const { message, conversation } = await messaging.sendText(request.body)
    return { success: true, data: { message: restMessage(message), conversation: restConversation(conversation) } }
  })

  app.post<{ Params: { id: string } }>('/conversations/:id/messages', async (request) => {
    const m = await messaging.sendInConversation(request.params.id, request.body)
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

  app.post('/send-template', async (request) => {
    const { summary, results } = await messaging.sendTemplate(request.body)
    return {
      success: true,
      summary,
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

  app.get<{ Querystring: { status?: string } }>('/templates', async (request) => {
    const list = await templates.list({ refresh: true, status: request.query.status })
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
