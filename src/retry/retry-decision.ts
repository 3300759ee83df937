// What withRetry does after an attempt failed: retry after a delay, or stop with an error. Pure: no
// I/O and no waiting; the clock, the random source and the retryOn predicates come from the
// options, so unit tests (test/unit/retry/retry-decision.test.ts) call it with their own.
import { AmbiguousCommitError } from '../errors/ambiguous-commit-error.js'
import type { CommitStatement } from '../errors/ambiguous-commit-error.js'
import { isCommitOutcomeUnknown, isConnectionError, isRetryableError } from '../errors/error-classifiers.js'
import { RetryExhaustedError } from '../errors/retry-exhausted-error.js'
import type { RetryLimit } from '../errors/retry-exhausted-error.js'
import { fullJitterDelay } from './with-retry-options.js'
import type { ResolvedRetryOptions } from './with-retry-options.js'
import type { Settlement } from './commit-resolution.js'

/**
 * Where an attempt was when it failed: before any COMMIT (`begin`, `fn`), while the statement that
 * commits was in flight (`commit`: COMMIT, or RELEASE with the savepoint strategy), or in the
 * COMMIT that follows a successful RELEASE (`finish`).
 *
 * @internal
 */
export type AttemptPhase = 'begin' | 'fn' | 'commit' | 'finish'

/**
 * A failed attempt, as the retry loop saw it.
 *
 * @internal
 */
export interface FailedAttempt {
  readonly error: unknown
  readonly phase: AttemptPhase
  /** 1 for the first attempt. */
  readonly attempt: number
  /** `options.now()` when withRetry started. */
  readonly startedMs: number
  /**
   * resolveAmbiguousCommits: how the marker fence settled a commit whose outcome was unknown
   * ('committed' never gets here: withRetry returns the result). 'not committed' is retried.
   */
  readonly settlement?: Settlement
}

/**
 * The next step of the retry loop: another attempt after `delayMs`, or stop and throw `error` (after
 * the connection was released).
 *
 * @internal
 */
export type RetryStep = { readonly action: 'retry'; readonly delayMs: number } | { readonly action: 'throw'; readonly error: unknown }

/**
 * Decides what follows a failed attempt, in this order:
 *
 * 1. the error is the abort reason of `options.signal`: throw it;
 * 2. classify the error (a `retryOn` predicate that throws: throw its error): a failure while the
 *    committing statement was in flight whose outcome is unknown is ambiguous, a retryable error or
 *    one `retryOn` accepts is retried (before COMMIT, a connection failure too), anything else fails;
 * 3. ambiguous without `idempotent`: throw an {@link AmbiguousCommitError} (with `idempotent`, retry);
 * 4. fail: throw the error itself;
 * 5. the signal aborted since (for another reason): throw its reason;
 * 6. `maxAttempts` used up, or the delay would go past `maxElapsedMs`: throw a {@link RetryExhaustedError};
 * 7. otherwise retry after the delay.
 *
 * For a 40001 in the callback's first attempt, `decideRetry({ error, phase: 'fn', attempt: 1, startedMs }, options)`
 * is `{ action: 'retry', delayMs }` with the first backoff delay.
 *
 * @internal
 */
export function decideRetry(failure: FailedAttempt, options: ResolvedRetryOptions): RetryStep {
  const { error, phase, attempt, startedMs } = failure
  const { signal } = options
  if (signal?.aborted && error === signal.reason) {
    return stop(error)
  }
  let verdict: 'retry' | 'ambiguous' | 'fail'
  try {
    verdict = classify(error, phase, options)
  } catch (predicateError) {
    return stop(predicateError)
  }
  if (verdict === 'ambiguous') {
    const { settlement } = failure
    if (settlement?.outcome === 'not committed') {
      // Not committed, and now never can be (its marker id is taken): retry as usual.
      verdict = 'retry'
    } else if (!options.idempotent) {
      const settled =
        settlement === undefined || settlement.outcome === 'committed'
          ? {}
          : { resolution: settlement.outcome, resolutionError: settlement.error, resolveTimeoutMs: options.resolveTimeoutMs }
      return stop(new AmbiguousCommitError(error, { attempt, statement: commitStatement(phase, options), ...settled }))
    } else {
      verdict = 'retry'
    }
  }
  if (verdict === 'fail') {
    return stop(error)
  }
  if (signal?.aborted) {
    return stop(signal.reason)
  }
  if (attempt >= options.maxAttempts) {
    return stop(exhausted(error, attempt, startedMs, 'maxAttempts', options.maxAttempts, options))
  }
  const delayMs = fullJitterDelay(attempt, options, options.random, 'withRetry')
  if (options.maxElapsedMs !== undefined && options.now() - startedMs + delayMs >= options.maxElapsedMs) {
    return stop(exhausted(error, attempt, startedMs, 'maxElapsedMs', options.maxElapsedMs, options))
  }
  return Object.freeze({ action: 'retry', delayMs })
}

function stop(error: unknown): RetryStep {
  return Object.freeze({ action: 'throw', error })
}

function classify(error: unknown, phase: AttemptPhase, options: ResolvedRetryOptions): 'retry' | 'ambiguous' | 'fail' {
  if (phase === 'commit' || phase === 'finish') {
    if (isCommitOutcomeUnknown(error)) {
      return 'ambiguous'
    }
    // The server said the transaction was rolled back: a 40001 at COMMIT is as safe to retry as
    // one from any other statement.
    return isRetryableError(error) || matchesRetryOn(error, options) ? 'retry' : 'fail'
  }
  // Before COMMIT was sent nothing can have been committed, so a broken connection is retryable.
  return isRetryableError(error) || isConnectionError(error) || matchesRetryOn(error, options) ? 'retry' : 'fail'
}

function matchesRetryOn(error: unknown, options: ResolvedRetryOptions): boolean {
  return options.retryOn.some((predicate) => predicate(error) === true)
}

function commitStatement(phase: AttemptPhase, options: ResolvedRetryOptions): CommitStatement {
  return phase === 'commit' && options.strategy === 'savepoint' ? 'release savepoint cockroach_restart' : 'commit'
}

function exhausted(
  error: unknown,
  attempts: number,
  startedMs: number,
  limit: RetryLimit,
  limitValue: number,
  options: ResolvedRetryOptions,
): RetryExhaustedError {
  return new RetryExhaustedError(error, { attempts, elapsedMs: options.now() - startedMs, limit, limitValue })
}
