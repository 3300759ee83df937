// MERGE NOTE: a minimal stand-in for src/util/backoff-delay.ts (backoffDelay with 'equal' jitter),
// which another helper is adding in parallel (branch h/extract). Same formula, same arguments:
// once that lands, replace probeBackoffDelay(attempt, limits, random) with
// backoffDelay(attempt, { ...limits, jitter: 'equal' }, random) and delete this file.

/**
 * The wait before probe `attempt` (0 for the first) of a node that is down: exponential with equal
 * jitter ("Exponential Backoff And Jitter", Marc Brooker, AWS Architecture Blog, 2015), the upper
 * half of `min(maxDelayMs, baseDelayMs * 2^attempt)`. The fixed half keeps a dead node from being
 * probed in a tight loop; the random half spreads the probes of many processes.
 *
 * @internal
 */
export function probeBackoffDelay(
  attempt: number,
  limits: { readonly baseDelayMs: number; readonly maxDelayMs: number },
  random: number,
): number {
  const ceiling = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** Math.min(Math.max(attempt, 0), 52))
  return Math.ceil(ceiling / 2 + random * (ceiling / 2))
}
