import { describeError } from '../util/describe-value.js'
import { classBrand, KyselyCockroachError } from './kysely-cockroach-error.js'

const { brand, hasBrand } = classBrand<RetryExhaustedError>('RetryExhaustedError')

/**
 * Which limit of {@link withRetry} ran out.
 *
 * ```ts
 * import { RetryExhaustedError } from 'kysely-cockroachdb'
 *
 * if (error instanceof RetryExhaustedError && error.limit === 'maxElapsedMs') {
 *   metrics.increment('db.retry_budget_exhausted')
 * }
 * ```
 */
export type RetryLimit = 'maxAttempts' | 'maxElapsedMs'

/**
 * Thrown by {@link withRetry} when the transaction kept failing with retryable errors until
 * `maxAttempts` or `maxElapsedMs` ran out. Nothing was committed. `cause` is the last error.
 *
 * ```ts
 * import { RetryExhaustedError, withRetry } from 'kysely-cockroachdb'
 *
 * try {
 *   await withRetry(db, transfer, { maxAttempts: 5 })
 * } catch (error) {
 *   if (error instanceof RetryExhaustedError) {
 *     logger.warn({ attempts: error.attempts, cause: error.cause }, 'transfer gave up under contention')
 *   }
 *   throw error
 * }
 * ```
 */
export class RetryExhaustedError extends KyselyCockroachError {
  override readonly name = 'RetryExhaustedError'
  /** How many times the transaction was attempted. */
  readonly attempts: number
  /** Milliseconds from the start of the first attempt until withRetry gave up. */
  readonly elapsedMs: number
  /** The limit that ran out. */
  readonly limit: RetryLimit
  /** The value of that limit. */
  readonly limitValue: number
  declare readonly cause: unknown

  /**
   * @param cause the error of the last attempt
   * @param details how many attempts ran, for how long, and which limit (with its value) ran out
   */
  constructor(
    cause: unknown,
    details: { readonly attempts: number; readonly elapsedMs: number; readonly limit: RetryLimit; readonly limitValue: number },
  ) {
    super(
      `withRetry: gave up after ${details.attempts} attempt${details.attempts === 1 ? '' : 's'} ` +
        `(${details.limit} is ${details.limitValue}); nothing was committed. Last error: ${describeError(cause)}. ` +
        `Reduce contention on the rows the transaction touches, or raise ${details.limit}.`,
      { cause },
    )
    this.attempts = details.attempts
    this.elapsedMs = details.elapsedMs
    this.limit = details.limit
    this.limitValue = details.limitValue
    brand(this)
  }
}

/**
 * Whether `error` is a {@link RetryExhaustedError}, also when it comes from another copy of this
 * package (for example the CommonJS build next to the ESM one). A brand check.
 *
 * ```ts
 * import { isRetryExhaustedError } from 'kysely-cockroachdb'
 *
 * const status = isRetryExhaustedError(error) ? 503 : 500 // 503: too busy right now, try again later
 * ```
 */
export function isRetryExhaustedError(error: unknown): error is RetryExhaustedError {
  return hasBrand(error)
}
