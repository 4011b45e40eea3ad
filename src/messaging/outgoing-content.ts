import type { ConversationRecord, MessageParts } from '../messages/message.records.js'
import type { MessageRepository } from '../messages/message.repository.js'
import { NotFoundError, ValidationError } from '../errors/errors.js'
import type { MediaService } from '../media/media.service.js'
import { MEDIA_LIMITS, mediaKindOf, type MediaKind } from '../meta/meta.limits.js'
import type { OutgoingMessage } from '../meta/meta.outgoing.js'
import type { ContentRequest } from './message-content.schemas.js'

/** A checked send, ready to store and hand to Meta. */
export interface PreparedContent {
  type: ContentRequest['type']
  /** The readable text stored as the message's content: the text, caption, body or emoji. */
  content: string | null
  parts: MessageParts
  outgoing: OutgoingMessage
}

const invalid = (path: string, message: string) => new ValidationError([{ path, message }])

/**
 * Turns a send's content into what is stored and sent: the message it replies to (ours, in the same
 * conversation, known to Meta), and its file (ours, of a type and size its kind allows, uploaded to
 * Meta when Meta has no copy). Everything that could refuse the send happens here, before anything
 * is stored as sent.
 */
export class ContentPreparer {
  constructor(
    private readonly messages: MessageRepository,
    private readonly media: MediaService,
  ) {}

  /**
   * @throws ValidationError naming the field; MetaApiError, MetaUnreachableError (uploading the file to Meta)
   */
  async prepare(conversation: ConversationRecord | null, request: ContentRequest): Promise<PreparedContent> {
    const reply = request.replyTo === null ? null : await this.replyTarget(conversation, request.replyTo)
    const parts: MessageParts = { replyToMessageId: reply?.id ?? null, replyToWamid: reply?.wamid ?? null }
    const replyToWamid = reply?.wamid ?? null
    switch (request.type) {
      case 'text':
        return {
          type: 'text',
          content: request.content,
          parts,
          outgoing: { content: { type: 'text', text: request.content }, replyToWamid },
        }
      case 'location':
        return {
          type: 'location',
          content:
            request.location.name ??
            request.location.address ??
            `${request.location.latitude}, ${request.location.longitude}`,
          parts: { ...parts, location: request.location },
          outgoing: { content: { type: 'location', location: request.location }, replyToWamid },
        }
      case 'interactive':
        return {
          type: 'interactive',
          content: request.interactive.body,
          parts: { ...parts, interactive: request.interactive },
          outgoing: { content: { type: 'interactive', interactive: request.interactive }, replyToWamid },
        }
      case 'reaction':
        return {
          type: 'reaction',
          content: request.emoji || null,
          parts,
          outgoing: { content: { type: 'reaction', targetWamid: reply!.wamid, emoji: request.emoji } },
        }
      default:
        return this.prepareMedia(request, parts, replyToWamid)
    }
  }

  private async replyTarget(conversation: ConversationRecord | null, messageId: number) {
    const target = await this.messages.findById(messageId)
    if (!target || !conversation || target.conversationId !== conversation.id) {
      throw invalid('replyTo', `message ${messageId} is not in this conversation`)
    }
    if (target.type === 'reaction') {
      throw invalid('replyTo', `message ${messageId} is a reaction, not a message to answer or react to`)
    }
    if (!target.wamid)
      throw invalid('replyTo', `message ${messageId} was never accepted by Meta, so it cannot be quoted`)
    return { id: target.id, wamid: target.wamid }
  }

  private async prepareMedia(
    request: Extract<ContentRequest, { type: MediaKind }>,
    parts: MessageParts,
    replyToWamid: string | null,
  ): Promise<PreparedContent> {
    const { type, caption, filename } = request
    if (request.link !== null) {
      const media = await this.media.recordLink(request.link, filename)
      return {
        type,
        content: caption,
        parts: { ...parts, mediaId: media.id, filename },
        outgoing: { content: { type, media: { link: request.link }, caption, filename }, replyToWamid },
      }
    }
    const media = await this.media.get(request.mediaId!).catch((err: unknown) => {
      throw err instanceof NotFoundError ? invalid('mediaId', `no media ${request.mediaId} was uploaded`) : err
    })
    if (media.status !== 'ready') throw invalid('mediaId', `media ${media.id} is ${media.status}, not ready to send`)
    const limits = MEDIA_LIMITS[type]
    if (mediaKindOf(media.mimeType ?? '') !== type) {
      throw invalid('mediaId', `is a ${media.mimeType} file; ${type} messages take ${limits.mimeTypes.join(', ')}`)
    }
    if (media.size! > limits.maxBytes) {
      throw invalid('mediaId', `is ${media.size} bytes; ${type} messages take at most ${limits.maxBytes}`)
    }
    const name = filename ?? (type === 'document' ? media.filename : null)
    const metaId = await this.media.metaIdFor(media)
    return {
      type,
      content: caption,
      parts: { ...parts, mediaId: media.id, filename: name },
      outgoing: { content: { type, media: { metaId }, caption, filename: name }, replyToWamid },
    }
  }
}
