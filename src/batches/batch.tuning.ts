import type { Config } from '../config.js'

/** How fan-outs run for this configuration (BatchService's options but the error callback). */
export function batchTuning(config: Config) {
  return {
    // Enough sends in flight to keep the rate with Meta answering in up to ~250 ms.
    concurrency: Math.min(256, Math.max(8, Math.ceil(config.messagesPerSecond / 4))),
    // On PostgreSQL, ~100 ms of sends are stored with the batch and the rest (~60 ms for 1,000)
    // while those go out. The embedded database runs its statements on this thread: storing
    // the rest there would only hold those first sends back, so it stores the batch whole.
    storeFirst: config.database.kind === 'postgres' ? Math.max(8, Math.ceil(config.messagesPerSecond / 10)) : undefined,
    exclusive: config.database.kind === 'pglite',
    // Longer than any one call to Meta plus the longest retry backoff (30 s).
    staleAttemptMs: (config.meta.mode === 'graph-api' ? config.meta.timeoutMs : 15_000) + 35_000,
  }
}
