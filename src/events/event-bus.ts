import { EventEmitter, on } from 'node:events'

/** What dashboards can follow live. Carries ids only: subscribers read the current row. */
export interface MessageEvent {
  /**
   * messageUpdated: something else about it changed (a reaction, its file arrived).
   * eventsMissed: events may have been lost (this instance stopped hearing the others for a while);
   * it reaches every subscriber, who should read what it shows again.
   * scheduledSendAdded: a send was scheduled (`messageId` is its scheduled id, `conversationId` 0), a
   * wake-up hint for every instance's scheduler timer.
   * webhookDeliveriesDue, webhookEndpointsChanged: wake-up hints for the event-webhook workers of
   * every instance (ids 0); the database stays the source of truth.
   * apiKeyRevoked: an API key was revoked (`messageId` is its id, `conversationId` 0): every instance
   * drops it from its cache and closes its subscriptions.
   */
  type:
    | 'messageAdded'
    | 'messageStatusChanged'
    | 'messageUpdated'
    | 'eventsMissed'
    | 'webhookDeliveriesDue'
    | 'webhookEndpointsChanged'
    | 'scheduledSendAdded'
    | 'apiKeyRevoked'
  messageId: number
  conversationId: number
}

/** Told to every subscriber when events may have been lost. */
export const EVENTS_MISSED: MessageEvent = { type: 'eventsMissed', messageId: 0, conversationId: 0 }

/**
 * Publishes message events to every subscriber of every instance that shares the database.
 * Publishing never fails a request: delivery to dashboards is best effort.
 */
export interface EventBus {
  publish(event: MessageEvent): void
  /** Events of `type` (optionally for one conversation), until the iterator is returned. */
  subscribe(type: MessageEvent['type'], conversationId: number | null): AsyncIterableIterator<MessageEvent>
  /** How many subscriptions this instance is serving. */
  subscribers(): number
  close(): Promise<void>
}

/** Shared by both buses: local fan-out of events to subscribers. */
export class LocalFanOut {
  private readonly emitter = new EventEmitter().setMaxListeners(0)

  emit(event: MessageEvent): void {
    this.emitter.emit('event', event)
  }

  count(): number {
    return this.emitter.listenerCount('event')
  }

  /** Listens from this call on (not from the first `next()`), so no event between the two is lost. */
  subscribe(type: MessageEvent['type'], conversationId: number | null): AsyncIterableIterator<MessageEvent> {
    const events = on(this.emitter, 'event') as AsyncIterableIterator<[MessageEvent]>
    const matches = (e: MessageEvent) =>
      e.type === 'eventsMissed' || (e.type === type && (conversationId === null || e.conversationId === conversationId))
    const iterator: AsyncIterableIterator<MessageEvent> = {
      async next() {
        for (;;) {
          const { value, done } = await events.next()
          if (done) return { value: undefined, done: true }
          if (matches(value[0])) return { value: value[0], done: false }
        }
      },
      async return() {
        await events.return?.()
        return { value: undefined, done: true }
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }
}

/** For the embedded database: one process, so in-process delivery is all there is. */
export class InProcessEventBus implements EventBus {
  private readonly local = new LocalFanOut()

  publish(event: MessageEvent): void {
    this.local.emit(event)
  }

  subscribe(type: MessageEvent['type'], conversationId: number | null) {
    return this.local.subscribe(type, conversationId)
  }

  subscribers(): number {
    return this.local.count()
  }

  async close(): Promise<void> {}
}
