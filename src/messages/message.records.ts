import type { InteractiveContent, LocationContent } from '../meta/meta.outgoing.js'
import type { InboundInteractiveReply } from '../meta/meta.webhooks.js'
import type { DeliveredStatus, MessageStatus } from './message-status.js'

export type { MessageStatus } from './message-status.js'

export type MessageDirection = 'inbound' | 'outbound'

/**
 * A conversation row. Defined beside the message rows because storing a message keeps its
 * conversation's summary (created on a first send, last activity, last message).
 */
export interface ConversationRecord {
  id: number
  /** The business number the customer talks to (null only before the start's backfill). */
  businessPhoneNumberId: string | null
  /** Digits only, E.164 without `+`; null for customers Meta only knows by user id. */
  phoneNumber: string | null
  /** The customer's WhatsApp id, as Meta names them (may differ from the number typed). */
  waId: string | null
  waUserId: string | null
  contactName: string | null
  requestId: number | null
  lastMessageAt: Date | null
  lastInboundAt: Date | null
  lastMessageId: number | null
  lastReadMessageId: number | null
  lastReadAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface MessageRecord {
  id: number
  conversationId: number
  direction: MessageDirection
  type: string
  content: string | null
  template: unknown
  status: MessageStatus
  wamid: string | null
  requestId: number | null
  payload: unknown
  sentByCustomerAt: Date | null
  sentAt: Date | null
  deliveredAt: Date | null
  readAt: Date | null
  failedAt: Date | null
  errorCode: number | null
  errorMessage: string | null
  errorDetails: string | null
  errorTraceId: string | null
  attemptedAt: Date | null
  batchId: number | null
  recipient: string | null
  mediaId: string | null
  filename: string | null
  location: LocationContent | null
  /** Sent: our buttons or list. Received: the customer's answer. */
  interactive: InteractiveContent | InboundInteractiveReply | null
  contacts: Record<string, unknown>[] | null
  replyToWamid: string | null
  replyToMessageId: number | null
  /** Outbound: the name of the key that sent it (null inbound, and for messages from before keys). */
  sentBy: string | null
  createdAt: Date
  updatedAt: Date
}

/** What a message carries besides its text (all optional). */
export interface MessageParts {
  mediaId?: string | null
  filename?: string | null
  location?: LocationContent | null
  interactive?: InteractiveContent | InboundInteractiveReply | null
  contacts?: Record<string, unknown>[] | null
  /** The message it quotes, answers or reacts to. */
  replyToWamid?: string | null
  replyToMessageId?: number | null
}

export interface NewMessage extends MessageParts {
  direction: MessageDirection
  type: string
  content: string | null
  template?: object
  status: MessageStatus
  requestId?: number | null
  /** Outbound: set when Meta is about to be called for it. */
  attemptedAt?: Date | null
  /** Outbound: the name of the key that sent it. */
  sentBy?: string | null
}

export interface NewInboundMessage extends MessageParts {
  wamid: string
  type: string
  content: string | null
  payload: object
  sentByCustomerAt: Date
}

export interface StatusUpdate {
  wamid: string
  status: DeliveredStatus
  timestamp: Date
  error: { code: number | null; title: string; details: string | null } | null
  /** Our message id, when Meta echoed the callback data we sent with it. */
  messageId?: number | null
}

export type MessageOutcome =
  | { status: 'sent'; wamid: string }
  | { status: 'unknown'; errorMessage: string }
  | {
      status: 'failed'
      errorCode: number | null
      errorMessage: string
      errorDetails?: string | null
      errorTraceId?: string | null
    }

/** The parts of a message that carries only text (a template). */
export const NO_PARTS = {
  mediaId: null,
  filename: null,
  location: null,
  interactive: null,
  contacts: null,
  replyToWamid: null,
  replyToMessageId: null,
} as const satisfies Required<MessageParts>
