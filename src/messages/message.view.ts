import type { MediaRecord } from '../media/media.repository.js'
import type { MessageRecord } from '../messages/message.records.js'
import type { MediaStatus, ReactionActor } from './message-parts.type.js'
import type { ReactionRecord } from './reaction.repository.js'

/** Where dashboards get a stored file's bytes (behind the API's bearer tokens). */
export const mediaUrl = (mediaId: string) => `/api/whatsapp/media/${mediaId}`

/** A message's file as both APIs show it: the file, with the message's caption and file name. */
export function mediaView(message: MessageRecord, media: MediaRecord) {
  const payload = message.payload as { audio?: { voice?: unknown } } | null
  return {
    id: media.id,
    mimeType: media.mimeType,
    size: media.size,
    sha256: media.sha256,
    filename: message.filename ?? media.filename,
    caption: message.type === 'document' && message.content === message.filename ? null : message.content,
    url: media.status === 'remote' ? media.link : mediaUrl(media.id),
    status: media.status as MediaStatus,
    error: media.status === 'failed' ? media.error : null,
    voice: payload?.audio?.voice === true,
  }
}

export type MediaView = ReturnType<typeof mediaView>

export const reactionView = (r: ReactionRecord) => ({
  emoji: r.emoji!,
  by: r.actor as ReactionActor,
  reactedAt: r.reactedAt,
})
