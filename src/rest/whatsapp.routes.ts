import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Principal } from '../auth/principal.js'
import type { IdempotencyKeyInput } from '../idempotency/idempotency.service.js'
import type { MessageRecord } from '../messages/message.records.js'
import {
  conversationFilterSchema,
  conversationPageSchema,
  messagePageSchema,
} from '../conversations/conversation.service.js'
import { errorPayload, ValidationError } from '../errors/errors.js'
import type { MediaService } from '../media/media.service.js'
import { markReadSchema, sendInConversationSchema, sendToNumberSchema } from '../messaging/messaging.schemas.js'
import { documented } from '../openapi/operation.js'
import { idSchema } from '../shared/ids.js'
import { templateListSchema } from '../templates/template.service.js'
import { mediaRoutes } from './media.routes.js'
import { okSchema, pageSchema, restConversation, restMessage, restMessageSchema, restPage } from './rest.shapes.js'
import {
  conversationId,
  conversationsAnswer,
  idempotencyKey,
  readAnswer,
  schedulable,
  scheduledDoc,
  scheduledSendSchema,
  SEND_ERRORS,
  sendAnswer,
  templateAnswer,
  templatesAnswer,
} from './whatsapp.docs.js'
import type { Gate } from '../auth/auth.js'
import type { ConversationService } from '../conversations/conversation.service.js'
import type { MessagingService, SendRequest } from '../messaging/messaging.service.js'
import type { ScheduledSendService } from '../scheduled/scheduled-send.service.js'
import { SCHEDULED_SEND_STATUSES } from '../scheduled/scheduled-send.repository.js'
import { listSchema } from '../scheduled/scheduled-send.schemas.js'
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
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', async (request) => {
    request.principal = await gate(request.headers.authorization)
    request.caller = request.principal.caller
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
   * A send with `sendAt` is stored to be sent then, answered 202 (true); without, false (send now). It is
   * stored without `sendAt`, as an immediate send takes it.
   */
  const later = async (
    request: FastifyRequest,
    reply: FastifyReply,
    send: (input: unknown) => SendRequest,
  ): Promise<boolean> => {
    const body = request.body
    if (!body || typeof body !== 'object' || Array.isArray(body)) return false
    const { sendAt, ...input } = body as Record<string, unknown>
    if (sendAt === undefined || sendAt === null) return false
    const s = await scheduled.schedule(
      send(input),
      sendAt,
      keyOf(request),
      request.principal.phoneNumberIds,
      request.principal.name,
    )
    // Sent here, and the handler returns the reply (a reply is a thenable: it is not returned through `await`).
    reply.code(202).send({ success: true, data: restScheduledAnswer(s) })
    return true
  }

  app.route(
    documented(
      {
        method: 'POST',
        url: '/send',
        operationId: 'sendMessage',
        tag: 'Messages',
        summary: 'Send a message to a phone number',
        description:
          'Creates the conversation if there is none; `requestId` links it to a service request. Any kind ' +
          'of message: `type` (text by default) and that type’s fields.',
        headers: idempotencyKey,
        body: { json: schedulable(sendToNumberSchema) },
        answers: {
          200: { description: 'Sent: the message and its conversation', json: sendAnswer },
          202: scheduledDoc,
        },
        errors: SEND_ERRORS,
      },
      async (request, reply) => {
        if (await later(request, reply, (input) => ({ kind: 'sendText', input }))) return reply
        const { message, conversation } = await messaging.sendToNumber(
          request.body,
          keyOf(request),
          request.principal.phoneNumberIds,
          request.principal.name,
        )
        return { success: true, data: { message: await sent(message), conversation: restConversation(conversation) } }
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'POST',
        url: '/conversations/:id/messages',
        operationId: 'sendInConversation',
        tag: 'Messages',
        summary: 'Send a message in a conversation',
        params: conversationId,
        headers: idempotencyKey,
        body: { json: schedulable(sendInConversationSchema) },
        answers: { 200: { description: 'Sent: the message', json: okSchema(restMessageSchema) }, 202: scheduledDoc },
        errors: [...SEND_ERRORS, 'NOT_FOUND'],
      },
      async (request, reply) => {
        if (
          await later(request, reply, (input) => ({
            kind: 'sendInConversation',
            conversationId: request.params.id,
            input,
          }))
        )
          return reply
        const m = await messaging.sendInConversation(
          request.params.id,
          request.body,
          keyOf(request),
          request.principal.phoneNumberIds,
          request.principal.name,
        )
        // The documented fields first, as they always were; the message's other fields after them.
        const { message_id, conversation_id, content, status, wamid, ...rest } = await sent(m)
        return { success: true, data: { message_id, conversation_id, content, status, wamid, ...rest } }
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'POST',
        url: '/conversations/:id/read',
        operationId: 'markConversationRead',
        tag: 'Conversations',
        summary: 'Mark the customer’s latest message read (blue ticks)',
        description: '`{"typing":true}` also shows “typing…” to the customer, for up to 25 s.',
        params: conversationId,
        body: { json: markReadSchema, optional: true },
        answers: { 200: { description: 'Read up to the latest inbound message', json: readAnswer } },
        errors: ['VALIDATION_FAILED', 'NOT_FOUND', 'META_API_ERROR', 'META_TOKEN_INVALID', 'META_UNREACHABLE'],
      },
      async (request) => {
        const c = await messaging.markRead(request.params.id, request.body, request.principal.phoneNumberIds)
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
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'POST',
        url: '/send-template',
        operationId: 'sendTemplate',
        tag: 'Templates',
        summary: 'Send an approved template to one or many recipients',
        description:
          'Checked against the synced template before anyone is contacted (422 naming the component at ' +
          'fault). One recipient failing never fails the others: each has its own result.',
        headers: idempotencyKey,
        body: { json: schedulable(messaging.templateSchema) },
        answers: {
          200: {
            description: 'Every recipient’s outcome',
            json: templateAnswer,
            headers: {
              'X-Template-Batch-Id': {
                description: 'The stored batch (GraphQL `templateBatch(id)`)',
                schema: z.number().int(),
              },
            },
          },
          202: scheduledDoc,
        },
        errors: [
          'VALIDATION_FAILED',
          'IDEMPOTENCY_KEY_IN_FLIGHT',
          'IDEMPOTENCY_KEY_REUSED',
          'META_API_ERROR',
          'META_TOKEN_INVALID',
          'META_UNREACHABLE',
          'SERVICE_STOPPING',
          'BATCH_INTERRUPTED',
        ],
      },
      async (request, reply) => {
        if (await later(request, reply, (input) => ({ kind: 'sendTemplate', input }))) return reply
        const { batchId, summary, results } = await messaging.sendTemplate(
          request.body,
          keyOf(request),
          request.principal.phoneNumberIds,
          request.principal.name,
        )
        // The body keeps the documented shape exactly; the stored batch (GraphQL templateBatch) is named here.
        reply.header('x-template-batch-id', String(batchId))
        return {
          success: true,
          summary: { total: summary.total, sent: summary.sent, failed: summary.failed },
          results: results.map((r) =>
            r.success
              ? {
                  phoneNumber: r.phoneNumber,
                  success: true as const,
                  data: {
                    messages: [{ id: r.wamid }],
                    message_id: r.message.id,
                    conversation_id: r.message.conversationId,
                  },
                }
              : { phoneNumber: r.phoneNumber, success: false as const, error: errorPayload(r.error) },
          ),
        }
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'GET',
        url: '/conversations',
        operationId: 'listConversations',
        tag: 'Conversations',
        summary: 'List conversations, newest activity first',
        description: 'Cursor pages: pass `page_info.end_cursor` as `after` for the next one.',
        // Filters are top-level query parameters here, not GraphQL's `filter` argument.
        query: conversationPageSchema.omit({ filter: true }).extend(conversationFilterSchema.shape),
        answers: { 200: { description: 'A page of conversations', json: conversationsAnswer } },
        errors: ['VALIDATION_FAILED'],
      },
      async (request) => {
        const { first, after, ...filter } = request.query
        const page = await conversations
          .page({ first, after, filter }, request.principal.phoneNumberIds)
          .catch((err: unknown) => {
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
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'GET',
        url: '/conversations/:id/messages',
        operationId: 'listMessages',
        tag: 'Conversations',
        summary: 'List a conversation’s messages, newest first',
        params: conversationId,
        query: messagePageSchema,
        answers: { 200: { description: 'A page of messages', json: pageSchema(restMessageSchema) } },
        errors: ['VALIDATION_FAILED', 'NOT_FOUND'],
      },
      async (request) => {
        const { first, after } = request.query
        const page = await conversations.messagePage(
          request.params.id,
          { first, after },
          request.principal.phoneNumberIds,
        )
        return restPage(page, (m) => restMessage(m, page.details.get(m.id)))
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'GET',
        url: '/scheduled',
        operationId: 'listScheduledSends',
        tag: 'Scheduled sends',
        summary: 'List scheduled sends, soonest first',
        description: '`status`: `pending` (scheduled or sending, the default), `all`, or one status.',
        query: listSchema.extend({
          status: z
            .enum(['pending', 'all', ...SCHEDULED_SEND_STATUSES])
            .optional()
            .describe('Which ones: pending by default'),
        }),
        answers: { 200: { description: 'A page of scheduled sends', json: pageSchema(scheduledSendSchema) } },
        errors: ['VALIDATION_FAILED'],
      },
      async (request) => {
        const { first, after, status } = request.query
        return restPage(
          await scheduled.page({ first, after, status }, request.principal.phoneNumberIds),
          restScheduledSend,
        )
      },
    ),
  )

  app.route(
    documented(
      {
        method: 'DELETE',
        url: '/scheduled/:id',
        operationId: 'cancelScheduledSend',
        tag: 'Scheduled sends',
        summary: 'Cancel a scheduled send that has not started',
        params: z.object({ id: idSchema }),
        answers: { 200: { description: 'Cancelled (again, if it was)', json: okSchema(scheduledSendSchema) } },
        errors: ['VALIDATION_FAILED', 'NOT_FOUND', 'SCHEDULED_SEND_STARTED'],
      },
      async (request) => ({
        success: true,
        data: restScheduledSend(await scheduled.cancel(request.params.id, request.principal.phoneNumberIds)),
      }),
    ),
  )

  await app.register(mediaRoutes, { media })

  app.route(
    documented(
      {
        method: 'GET',
        url: '/templates',
        operationId: 'listTemplates',
        tag: 'Templates',
        summary: 'Sync templates from Meta and list them',
        description: 'Fetches every template from Meta first; those Meta no longer has are not listed.',
        query: templateListSchema.omit({ refresh: true }),
        answers: { 200: { description: 'The templates', json: templatesAnswer } },
        errors: ['VALIDATION_FAILED', 'META_API_ERROR', 'META_TOKEN_INVALID', 'META_UNREACHABLE'],
      },
      async (request) => {
        const list = await templates.list({ ...request.query, refresh: true }, request.principal.phoneNumberIds)
        return {
          success: true,
          data: list.map((t) => ({
            name: t.name,
            status: t.status,
            category: t.category,
            language: t.language,
            parameter_format: t.parameterFormat,
            components: t.components,
            business_account_id: t.businessAccountId,
          })),
        }
      },
    ),
  )
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling (a digest of their API token), set once the gate let them in. */
    caller: string
    /** Who is calling: the key's name, scope and numbers. */
    principal: Principal
  }
}
