import type { MediaKind } from './meta.limits.js'
import type {
  MetaInteractive,
  MetaMediaObject,
  MetaRichMessageRequest,
  MetaSendMessageRequest,
  MetaTextMessageRequest,
} from './meta.types.js'

/**
 * What the service asks Meta to send, in its own terms (camelCase, checked already), and the one
 * place that turns it into Meta's request body.
 */

export interface LocationContent {
  latitude: number
  longitude: number
  name: string | null
  address: string | null
}

export interface InteractiveButton {
  id: string
  title: string
}

export interface InteractiveListSection {
  title: string | null
  rows: { id: string; title: string; description: string | null }[]
}

/** Reply buttons or a list, as sent (and stored on the message). */
export interface InteractiveContent {
  type: 'button' | 'list'
  header: string | null
  body: string
  footer: string | null
  buttons?: InteractiveButton[]
  list?: { button: string; sections: InteractiveListSection[] }
}

/** A file to send: Meta's id of our upload, or a public https link. */
export type OutgoingMedia = { metaId: string } | { link: string }

export type OutgoingContent =
  | { type: 'text'; text: string }
  | { type: MediaKind; media: OutgoingMedia; caption: string | null; filename: string | null }
  | { type: 'location'; location: LocationContent }
  | { type: 'interactive'; interactive: InteractiveContent }
  /** An empty emoji removes our reaction. */
  | { type: 'reaction'; targetWamid: string; emoji: string }

export interface OutgoingMessage {
  content: OutgoingContent
  /** The wamid of the message this one quotes (Meta's `context.message_id`). */
  replyToWamid?: string | null
}

/** `o` without its null fields: Meta refuses `null` where it expects a string. */
type Defined<T> = { [K in keyof T]?: Exclude<T[K], null> }
const defined = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Defined<T>

function interactive(i: InteractiveContent): MetaInteractive {
  return {
    type: i.type,
    ...(i.header ? { header: { type: 'text' as const, text: i.header } } : {}),
    body: { text: i.body },
    ...(i.footer ? { footer: { text: i.footer } } : {}),
    action:
      i.type === 'button'
        ? { buttons: (i.buttons ?? []).map((b) => ({ type: 'reply' as const, reply: { id: b.id, title: b.title } })) }
        : {
            button: i.list!.button,
            sections: i.list!.sections.map((s) => ({
              ...defined({ title: s.title }),
              rows: s.rows.map((r) => ({ id: r.id, title: r.title, ...defined({ description: r.description }) })),
            })),
          },
  }
}

/** The type-specific part of Meta's request body. */
function contentPart(c: OutgoingContent): Partial<MetaRichMessageRequest> | Partial<MetaTextMessageRequest> {
  switch (c.type) {
    case 'text':
      return { type: 'text', text: { preview_url: false, body: c.text } }
    case 'location':
      return {
        type: 'location',
        location: {
          latitude: c.location.latitude,
          longitude: c.location.longitude,
          ...defined({ name: c.location.name, address: c.location.address }),
        },
      }
    case 'interactive':
      return { type: 'interactive', interactive: interactive(c.interactive) }
    case 'reaction':
      return { type: 'reaction', reaction: { message_id: c.targetWamid, emoji: c.emoji } }
    default: {
      const media: MetaMediaObject = defined({
        ...('metaId' in c.media ? { id: c.media.metaId } : { link: c.media.link }),
        caption: c.caption,
        filename: c.filename,
      })
      return { type: c.type, [c.type]: media }
    }
  }
}

/** Meta's request body for `message` to `to`, with our callback data. */
export function toMetaRequest(
  to: string,
  message: OutgoingMessage,
  callback: { biz_opaque_callback_data?: string },
): MetaSendMessageRequest {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    ...(message.replyToWamid && message.content.type !== 'reaction'
      ? { context: { message_id: message.replyToWamid } }
      : {}),
    ...contentPart(message.content),
    ...callback,
  } as MetaSendMessageRequest
}
