import { describeError } from '../util/describe-value.js'
import { classBrand, KyselyCockroachError } from './kysely-cockroach-error.js'

const { brand, hasBrand } = classBrand<AmbiguousCommitError>('AmbiguousCommitError')

/**
 * The statement that was in flight when the outcome of the commit became unknown.
 *
 * ```ts
 * import { AmbiguousCommitError } from 'kysely-cockroachdb'
 *
 * if (error instanceof AmbiguousCommitError && error.statement === 'commit') {
 *   // reconcile: check whether the row exists before writing it again
 * }
 * ```
 */
export type CommitStatement = 'commit' | 'release savepoint cockroach_restart'

/**
 * Why {@link AmbiguousCommitError} was raised: `'off'`, resolveAmbiguousCommits was not on;
 * `'timed out'`, the marker fence did not settle the commit within resolveTimeoutMs; `'failed'`, the
 * fence failed with an error that says nothing about the commit (see `resolutionError`).
 *
 * ```ts
 * import { AmbiguousCommitError } from 'kysely-cockroachdb'
 * import type { CommitResolution } from 'kysely-cockroachdb'
 *
 * const resolution = (error: unknown): CommitResolution | undefined => (error instanceof AmbiguousCommitError ? error.resolution : undefined)
 * ```
 */
export type CommitResolution = 'off' | 'timed out' | 'failed'

/**
 * Thrown by {@link withRetry} when the statement that commits the transaction (`COMMIT`, or
 * `RELEASE SAVEPOINT cockroach_restart` with the savepoint strategy) failed in a way that leaves
 * the outcome unknown: the connection was lost while it was in flight, or the server answered
 * SQLSTATE 40003 ("result is ambiguous"). The transaction may or may not have been applied, and
 * there is no server API to ask which (cockroachdb/cockroach#35170), so `withRetry` does not run
 * the callback again unless the `idempotent` option says that is safe. `cause` is the error the
 * commit failed with. cockroach-go reports the same case with its own `AmbiguousCommitError`
 * (cockroachdb/cockroach-go crdb/error.go).
 *
 * ```ts
 * import { AmbiguousCommitError, withRetry } from 'kysely-cockroachdb'
 *
 * try {
 *   await withRetry(db, (trx) => trx.insertInto('payment').values({ id: paymentId, order_id: orderId, amount }).execute())
 * } catch (error) {
 *   if (error instanceof AmbiguousCommitError) {
 *     // Find out whether the payment exists before telling anyone it failed.
 *     const row = await db.selectFrom('payment').select('id').where('id', '=', paymentId).executeTakeFirst()
 *     if (row === undefined) throw error.cause
 *   } else {
 *     throw error
 *   }
 * }
 * ```
 */
export class AmbiguousCommitError extends KyselyCockroachError {
  override readonly name = 'AmbiguousCommitError'
  /** The attempt (1-based) whose commit failed. */
  readonly attempt: number
  /** The statement in flight when the connection failed or the server answered 40003. */
  readonly statement: CommitStatement
  /** Whether withRetry tried to settle the commit (resolveAmbiguousCommits) and how that ended. */
  readonly resolution: CommitResolution
  /** The error of the last marker fence, with resolution `'timed out'` or `'failed'`. */
  readonly resolutionError: unknown
  declare readonly cause: unknown

  /**
   * @param cause the error the commit statement failed with
   * @param details the attempt (1-based), the statement that was in flight, and, when
   *   resolveAmbiguousCommits tried to settle the commit, how that ended (default `'off'`)
   */
  constructor(
    cause: unknown,
    details: {
      readonly attempt: number
      readonly statement: CommitStatement
      readonly resolution?: CommitResolution
      readonly resolutionError?: unknown
      readonly resolveTimeoutMs?: number
    },
  ) {
    const resolution = details.resolution ?? 'off'
    const fenceDetail = details.resolutionError === undefined ? undefined : describeError(details.resolutionError)
    const settling =
      resolution === 'timed out'
        ? ` resolveAmbiguousCommits could not settle it within ${details.resolveTimeoutMs ?? '?'} ms (the marker insert was still waiting on the original transaction${fenceDetail === undefined ? '' : `: ${fenceDetail}`}).`
        : resolution === 'failed'
          ? ` resolveAmbiguousCommits could not settle it: the marker insert failed: ${fenceDetail ?? 'unknown error'}.`
          : ''
    super(
      `withRetry: the transaction may or may not have committed: "${details.statement}" failed while in flight ` +
        `(attempt ${details.attempt}): ${describeError(cause)}.${settling} withRetry did not run the callback again, because ` +
        "that could apply its writes twice. Check whether the transaction's writes are there" +
        (resolution === 'timed out'
          ? ', or raise resolveTimeoutMs.'
          : ', or pass `idempotent: true` if running the callback again is safe.'),
      { cause },
    )
    this.attempt = details.attempt
    this.statement = details.statement
    this.resolution = resolution
    this.resolutionError = details.resolutionError
    brand(this)
  }
}

/**
 * Whether `error` is an {@link AmbiguousCommitError}, also one thrown by another copy of the
 * package (its CommonJS build next to the ESM one), where `instanceof` fails. A brand check, like
 * every `is<ClassName>` of the package: a raw SQLSTATE 40003 from the server is not one (ask
 * {@link isCommitOutcomeUnknown} about that).
 *
 * ```ts
 * import { isAmbiguousCommitError } from 'kysely-cockroachdb'
 *
 * if (isAmbiguousCommitError(error)) {
 *   await reconcile(orderId) // look the write up before reporting success or failure
 * }
 * ```
 */
export function isAmbiguousCommitError(error: unknown): error is AmbiguousCommitError {
  return hasBrand(error)
}
