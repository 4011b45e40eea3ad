/**
 * Meta's WhatsApp Cloud API wire formats (snake_case, as Meta sends them). Only `meta/` uses these.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
 * @see https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates/
 */

export interface MetaTextMessageRequest {
  messaging_product: 'whatsapp'
  recipient_type: 'individual'
  to: string
  type: 'text'
  text: { preview_url: boolean; body: string }
  /** Echoed back in the message's status webhooks (up to 512 characters). */
  biz_opaque_callback_data?: string
}

export interface MetaTemplateParameter {
  type: string
  text?: string
  payload?: string
  parameter_name?: string
  image?: { link: string }
  document?: { link: string; filename?: string }
  video?: { link: string }
}

export interface MetaTemplateComponentRequest {
  type: 'header' | 'body' | 'button'
  sub_type?: string
  index?: string
  parameters: MetaTemplateParameter[]
}

export interface MetaTemplateMessageRequest {
  messaging_product: 'whatsapp'
  recipient_type: 'individual'
  to: string
  type: 'template'
  template: { name: string; language: { code: string }; components?: MetaTemplateComponentRequest[] }
  biz_opaque_callback_data?: string
}

/** A media object of a send: Meta's id of an upload, or a public link (exactly one). */
export interface MetaMediaObject {
  id?: string
  link?: string
  caption?: string
  filename?: string
}

export interface MetaInteractive {
  type: 'button' | 'list'
  header?: { type: 'text'; text: string }
  body: { text: string }
  footer?: { text: string }
  action:
    | { buttons: { type: 'reply'; reply: { id: string; title: string } }[] }
    | {
        button: string
        sections: { title?: string; rows: { id: string; title: string; description?: string }[] }[]
      }
}

/** Every other kind of send: media, location, interactive, reaction. */
export interface MetaRichMessageRequest {
  messaging_product: 'whatsapp'
  recipient_type: 'individual'
  to: string
  type: 'image' | 'video' | 'audio' | 'document' | 'sticker' | 'location' | 'interactive' | 'reaction'
  image?: MetaMediaObject
  video?: MetaMediaObject
  audio?: MetaMediaObject
  document?: MetaMediaObject
  sticker?: MetaMediaObject
  location?: { latitude: number; longitude: number; name?: string; address?: string }
  interactive?: MetaInteractive
  reaction?: { message_id: string; emoji: string }
  biz_opaque_callback_data?: string
}

/** Any send may quote a message (the customer sees it quoted): `context.message_id`. */
export type MetaSendMessageRequest = (MetaTextMessageRequest | MetaTemplateMessageRequest | MetaRichMessageRequest) & {
  context?: { message_id: string }
}

/** A read receipt, optionally with the typing indicator. */
export interface MetaReadReceiptRequest {
  messaging_product: 'whatsapp'
  status: 'read'
  message_id: string
  typing_indicator?: { type: 'text' }
}

/** `POST /{phone-number-id}/media`'s answer. */
export interface MetaMediaUploadResponse {
  id: string
}

/** `GET /{media-id}`: a download URL valid for about 5 minutes, and what the file is. */
export interface MetaMediaInfoResponse {
  messaging_product: 'whatsapp'
  url: string
  mime_type: string
  sha256: string
  file_size: string | number
  id: string
}

export interface MetaSendMessageResponse {
  messaging_product: 'whatsapp'
  contacts?: { input: string; wa_id?: string; user_id?: string }[]
  messages: { id: string; message_status?: string }[]
}

export interface MetaTemplateButton {
  type: string
  text?: string
  url?: string
  phone_number?: string
  example?: unknown
}

export interface MetaTemplateComponent {
  type: string
  format?: string
  text?: string
  buttons?: MetaTemplateButton[]
  example?: unknown
}

export interface MetaTemplate {
  id: string
  name: string
  language: string
  status: string
  category: string
  parameter_format?: string
  components: MetaTemplateComponent[]
}

export interface MetaTemplatePage {
  data: MetaTemplate[]
  paging?: { cursors?: { before?: string; after?: string }; next?: string }
}

/** Meta's error body. */
export interface MetaErrorBody {
  error: {
    message: string
    type?: string
    code: number
    error_subcode?: number
    error_data?: { messaging_product?: string; details?: string }
    fbtrace_id?: string
  }
}
