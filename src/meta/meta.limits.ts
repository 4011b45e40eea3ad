/**
 * What WhatsApp accepts, checked before Meta is called so that a request outside it is a clear 422,
 * not a send that fails. Meta refuses other media with 131053 and interactive messages outside
 * these limits with 131009.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
 */

export const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const
export type MediaKind = (typeof MEDIA_KINDS)[number]

const MB = 1024 * 1024

/** Per kind: the MIME types Meta takes and the largest file. */
export const MEDIA_LIMITS: Record<MediaKind, { mimeTypes: readonly string[]; maxBytes: number }> = {
  image: { mimeTypes: ['image/jpeg', 'image/png'], maxBytes: 5 * MB },
  video: { mimeTypes: ['video/mp4', 'video/3gpp'], maxBytes: 16 * MB },
  audio: {
    mimeTypes: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'],
    maxBytes: 16 * MB,
  },
  document: {
    mimeTypes: [
      'application/pdf',
      'text/plain',
      'application/msword',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.ms-excel',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/vnd.ms-powerpoint',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    ],
    maxBytes: 100 * MB,
  },
  // 100 KB for a static sticker, 500 KB for an animated one: which it is shows only inside the file.
  sticker: { mimeTypes: ['image/webp'], maxBytes: 500 * 1024 },
}

/** The largest file of any kind. */
export const MAX_MEDIA_BYTES = Math.max(...Object.values(MEDIA_LIMITS).map((l) => l.maxBytes))

/** `audio/ogg; codecs=opus` → `audio/ogg`. */
export const baseMimeType = (mimeType: string) => mimeType.split(';')[0].trim().toLowerCase()

/** The kind a MIME type is sent as (webp is a sticker), or null when WhatsApp takes no such file. */
export function mediaKindOf(mimeType: string): MediaKind | null {
  const base = baseMimeType(mimeType)
  return MEDIA_KINDS.find((kind) => MEDIA_LIMITS[kind].mimeTypes.includes(base)) ?? null
}

/** Every MIME type WhatsApp takes, for error messages. */
export const SUPPORTED_MIME_TYPES = MEDIA_KINDS.flatMap((kind) => MEDIA_LIMITS[kind].mimeTypes)

export const TEXT_MAX = 4096
export const CAPTION_MAX = 1024

export const INTERACTIVE_LIMITS = {
  body: 1024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonId: 256,
  buttonTitle: 20,
  listButton: 20,
  sections: 10,
  rows: 10,
  sectionTitle: 24,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
} as const
