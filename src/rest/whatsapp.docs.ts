import { z } from 'zod'
import type { ErrorCode } from '../errors/errors.js'
import { KEY_PATTERN } from '../idempotency/idempotency.service.js'
import { SCHEDULED_SEND_STATUSES } from '../scheduled/scheduled-send.repository.js'
import { idSchema } from '../shared/ids.js'
import { documentAs, documentationOf } from '../validation.js'
import { okSchema, pageSchema, restConversationSchema, restMessageSchema } from './rest.shapes.js'

// What the REST routes answer and take, as the OpenAPI document shows them (whatsapp.routes.ts
// types its handlers by these).

/** Answer schemas (the handlers below are typed by them; the OpenAPI document shows them). */
export const sendAnswer = okSchema(z.object({ message: restMessageSchema, conversation: restConversationSchema }))
export const readAnswer = okSchema(
  z.object({
    conversation_id: z.number().int(),
    last_read_message_id: z.number().int().nullable().describe('The customer’s latest message, now read'),
    read_at: z.iso.datetime().nullable(),
    unread_count: z.number().int().min(0),
  }),
)
export const templateAnswer = z.object({
  success: z.literal(true),
  summary: z.object({ total: z.number().int(), sent: z.number().int(), failed: z.number().int() }),
  results: z.array(
    z.union([
      z.object({
        phoneNumber: z.string().describe('As given in the request'),
        success: z.literal(true),
        data: z.object({
          messages: z.array(z.object({ id: z.string().describe('Meta’s message id (wamid)') })),
          message_id: z.number().int(),
          conversation_id: z.number().int(),
        }),
      }),
      z.object({
        phoneNumber: z.string(),
        success: z.literal(false),
        error: z.object({ code: z.string(), message: z.string() }).catchall(z.unknown()),
      }),
    ]),
  ),
})
export const conversationsAnswer = pageSchema(
  restConversationSchema.extend({
    last_message_at: z.iso.datetime().nullable(),
    unread_count: z.number().int().min(0).describe('Inbound messages newer than the last one read'),
    last_read_at: z.iso.datetime().nullable(),
  }),
)
export const templatesAnswer = okSchema(
  z.array(
    z.object({
      name: z.string(),
      status: z.string().describe('APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …'),
      category: z.string(),
      language: z.string(),
      parameter_format: z.string().nullable().describe('POSITIONAL ({{1}}) or NAMED ({{name}})'),
      components: z.array(
        z
          .object({
            type: z.string(),
            format: z.string().optional(),
            text: z.string().optional(),
            buttons: z
              .array(
                z.object({
                  type: z.string(),
                  text: z.string().optional(),
                  url: z.string().optional(),
                  phone_number: z.string().optional(),
                }),
              )
              .optional(),
            example: z.unknown().optional(),
          })
          .describe('As Meta has it'),
      ),
      business_account_id: z
        .string()
        .nullable()
        .describe('The WhatsApp Business Account it belongs to (templates are per account)'),
    }),
  ),
)

/** A scheduled send as answered at once (202), and as the list and a cancel show it. */
export const scheduledAnswerSchema = z.object({
  scheduled_id: z.number().int(),
  send_at: z.iso.datetime(),
  status: z.enum(SCHEDULED_SEND_STATUSES),
})
export const scheduledSendSchema = scheduledAnswerSchema.extend({
  kind: z.enum(['sendText', 'sendInConversation', 'sendTemplate']).describe('Which send it replays'),
  sent_at: z.iso.datetime().nullable().describe('When an instance started sending it'),
  late: z.boolean().describe('Started more than 5 s after send_at (every instance was down, say)'),
  completed_at: z.iso.datetime().nullable(),
  phone_number: z.string().nullable(),
  conversation_id: z.number().int().nullable(),
  template_name: z.string().nullable(),
  language: z.string().nullable(),
  message_id: z.number().int().nullable().describe('The message it became'),
  batch_id: z.number().int().nullable().describe('The fan-out it became (send-template)'),
  error: z.object({ code: z.string(), message: z.string() }).catchall(z.unknown()).nullable(),
  created_at: z.iso.datetime(),
})
export const scheduledDoc = {
  description: 'With `sendAt`: stored, to be sent then exactly as an immediate send would be',
  json: okSchema(scheduledAnswerSchema),
}
export const sendAtField = z
  .string()
  .describe(
    'Send later instead of now: ISO 8601 with a UTC offset, in the future, at most 30 days ahead (answered 202)',
  )

/** A send body that also takes `sendAt` (it is taken off before the send's own validation). */
export function schedulable(schema: z.ZodType): z.ZodType {
  const documented = documentationOf(schema)
  if (!(documented instanceof z.ZodObject)) throw new Error('a schedulable send body is documented as an object')
  return documentAs(z.unknown(), documented.extend({ sendAt: sendAtField.optional() }))
}

/** Request parts shared by several routes (each the schema its service validates with). */
export const conversationId = z.object({ id: idSchema })
export const idempotencyKey = {
  'Idempotency-Key': {
    description: 'Sending again with the same key answers the first response again, without sending twice',
    schema: z.string().regex(KEY_PATTERN),
  },
}
/** What a send may be refused with besides a bad request, and what Meta may answer. */
export const SEND_ERRORS: ErrorCode[] = [
  'VALIDATION_FAILED',
  'WINDOW_CLOSED',
  'IDEMPOTENCY_KEY_IN_FLIGHT',
  'IDEMPOTENCY_KEY_REUSED',
  'META_API_ERROR',
  'META_TOKEN_INVALID',
  'META_UNREACHABLE',
  'META_OUTCOME_UNKNOWN',
]
