import { EventEmitter, on } from 'node:events'

/** What dashboards can follow live. Carries ids only: subscribers read the current row. */
export interface MessageEvent {
  type: 'messageAdded' | 'messageStatusChanged'
  messageId: number
  conversationId: number
}

/**
 * Publishes message events to every subscriber of every instance that shares the database.
 * Publishing never fails a request: delivery to dashboards is best effort.
 */
export interface EventBus {
  publish(event: MessageEvent): void
  /** Events of `type` (optionally for one conversation) until `signal` aborts. */
  subscribe(type: MessageEvent['type'], conversationId: number | null, signal: AbortSignal): AsyncIterable<MessageEvent>
  close(): Promise<void>
}

/** Shared by both buses: local fan-out of events to subscribers. */
export class LocalFanOut {
  private readonly emitter = new EventEmitter().setMaxListeners(0)

  emit(event: MessageEvent): void {
    this.emitter.emit('event', event)
  }

  async *subscribe(type: MessageEvent['type'], conversationId: number | null, signal: AbortSignal) {
    try {
      for await (const [event] of on(this.emitter, 'event', { signal }) as AsyncIterable<[MessageEvent]>) {
        if (event.type === type && (conversationId === null || event.conversationId === conversationId)) yield event
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err
    }
  }
}

/** For the embedded database: one process, so in-process delivery is all there is. */
export class InProcessEventBus implements EventBus {
  private readonly local = new LocalFanOut()

  publish(event: MessageEvent): void {
    this.local.emit(event)
  }

  subscribe(type: MessageEvent['type'], conversationId: number | null, signal: AbortSignal) {
    return this.local.subscribe(type, conversationId, signal)
  }

  async close(): Promise<void> {}
}
