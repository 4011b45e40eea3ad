import type { ScheduledSendRecord } from './scheduled-send.repository.js'

/** A scheduled send as GraphQL's ScheduledSend shows it. */
export const scheduledSendView = (s: ScheduledSendRecord) => ({
  ...s,
  error: s.errorCode
    ? { code: s.errorCode, message: s.errorMessage ?? '', details: (s.errorDetails as Record<string, unknown>) ?? null }
    : null,
})

/** The REST answer to a send with `sendAt` (202): exactly these fields. */
export const restScheduledAnswer = (s: ScheduledSendRecord) => ({
  scheduled_id: s.id,
  send_at: s.sendAt.toISOString(),
  status: s.status,
})

/** A scheduled send in the REST list, and as DELETE answers it. */
export const restScheduledSend = (s: ScheduledSendRecord) => ({
  ...restScheduledAnswer(s),
  kind: s.kind,
  sent_at: s.sentAt?.toISOString() ?? null,
  late: s.late,
  completed_at: s.completedAt?.toISOString() ?? null,
  phone_number: s.phoneNumber,
  conversation_id: s.conversationId,
  template_name: s.templateName,
  language: s.language,
  message_id: s.messageId,
  batch_id: s.batchId,
  error: s.errorCode
    ? { code: s.errorCode, message: s.errorMessage ?? '', ...((s.errorDetails as Record<string, unknown>) ?? {}) }
    : null,
  created_at: s.createdAt.toISOString(),
})
