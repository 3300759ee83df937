/**
 * How a backoff spreads its waits below the ceiling, after "Exponential Backoff And Jitter" (Marc
 * Brooker, AWS Architecture Blog, 2015), which names both:
 *
 * - `'full'`: anywhere from 0 to the ceiling, `round(random * ceiling)`. Spreads the retries of
 *   clients that failed together the most; withRetry's backoff.
 * - `'equal'`: the upper half, `ceil(ceiling / 2 + random * ceiling / 2)`. The fixed half keeps a
 *   waiter from polling in a tight loop; the migration lock's backoff.
 *
 * @internal
 */
export type Jitter = 'full' | 'equal'

/** The limits of an exponential backoff, in milliseconds. @internal */
export interface Backoff {
  /** The ceiling of the first wait; it doubles for each further one. */
  readonly baseDelayMs: number
  /** The largest ceiling. */
  readonly maxDelayMs: number
  readonly jitter: Jitter
}

/**
 * The package's one backoff: the wait before retry `attempt` (0 for the first), below a ceiling of
 * `min(maxDelayMs, baseDelayMs * 2^attempt)`, spread by `backoff.jitter` (see {@link Jitter}).
 * Pure: `random` is the caller's draw from [0, 1), checked by the caller where it comes from users.
 *
 * @internal
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: number): number {
  // The cap keeps 2^attempt finite (a baseDelayMs of 0 times Infinity would be NaN); 2^52 ms is
  // over 100 000 years, past any ceiling worth having.
  const ceiling = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** Math.min(Math.max(attempt, 0), 52))
  return backoff.jitter === 'full' ? Math.round(random * ceiling) : Math.ceil(ceiling / 2 + random * (ceiling / 2))
}
