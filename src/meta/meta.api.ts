import type { Readable } from 'node:stream'
import { type OutgoingMessage, toMetaRequest } from './meta.outgoing.js'
import type {
  MetaReadReceiptRequest,
  MetaSendMessageRequest,
  MetaTemplate,
  MetaTemplateComponent,
  MetaTemplateComponentRequest,
} from './meta.types.js'

// What the service asks of Meta (MetaApi), in the service's own terms, and the request bodies
// Meta expects; implemented by the Graph API client (meta.client.ts) and the simulator.

/** A message Meta accepted. */
export interface AcceptedMessage {
  /** Meta's message id (`wamid.…`). */
  wamid: string
  /** Who Meta says it is for: the customer's WhatsApp id (not always the number sent to), their user id. */
  recipient?: { waId: string | null; userId: string | null }
}

/** A template send: Meta's component format, which is also what our API accepts. */
export interface OutgoingTemplate {
  name: string
  language: string
  components: MetaTemplateComponentRequest[]
}

/** A template as Meta has it. `components` keep Meta's shape (`{"type":"BODY","text":…}`). */
export interface RemoteTemplate {
  metaId: string
  name: string
  language: string
  status: string
  category: string
  parameterFormat: string | null
  components: MetaTemplateComponent[]
}

/** Per-send options. */
export interface SendOptions {
  /** Our id of the message, sent as `biz_opaque_callback_data` and echoed in its status webhooks. */
  messageId?: number
  /** Called once the request has been written out to Meta (for the send-rate limit). */
  onWritten?: () => void
}

const CALLBACK_PREFIX = 'wa-gateway:message:'

/**
 * Our message id in Meta's `biz_opaque_callback_data`, so that a status webhook identifies the
 * message even when the send's answer (and so its wamid) never reached us.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
 */
export function callbackDataFor(messageId: number): string {
  return `${CALLBACK_PREFIX}${messageId}`
}

/** The message id in callback data we wrote, or null (absent, or written by someone else). */
export function messageIdFromCallbackData(data: unknown): number | null {
  if (typeof data !== 'string' || !data.startsWith(CALLBACK_PREFIX)) return null
  const id = Number(data.slice(CALLBACK_PREFIX.length))
  return Number.isSafeInteger(id) && id > 0 ? id : null
}

/** A file to upload to Meta, read as it goes. */
export interface MediaUpload {
  stream: Readable
  size: number
  mimeType: string
  filename: string | null
}

/** Where Meta keeps a file for the next few minutes, and what it says the file is. */
export interface RemoteMediaInfo {
  url: string
  mimeType: string
  /** As Meta gives it (hex). */
  sha256: string | null
  size: number | null
}

/** What the rest of the service needs from Meta. Implemented by the Graph API client and the simulator. */
export interface MetaApi {
  /**
   * Sends an approved template to `to`.
   * @see https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
   */
  sendTemplate(to: string, template: OutgoingTemplate, options?: SendOptions): Promise<AcceptedMessage>
  /**
   * Every message template of the business account, all pages.
   * @see https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates/
   */
  listTemplates(): Promise<RemoteTemplate[]>
  /**
   * Sends any kind of message (text, media, location, interactive, reaction), optionally quoting one.
   * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
   */
  sendMessage(to: string, message: OutgoingMessage, options?: SendOptions): Promise<AcceptedMessage>
  /**
   * Uploads a file for sending; resolves to Meta's media id (usable for about 30 days).
   * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#upload-media
   */
  uploadMedia(file: MediaUpload): Promise<string>
  /**
   * Where to download a file (a customer's, by the id in its webhook) for the next few minutes.
   * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#retrieve-media-url
   */
  mediaInfo(mediaId: string): Promise<RemoteMediaInfo>
  /** The bytes at a URL from {@link mediaInfo}, as a stream, once Meta answered 2xx. */
  downloadMedia(url: string): Promise<Readable>
  /**
   * Marks an inbound message (and those before it) read, optionally showing the typing indicator.
   * @see https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators
   */
  markRead(wamid: string, options: { typing: boolean }): Promise<void>
}

/** The request bodies Meta expects; shared by the client and the simulator. */
export const metaRequests = {
  text: (to: string, body: string, options: SendOptions = {}): MetaSendMessageRequest => ({
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'text',
    text: { preview_url: false, body },
    ...callback(options),
  }),
  message: (to: string, message: OutgoingMessage, options: SendOptions = {}): MetaSendMessageRequest =>
    toMetaRequest(to, message, callback(options)),
  readReceipt: (wamid: string, typing: boolean): MetaReadReceiptRequest => ({
    messaging_product: 'whatsapp',
    status: 'read',
    message_id: wamid,
    ...(typing ? { typing_indicator: { type: 'text' } } : {}),
  }),
  template: (to: string, t: OutgoingTemplate, options: SendOptions = {}): MetaSendMessageRequest => ({
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'template',
    template: {
      name: t.name,
      language: { code: t.language },
      ...(t.components.length ? { components: t.components } : {}),
    },
    ...callback(options),
  }),
}

function callback(options: SendOptions) {
  return options.messageId ? { biz_opaque_callback_data: callbackDataFor(options.messageId) } : {}
}

export function toRemoteTemplate(t: MetaTemplate): RemoteTemplate {
  return {
    metaId: String(t.id),
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
    parameterFormat: t.parameter_format ?? null,
    components: t.components ?? [],
  }
}
