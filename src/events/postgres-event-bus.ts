import pg from 'pg'
import { type EventBus, EVENTS_MISSED, LocalFanOut, type MessageEvent } from './event-bus.js'

const CHANNEL = 'wa_gateway_events'
/** Events kept while the connection is down, at most; past that the oldest go (subscribers are told). */
const OUTBOX_MAX = 10_000

/**
 * Events across every instance sharing one PostgreSQL database, through LISTEN/NOTIFY. An instance
 * hears its own notifications too, so local subscribers are fed only from the channel.
 * @see https://www.postgresql.org/docs/current/sql-notify.html
 */
export class PostgresEventBus implements EventBus {
  private readonly local = new LocalFanOut()
  private client: pg.Client | null = null
  private closed = false
  private outbox: string[] = []

  private constructor(
    private readonly url: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  static async connect(url: string, onError: (err: unknown) => void): Promise<PostgresEventBus> {
    const bus = new PostgresEventBus(url, onError)
    await bus.listen()
    return bus
  }

  private async listen(): Promise<void> {
    // Named, so an operator (or a test) can tell it in pg_stat_activity.
    const client = new pg.Client({ connectionString: this.url, application_name: 'wa-gateway events' })
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return
      try {
        this.local.emit(JSON.parse(message.payload) as MessageEvent)
      } catch (err) {
        this.onError(err)
      }
    })
    client.on('error', (err) => {
      this.onError(err)
      this.reconnect(client)
    })
    await client.connect()
    await client.query(`LISTEN ${CHANNEL}`)
    if (this.closed) return void (await client.end())
    const resumed = this.client === null && this.wasListening
    this.client = client
    this.wasListening = true
    if (resumed) {
      // While the connection was down, other instances' events went unheard: subscribers read again.
      this.local.emit(EVENTS_MISSED)
      this.outboxLost = false
      if (this.outbox.length && !this.flushing) {
        this.flushing = true
        this.flush()
      }
    }
  }

  /** Whether a LISTEN connection was ever up (a reconnection is then a resumption). */
  private wasListening = false
  /** Whether events of this instance were dropped from a full outbox while the connection was down. */
  private outboxLost = false

  private reconnect(broken: pg.Client): void {
    if (this.closed || this.client !== broken) return
    this.client = null
    void broken.end().catch(() => {})
    const retry = () => {
      if (this.closed) return
      this.listen().catch((err) => {
        this.onError(err)
        setTimeout(retry, 1000).unref()
      })
    }
    setTimeout(retry, 200).unref()
  }

  /**
   * Events go out in one statement per batch: those published in the same tick, and all those
   * published while the previous statement was in flight (a fan-out or a webhook burst publishes
   * hundreds at once; one round trip each would queue up on the single connection).
   * PostgreSQL folds identical payloads of one statement into one notification: harmless, as an
   * event only says "this message changed" and subscribers read the row.
   */
  publish(event: MessageEvent): void {
    this.outbox.push(JSON.stringify(event))
    if (this.outbox.length > OUTBOX_MAX) {
      this.outbox.splice(0, this.outbox.length - OUTBOX_MAX)
      if (!this.outboxLost)
        this.onError(new Error('events dropped: the LISTEN connection is down and the outbox is full'))
      this.outboxLost = true
    }
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => this.flush())
  }

  private flushing = false

  private flush(): void {
    const client = this.client
    if (!this.outbox.length || !client) {
      // Kept while the connection is down: flushed once it is back (see listen).
      this.flushing = false
      return
    }
    const payloads = this.outbox.splice(0)
    client
      .query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS e(payload, n) ORDER BY n', [
        CHANNEL,
        payloads,
      ])
      .catch((err: unknown) => {
        // Not sent (the connection broke): they go out again, first, once it is back.
        if (!this.closed) this.outbox.unshift(...payloads)
        this.onError(err)
        this.reconnect(client)
      })
      .finally(() => {
        if (this.outbox.length && !this.closed && this.client) this.flush()
        else this.flushing = false
      })
  }

  subscribe(type: MessageEvent['type'], conversationId: number | null) {
    return this.local.subscribe(type, conversationId)
  }

  subscribers(): number {
    return this.local.count()
  }

  async close(): Promise<void> {
    if (this.outbox.length) this.flush()
    this.closed = true
    await this.client?.end()
    this.client = null
  }
}
