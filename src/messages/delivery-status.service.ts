import type { MessageRecord, StatusUpdate } from './message.records.js'
import type { DeliveryRepository } from './delivery.repository.js'
import type { EventBus } from '../events/event-bus.js'

/**
 * Moves outbound messages through Meta's delivery states. A status can arrive before the send
 * that caused it has recorded its wamid: such an early status is kept and applied when the wamid
 * appears.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object
 */
export class DeliveryStatusService {
  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly events: EventBus,
    /**
     * Told each status a message reached (for the business's event webhooks), awaited: also when
     * the same status is applied again (a re-applied webhook), never for one it moved past.
     */
    private readonly onStatus?: (message: MessageRecord, update: StatusUpdate) => Promise<void>,
  ) {}

  async apply(update: StatusUpdate): Promise<void> {
    if (await this.applyToMessage(update)) return
    // A send whose answer never came (`unknown`) learns its wamid here, from our own message id
    // echoed in the callback data.
    if (update.messageId && (await this.deliveries.adoptWamid(update.messageId, update.wamid))) {
      if (await this.applyToMessage(update)) return
    }
    await this.deliveries.keepEarlyStatus(update)
    // The send may have recorded the wamid between our update and the save: look once more, so
    // that one of the two sides always sees the other.
    await this.flushEarly(update.wamid)
  }

  /** Applies the early statuses of `wamid` (called once a send recorded it). True if any applied. */
  async flushEarly(wamid: string): Promise<boolean> {
    return this.applyEarly(await this.deliveries.takeEarlyStatuses(wamid))
  }

  /** Applies early statuses taken from the store; those still without a message are kept again. True if any applied. */
  async applyEarly(early: StatusUpdate[]): Promise<boolean> {
    let applied = false
    for (const update of early) {
      if (await this.applyToMessage(update)) applied = true
      else await this.deliveries.keepEarlyStatus(update)
    }
    return applied
  }

  /** Forgets early statuses older than `before`: those of messages sent from elsewhere never match. */
  dropEarlyBefore(before: Date): Promise<number> {
    return this.deliveries.dropEarlyStatusesBefore(before)
  }

  private async applyToMessage(update: StatusUpdate): Promise<boolean> {
    const result = await this.deliveries.applyStatus(update)
    if (!result) return false
    if (result.changed) {
      this.events.publish({
        type: 'messageStatusChanged',
        messageId: result.message.id,
        conversationId: result.message.conversationId,
      })
    }
    if (this.onStatus && (result.changed || result.message.status === update.status))
      await this.onStatus(result.message, update)
    return true
  }
}
