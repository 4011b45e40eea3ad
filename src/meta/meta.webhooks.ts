import { createHmac, timingSafeEqual } from 'node:crypto'
import { messageIdFromCallbackData } from './meta.api.js'
import { MEDIA_KINDS, type MediaKind } from './meta.limits.js'
import type { LocationContent } from './meta.outgoing.js'

/**
 * Meta's webhook payloads for WhatsApp, read into plain changes the rest of the service applies.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
 */

/** A customer's file, as the webhook names it (fetched from Meta afterwards). */
export interface InboundMedia {
  kind: MediaKind
  metaId: string
  mimeType: string | null
  /** As Meta gives it (base64 or hex). */
  sha256: string | null
  filename: string | null
  /** A voice note (audio recorded in WhatsApp). */
  voice: boolean
}

/** The customer's answer to our buttons or list, or a tap on a template's quick-reply button. */
export interface InboundInteractiveReply {
  type: 'button_reply' | 'list_reply' | 'button'
  id: string | null
  title: string | null
  description: string | null
  /** A template button's payload. */
  payload: string | null
}

/** A message a customer sent us. */
export interface InboundMessageChange {
  kind: 'inbound-message'
  /** The business number written to (`metadata.phone_number_id`). */
  phoneNumberId: string | null
  /** Digits; absent for username-only users. */
  from: string | null
  /** Meta's business-scoped user id, when sent. */
  userId: string | null
  contactName: string | null
  wamid: string
  type: string
  /** A readable text: the text, a caption, a reply's title, a place's name, a marker for unsupported types. */
  content: string | null
  /** Meta's message object as received. */
  payload: Record<string, unknown>
  timestamp: Date
  /** The wamid of the message it quotes, answers or reacts to (Meta's `context.id`). */
  contextWamid: string | null
  media: InboundMedia | null
  location: LocationContent | null
  /** Shared contacts, as Meta sent them. */
  contacts: Record<string, unknown>[] | null
  interactive: InboundInteractiveReply | null
  /** A reaction to one of the conversation's messages (not a message of its own); a null emoji removes it. */
  reaction: { targetWamid: string; emoji: string | null } | null
}

export type DeliveryState = 'sent' | 'delivered' | 'read' | 'failed'

/** A delivery status for one of our outbound messages. */
export interface StatusChange {
  kind: 'status'
  /** The business number that sent the message (`metadata.phone_number_id`). */
  phoneNumberId: string | null
  wamid: string
  status: DeliveryState
  timestamp: Date
  error: { code: number | null; title: string; details: string | null } | null
  /** Our message id, from the `biz_opaque_callback_data` we sent with it. */
  messageId: number | null
}

export interface TemplateStatusChange {
  kind: 'template-status'
  /** The WhatsApp Business Account it belongs to (the entry's id). */
  businessAccountId: string | null
  name: string
  language: string
  status: string
  /** Meta's reason (`reason`, or `other_info` for a pause), when it gave one. */
  reason: string | null
}

export type WebhookChange = InboundMessageChange | StatusChange | TemplateStatusChange

/** Thrown for a payload that is not a WhatsApp webhook we can read. */
export class UnreadableWebhookError extends Error {
  override name = 'UnreadableWebhookError'
}

/**
 * True when `header` (`X-Hub-Signature-256: sha256=<hex>`) is the HMAC-SHA256 of the raw body with
 * one of `secrets` (two during a rotation). Compared in constant time.
 * @see https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
 */
export function isValidSignature(rawBody: Buffer, header: string | undefined, secrets: string[]): boolean {
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header ?? '')
  if (!match) return false
  const given = Buffer.from(match[1].toLowerCase(), 'hex')
  let valid = false
  for (const secret of secrets) {
    valid = timingSafeEqual(createHmac('sha256', secret).update(rawBody).digest(), given) || valid
  }
  return valid
}

/** `sha256=<hex>` for a body, as Meta signs it. */
export function signWebhook(rawBody: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`
}

/** JSON as Meta serialises webhooks: non-ASCII as `\u00f3` escapes, `/` as `\/`. */
export function metaJson(payload: unknown): string {
  return JSON.stringify(payload)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/')
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null)
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : [])

function timestampOf(v: unknown): Date {
  const seconds = Number(v)
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UnreadableWebhookError(`bad timestamp ${String(v)}`)
  return new Date(seconds * 1000)
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

function mediaOf(type: string | null, part: Obj): InboundMedia | null {
  const kind = MEDIA_KINDS.find((k) => k === type)
  const metaId = str(part.id)
  if (!kind || !metaId) return null
  return {
    kind,
    metaId,
    mimeType: str(part.mime_type),
    sha256: str(part.sha256),
    filename: str(part.filename),
    voice: part.voice === true,
  }
}

function locationOf(part: Obj): LocationContent | null {
  const latitude = num(part.latitude)
  const longitude = num(part.longitude)
  if (latitude === null || longitude === null) return null
  return { latitude, longitude, name: str(part.name), address: str(part.address) }
}

function interactiveOf(type: string | null, part: Obj): InboundInteractiveReply | null {
  if (type === 'button') {
    return { type: 'button', id: null, title: str(part.text), description: null, payload: str(part.payload) }
  }
  if (type !== 'interactive') return null
  const kind = str(part.type)
  const reply = kind === 'button_reply' || kind === 'list_reply' ? part[kind] : null
  if (!isObj(reply)) return null
  return {
    type: kind as 'button_reply' | 'list_reply',
    id: str(reply.id),
    title: str(reply.title),
    description: str(reply.description),
    payload: null,
  }
}

const contactName = (c: Obj) => (isObj(c.name) ? (str(c.name.formatted_name) ?? str(c.name.first_name)) : null)

/** A readable text for the message, where one exists; a visible marker for what we cannot show. */
function contentOf(message: Obj, type: string | null, part: Obj): string | null {
  switch (type) {
    case 'text':
      return str(part.body)
    case 'button':
      return str(part.text) ?? str(part.payload)
    case 'interactive': {
      const reply = interactiveOf(type, part)
      return reply ? (reply.title ?? reply.id) : '[interactive message]'
    }
    case 'image':
    case 'video':
    case 'sticker':
    case 'audio':
      return str(part.caption)
    case 'document':
      return str(part.caption) ?? str(part.filename)
    case 'location':
      return str(part.name) ?? str(part.address) ?? `${String(part.latitude)}, ${String(part.longitude)}`
    case 'contacts':
      return list(message.contacts).map(contactName).filter(Boolean).join(', ') || '[contacts]'
    case 'reaction':
      return str(part.emoji)
    case 'system':
      return str(part.body) ?? '[system message]'
    case 'unsupported': {
      const error = list(message.errors)[0]
      return `[unsupported message${error ? `: ${str(error.title) ?? str(error.message) ?? String(error.code)}` : ''}]`
    }
    default:
      return `[${type ?? 'unknown'} message]`
  }
}

const STATES: Record<string, DeliveryState> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  played: 'read',
  failed: 'failed',
}

/**
 * The changes in one webhook delivery, in order. Entries we do not handle (other fields, other
 * objects) are skipped; a payload that is not a WhatsApp Business webhook at all is unreadable.
 * @throws UnreadableWebhookError
 */
export function readWebhook(body: unknown): WebhookChange[] {
  if (!isObj(body) || body.object !== 'whatsapp_business_account' || !Array.isArray(body.entry)) {
    throw new UnreadableWebhookError('not a whatsapp_business_account webhook')
  }
  const changes: WebhookChange[] = []
  for (const entry of list(body.entry)) {
    const businessAccountId = str(entry.id)
    for (const change of list(entry.changes)) {
      const value = isObj(change.value) ? change.value : {}
      const phoneNumberId = isObj(value.metadata) ? str(value.metadata.phone_number_id) : null
      if (change.field === 'messages') {
        const contacts = list(value.contacts)
        for (const message of list(value.messages)) {
          const wamid = str(message.id)
          if (!wamid) throw new UnreadableWebhookError('a message without an id')
          const from = str(message.from)
          const userId = str(message.from_user_id)
          const contact =
            contacts.find((c) => (from && c.wa_id === from) || (userId && c.user_id === userId)) ?? contacts[0]
          const type = str(message.type)
          const part = isObj(message[type ?? '']) ? (message[type!] as Obj) : {}
          const context = isObj(message.context) ? message.context : {}
          const reactionTarget = type === 'reaction' ? str(part.message_id) : null
          changes.push({
            kind: 'inbound-message',
            phoneNumberId,
            from,
            userId: userId ?? str(contact?.user_id),
            contactName: isObj(contact?.profile) ? str(contact.profile.name) : null,
            wamid,
            type: type ?? 'unknown',
            content: contentOf(message, type, part),
            payload: message,
            timestamp: timestampOf(message.timestamp),
            contextWamid: str(context.id),
            media: mediaOf(type, part),
            location: type === 'location' ? locationOf(part) : null,
            contacts: type === 'contacts' ? list(message.contacts) : null,
            interactive: interactiveOf(type, part),
            reaction: reactionTarget ? { targetWamid: reactionTarget, emoji: str(part.emoji) } : null,
          })
        }
        for (const status of list(value.statuses)) {
          const wamid = str(status.id)
          const state = STATES[String(status.status)]
          if (!wamid || !state) continue // e.g. a `deleted` status: nothing of ours to move
          const error = list(status.errors)[0]
          changes.push({
            kind: 'status',
            phoneNumberId,
            wamid,
            status: state,
            timestamp: timestampOf(status.timestamp),
            messageId: messageIdFromCallbackData(status.biz_opaque_callback_data),
            error: error
              ? {
                  code: typeof error.code === 'number' ? error.code : null,
                  title: str(error.title) ?? str(error.message) ?? 'Failed',
                  details: isObj(error.error_data) ? str(error.error_data.details) : null,
                }
              : null,
          })
        }
      } else if (change.field === 'message_template_status_update') {
        const name = str(value.message_template_name)
        const language = str(value.message_template_language)
        const status = str(value.event)
        // A pause says why in other_info; `reason` is often "NONE" or null then.
        const info = isObj(value.other_info) ? value.other_info : {}
        const given = str(value.reason)
        const reason = (given && given !== 'NONE' ? given : null) ?? str(info.description) ?? str(info.title) ?? null
        if (name && language && status)
          changes.push({ kind: 'template-status', businessAccountId, name, language, status, reason })
      }
    }
  }
  return changes
}
