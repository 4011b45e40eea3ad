import { MetaApiError, MetaUnreachableError } from './meta.errors.js'

/**
 * Meta's error codes worth retrying: throughput (130429), pair rate (131056), throughput upgrade
 * (131057), app and account call limits (4, 80007) and transient errors (1, 2, 131000, 131016).
 * Everything else (131026, 131047-49, 132xxx, 100, 190…) is final.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
 */
const RETRYABLE_CODES = new Set([130429, 131056, 131057, 4, 80007, 1, 2, 131000, 131016])
/** Meta allows about one message every 6 seconds to the same customer. */
const PAIR_RATE_LIMIT = 131056

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number
  /** First backoff; doubles each retry, with full jitter, capped at 30 s. */
  baseDelayMs: number
  sleep?: (ms: number) => Promise<void>
  random?: () => number
}

/** True when sending again cannot double a message and may succeed. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof MetaApiError) return RETRYABLE_CODES.has(err.metaCode) || err.status >= 500
  // Only when the request never reached Meta: after a timeout Meta may have accepted it.
  return err instanceof MetaUnreachableError && err.notSent
}

/** How long to wait before retry number `attempt` (1-based). */
export function backoffMs(err: unknown, attempt: number, policy: RetryPolicy): number {
  const random = policy.random ?? Math.random
  const ceiling = Math.min(30_000, policy.baseDelayMs * 2 ** (attempt - 1))
  const jittered = Math.round(ceiling / 2 + (random() * ceiling) / 2)
  // The pair rate concerns this recipient only: wait out Meta's per-recipient window.
  return err instanceof MetaApiError && err.metaCode === PAIR_RATE_LIMIT
    ? Math.max(jittered, policy.baseDelayMs * 12)
    : jittered
}

/** Calls `send`, retrying retryable failures with exponential backoff; the last error is thrown. */
export async function withRetries<T>(send: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  for (let attempt = 1; ; attempt++) {
    try {
      return await send()
    } catch (err) {
      if (attempt > policy.maxRetries || !isRetryable(err)) throw err
      await sleep(backoffMs(err, attempt, policy))
    }
  }
}
