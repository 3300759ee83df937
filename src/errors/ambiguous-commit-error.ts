// A registered symbol, so that isAmbiguousCommitError recognises instances from another copy of the
// package (the CommonJS build next to the ESM one).
const AMBIGUOUS_COMMIT_ERROR = Symbol.for('kysely-cockroachdb.AmbiguousCommitError')

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
export class AmbiguousCommitError extends Error {
  override readonly name = 'AmbiguousCommitError'
  /** The attempt (1-based) whose commit failed. */
  readonly attempt: number
  /** The statement in flight when the connection failed or the server answered 40003. */
  readonly statement: CommitStatement
  declare readonly cause: unknown

  constructor(cause: unknown, attempt: number, statement: CommitStatement) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(
      `The transaction may or may not have committed: "${statement}" failed while in flight (attempt ${attempt}): ${detail}. ` +
        'withRetry did not run the callback again, because that could apply its writes twice. Check whether the ' +
        "transaction's writes are there, or pass `idempotent: true` if running the callback again is safe.",
      { cause },
    )
    this.attempt = attempt
    this.statement = statement
    Object.defineProperty(this, AMBIGUOUS_COMMIT_ERROR, { value: true })
  }
}

/**
 * Whether `error` is an {@link AmbiguousCommitError}, also one thrown by another copy of the
 * package (the CommonJS build next to the ESM one), where `instanceof` fails.
 *
 * @internal
 */
export function hasAmbiguousCommitBrand(error: unknown): error is AmbiguousCommitError {
  return typeof error === 'object' && error !== null && AMBIGUOUS_COMMIT_ERROR in error
}
