import { z } from 'zod'
import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { MessageDetails } from '../conversations/conversation.service.js'
import { MediaStatus } from '../messages/message-parts.type.js'
import { mediaView } from '../messages/message.view.js'
import { serviceWindowExpiresAt } from '../conversations/service-window.js'
import type { Page } from '../shared/pagination.js'

/**
 * The documented snake_case shapes of the REST answers (fields are added, never changed), as zod
 * schemas: the functions below are typed by them, and the OpenAPI document (src/openapi/) is
 * generated from them, so the two cannot drift apart.
 */

const id = z.number().int().min(1)
const dateTime = z.iso.datetime()

export const restMediaSchema = z
  .object({
    media_id: z.string().describe('Ours (med_…): send it again with mediaId'),
    mime_type: z.string().nullable(),
    size: z.number().int().nullable().describe('Bytes'),
    sha256: z.string().nullable().describe('Hex SHA-256 of the bytes'),
    filename: z.string().nullable(),
    caption: z.string().nullable(),
    url: z
      .string()
      .nullable()
      .describe('Where to get the bytes: /api/whatsapp/media/{mediaId} (same bearer token), or the link we sent'),
    status: z.enum(MediaStatus),
    error: z.string().nullable().describe('Why fetching a customer’s file failed'),
    voice: z.boolean().describe('A voice note recorded in WhatsApp'),
  })
  .describe('The file of an image, video, audio, document or sticker message')

const location = z.object({
  latitude: z.number(),
  longitude: z.number(),
  name: z.string().nullable(),
  address: z.string().nullable(),
})

const button = z.object({ id: z.string(), title: z.string() })
const sentInteractive = z
  .object({
    type: z.enum(['button', 'list']),
    header: z.string().nullable(),
    body: z.string(),
    footer: z.string().nullable(),
    buttons: z.array(button).optional(),
    list: z
      .object({
        button: z.string(),
        sections: z.array(
          z.object({
            title: z.string().nullable(),
            rows: z.array(z.object({ id: z.string(), title: z.string(), description: z.string().nullable() })),
          }),
        ),
      })
      .optional(),
  })
  .describe('Our buttons or list, as sent')
const receivedInteractive = z
  .object({
    type: z.enum(['button_reply', 'list_reply', 'button']),
    id: z.string().nullable(),
    title: z.string().nullable(),
    description: z.string().nullable(),
    payload: z.string().nullable().describe('A template button’s payload'),
  })
  .describe('The customer’s answer to our buttons or list, or a tap on a template’s quick-reply button')

export const restMessageSchema = z.object({
  message_id: id,
  conversation_id: id,
  content: z.string().nullable(),
  message_type: z.string().describe('text, image, video, audio, document, sticker, location, interactive, template, …'),
  direction: z.enum(['inbound', 'outbound']),
  status: z.enum(['pending', 'unknown', 'sent', 'delivered', 'read', 'failed']),
  wamid: z.string().nullable().describe('Meta’s message id, once Meta took the message'),
  created_at: dateTime,
  media: restMediaSchema.nullable(),
  location: location.nullable(),
  interactive: z.union([sentInteractive, receivedInteractive]).nullable(),
  contacts: z.array(z.record(z.string(), z.unknown())).nullable().describe('Shared contacts, as Meta sent them'),
  reply_to_message_id: id.nullable().describe('The message this one quotes or answers'),
  sent_by: z.string().nullable().describe('Outbound: the name of the API key (or token) that sent it; null inbound'),
  reactions: z.array(
    z.object({ emoji: z.string().nullable(), by: z.enum(['customer', 'business']), reacted_at: dateTime }),
  ),
})
export type RestMessage = z.output<typeof restMessageSchema>

export const restConversationSchema = z.object({
  conversation_id: id,
  phone_number: z.string().nullable().describe('Digits, without +; null for a customer Meta knows only by user id'),
  request_id: id.nullable(),
  contact_name: z.string().nullable(),
  service_window_expires_at: dateTime.nullable().describe('When the 24-hour customer-service window closes'),
  wa_id: z
    .string()
    .nullable()
    .describe('The customer’s WhatsApp id as Meta names it; can differ from phone_number, the number sent to'),
  business_phone_number_id: z
    .string()
    .nullable()
    .describe('The business number (Meta phone number id) the customer talks to: each has its own conversations'),
})
export type RestConversation = z.output<typeof restConversationSchema>

const NO_DETAILS: MessageDetails = { media: null, reactions: [] }

export function restMessage(m: MessageRecord, details: MessageDetails = NO_DETAILS): RestMessage {
  const media = details.media && mediaView(m, details.media)
  return {
    message_id: m.id,
    conversation_id: m.conversationId,
    content: m.content,
    message_type: m.type,
    direction: m.direction,
    status: m.status,
    wamid: m.wamid,
    created_at: m.createdAt.toISOString(),
    media: media && {
      media_id: media.id,
      mime_type: media.mimeType,
      size: media.size,
      sha256: media.sha256,
      filename: media.filename,
      caption: media.caption,
      url: media.url,
      status: media.status,
      error: media.error,
      voice: media.voice,
    },
    location: m.location,
    interactive: m.interactive,
    contacts: m.contacts,
    reply_to_message_id: m.replyToMessageId,
    sent_by: m.sentBy,
    reactions: details.reactions.map((r) => ({ emoji: r.emoji, by: r.actor, reacted_at: r.reactedAt.toISOString() })),
  }
}

export const restConversation = (c: ConversationRecord): RestConversation => ({
  conversation_id: c.id,
  phone_number: c.phoneNumber,
  request_id: c.requestId,
  contact_name: c.contactName,
  service_window_expires_at: serviceWindowExpiresAt(c)?.toISOString() ?? null,
  wa_id: c.waId,
  business_phone_number_id: c.businessPhoneNumberId,
})

/** `{"success":true,"data":…}`: every answer but lists and send-template. */
export const okSchema = <T extends z.ZodType>(data: T) => z.object({ success: z.literal(true), data })

/** A cursor page: `data`, `page_info`, `total_count`. */
export const pageSchema = <T extends z.ZodType>(node: T) =>
  z.object({
    success: z.literal(true),
    data: z.array(node),
    page_info: z.object({
      has_next_page: z.boolean(),
      end_cursor: z.string().nullable().describe('Pass as `after` for the next page'),
    }),
    total_count: z.number().int().min(0),
  })

export const restPage = async <T, R>(page: Page<T>, shape: (node: T) => R) => ({
  success: true as const,
  data: page.nodes.map(shape),
  page_info: { has_next_page: page.hasNextPage, end_cursor: page.endCursor },
  total_count: await page.totalCount(),
})

/** A template fan-out, with its recipients per message state (the `batch.completed` event). */
export const restBatch = (
  b: {
    id: number
    templateName: string
    language: string
    status: string
    total: number
    createdAt: Date
    completedAt: Date | null
  },
  progress: Record<string, number>,
) => ({
  batch_id: b.id,
  template_name: b.templateName,
  language: b.language,
  status: b.status,
  total: b.total,
  created_at: b.createdAt.toISOString(),
  completed_at: b.completedAt?.toISOString() ?? null,
  progress,
})
