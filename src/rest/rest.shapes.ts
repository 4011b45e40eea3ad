import type { ConversationRecord, MessageRecord } from '../messages/message.records.js'
import type { MessageDetails } from '../conversations/conversation.service.js'
import { mediaView } from '../messages/message.view.js'
import { serviceWindowExpiresAt } from '../conversations/service-window.js'
import type { Page } from '../shared/pagination.js'

/** The documented snake_case shapes of the REST answers (fields are added, never changed). */

const NO_DETAILS: MessageDetails = { media: null, reactions: [] }

export function restMessage(m: MessageRecord, details: MessageDetails = NO_DETAILS) {
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
    reactions: details.reactions.map((r) => ({ emoji: r.emoji, by: r.actor, reacted_at: r.reactedAt.toISOString() })),
  }
}

export const restConversation = (c: ConversationRecord) => ({
  conversation_id: c.id,
  phone_number: c.phoneNumber,
  request_id: c.requestId,
  contact_name: c.contactName,
  service_window_expires_at: serviceWindowExpiresAt(c)?.toISOString() ?? null,
})

export const restPage = async <T, R>(page: Page<T>, shape: (node: T) => R) => ({
  success: true,
  data: page.nodes.map(shape),
  page_info: { has_next_page: page.hasNextPage, end_cursor: page.cursors.at(-1) ?? null },
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
