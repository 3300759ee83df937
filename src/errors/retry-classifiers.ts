import { hasAmbiguousCommitBrand } from './ambiguous-commit-error.js'
import { getSqlState, isConnectionError, readProperty } from './error-classifiers.js'
import { isRetryExhaustedError } from './retry-exhausted-error.js'

// The brand Kysely puts on its AbortedTransactionError (kysely 0.28.19 and 0.29.8:
// src/driver/aborted-transaction-error.ts, `Symbol.for('kysely.AbortedTransactionError')`), read
// here as Kysely's own `isAbortedTransactionError` reads it. Not imported: that function does not
// exist before 0.28.19 / 0.29.8, and the package supports kysely from 0.28.0 (older versions never
// throw the error; a COMMIT answered with ROLLBACK resolves there).
const ABORTED_TRANSACTION_BRAND = Symbol.for('kysely.AbortedTransactionError')

function isAbortedTransactionError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && ABORTED_TRANSACTION_BRAND in error
}

// How deep `cause` chains are followed: application code wraps database errors a few times at most,
// and the bound keeps a cyclic chain from looping.
const MAX_CAUSE_DEPTH = 8

/**
 * Calls `predicate` on `error` and on each error in its `cause` chain, stopping at the first match.
 * The chain is not followed into this package's own final errors (AmbiguousCommitError,
 * RetryExhaustedError): their cause was already judged, and retrying it again from an outer loop
 * would multiply attempts.
 */
function someInCauseChain(error: unknown, predicate: (error: unknown) => boolean): boolean {
  let current = error
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    if (hasAmbiguousCommitBrand(current) || isRetryExhaustedError(current)) {
      return false
    }
    if (predicate(current)) {
      return true
    }
    current = readProperty(current, 'cause')
  }
  return false
}

/**
 * The SQLSTATE of `error` or, if it has none, of the first error in its `cause` chain that has one.
 * Use it when application code wraps database errors (`new Error('...', { cause })`).
 *
 * ```ts
 * import { findSqlState } from 'kysely-cockroachdb'
 *
 * const pgError = Object.assign(new Error('restart transaction: TransactionRetryWithProtoRefreshError'), { code: '40001' })
 * findSqlState(new Error('transfer failed', { cause: pgError })) // '40001'
 * ```
 */
export function findSqlState(error: unknown): string | undefined {
  let found: string | undefined
  someInCauseChain(error, (e) => (found = getSqlState(e)) !== undefined)
  return found
}

/**
 * Whether the server aborted the transaction and asks the client to run it again: SQLSTATE 40001
 * (serialization_failure; every CockroachDB retry error carries it, with a message starting
 * `restart transaction:`, docs /docs/stable/transaction-retry-error-reference) or CockroachDB's
 * legacy `CR000`, which cockroach-go still accepts (cockroachdb/cockroach-go crdb/tx.go,
 * `errIsRetryable`). Follows `cause` chains.
 *
 * ```ts
 * import { isSerializationFailure } from 'kysely-cockroachdb'
 *
 * if (isSerializationFailure(error)) metrics.increment('db.txn_retry')
 * ```
 */
export function isSerializationFailure(error: unknown): boolean {
  return someInCauseChain(error, (e) => {
    const state = getSqlState(e)
    return state === '40001' || state === 'CR000'
  })
}

/**
 * Whether the server broke a lock cycle by aborting this transaction: SQLSTATE 40P01
 * (deadlock_detected). PostgreSQL reports lock cycles this way; CockroachDB resolves the same cycle
 * by aborting one transaction with a 40001. Follows `cause` chains.
 *
 * ```ts
 * import { isDeadlockError } from 'kysely-cockroachdb'
 *
 * isDeadlockError(error) // true for 40P01
 * ```
 */
export function isDeadlockError(error: unknown): boolean {
  return someInCauseChain(error, (e) => getSqlState(e) === '40P01')
}

/**
 * Whether running the whole transaction again may succeed where this attempt failed: a
 * serialization failure (40001, `CR000`) or a deadlock (40P01). The transaction was aborted and
 * nothing it wrote was committed. Follows `cause` chains.
 *
 * {@link withRetry} also retries connection failures that happen before `COMMIT` was sent (see
 * `isConnectionError`); those are not included here, because one that happens while `COMMIT` is
 * in flight leaves the outcome unknown (see {@link isCommitOutcomeUnknown}).
 *
 * ```ts
 * import { isRetryableError } from 'kysely-cockroachdb'
 *
 * // A hand-written loop around a ControlledTransaction:
 * for (let attempt = 1; ; attempt++) {
 *   const trx = await db.startTransaction().execute()
 *   try {
 *     await work(trx)
 *     await trx.commit().execute()
 *     break
 *   } catch (error) {
 *     await trx.rollback().execute().catch(() => {})
 *     if (!isRetryableError(error) || attempt === 5) throw error
 *   }
 * }
 * ```
 */
export function isRetryableError(error: unknown): boolean {
  return isSerializationFailure(error) || isDeadlockError(error)
}

/**
 * Whether `error` reports a commit whose outcome is unknown: an {@link AmbiguousCommitError} from
 * {@link withRetry}, or a server error with SQLSTATE 40003 (statement_completion_unknown, "result
 * is ambiguous"), which CockroachDB returns when it cannot tell whether a commit was applied.
 *
 * ```ts
 * import { isAmbiguousCommitError } from 'kysely-cockroachdb'
 *
 * if (isAmbiguousCommitError(error)) {
 *   await reconcile(orderId) // look the write up before reporting success or failure
 * }
 * ```
 */
export function isAmbiguousCommitError(error: unknown): boolean {
  return hasAmbiguousCommitBrand(error) || someInCauseChain(error, (e) => getSqlState(e) === '40003')
}

/**
 * For an error thrown by the statement that commits a transaction (`COMMIT`, or
 * `RELEASE SAVEPOINT cockroach_restart`): whether the transaction may nevertheless have committed.
 *
 * The outcome is known only when the server answered with an error that says it rolled the
 * transaction back: SQLSTATE class 40 other than 40003 (40001 serialization failure, 40P01
 * deadlock, 40002 integrity violation at commit, 40000), class 23 (a constraint checked at commit),
 * class 25 (no transaction in progress), or Kysely's `AbortedTransactionError` (PostgreSQL answered
 * COMMIT with ROLLBACK). Everything else (a lost connection, 40003 "result is ambiguous", a
 * cancelled statement, an unexpected error) leaves it unknown. cockroach-go is as cautious: any
 * non-retryable error from RELEASE is an `AmbiguousCommitError` there (crdb/common.go,
 * `ExecuteInTx`).
 *
 * ```ts
 * import { isCommitOutcomeUnknown } from 'kysely-cockroachdb'
 *
 * const trx = await db.startTransaction().execute()
 * await trx.insertInto('order').values(input).execute()
 * try {
 *   await trx.commit().execute()
 * } catch (error) {
 *   if (isCommitOutcomeUnknown(error)) await reconcile(orderId)
 *   else throw error
 * }
 * ```
 */
export function isCommitOutcomeUnknown(error: unknown): boolean {
  if (isAbortedTransactionError(error)) {
    return false
  }
  if (isConnectionError(error)) {
    return true
  }
  const state = getSqlState(error)
  if (state === undefined || state === '40003') {
    return true
  }
  return !(state.startsWith('40') || state.startsWith('23') || state.startsWith('25') || state === 'CR000')
}

/**
 * Whether `error` or an error in its `cause` chain is a lost or unusable connection (see
 * `isConnectionError`, which looks at `error` itself only).
 *
 * ```ts
 * import { isConnectionFailure } from 'kysely-cockroachdb'
 *
 * const econnreset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
 * isConnectionFailure(new Error('loading cart failed', { cause: econnreset })) // true
 * ```
 */
export function isConnectionFailure(error: unknown): boolean {
  return someInCauseChain(error, isConnectionError)
}
