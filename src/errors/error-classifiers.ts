// The package's one set of error classifiers. Every public predicate follows `cause` chains, since
// applications wrap database errors (`new Error('transfer failed', { cause })`); the @internal
// `own*` helpers look at one error only, for the driver and the migration lock, which classify the
// error node-postgres handed them and nothing it may have been wrapped in.

import { isAmbiguousCommitError } from './ambiguous-commit-error.js'
import { isRetryExhaustedError } from './retry-exhausted-error.js'
import { SqlState, SqlStateClass } from './sqlstate.js'

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
 * Calls `predicate` on `error` and on each error in its `cause` chain, returning the first result
 * that is not `undefined`. The chain is not followed into this package's own final errors
 * (AmbiguousCommitError, RetryExhaustedError): their cause was already judged, and retrying it again
 * from an outer loop would multiply attempts.
 */
function firstInCauseChain<T>(error: unknown, read: (error: unknown) => T | undefined): T | undefined {
  let current = error
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    if (isAmbiguousCommitError(current) || isRetryExhaustedError(current)) {
      return undefined
    }
    const found = read(current)
    if (found !== undefined) {
      return found
    }
    current = readProperty(current, 'cause')
  }
  return undefined
}

function someInCauseChain(error: unknown, predicate: (error: unknown) => boolean): boolean {
  return firstInCauseChain(error, (e) => (predicate(e) ? true : undefined)) === true
}

/**
 * The SQLSTATE of `error` itself (node-postgres' `code` property), not following `cause`.
 *
 * @internal
 */
export function ownSqlState(error: unknown): string | undefined {
  // Node's system errors (`errno` and `syscall` set) carry errno names, some of which have five
  // letters like a SQLSTATE: EPIPE, EPERM, EBUSY.
  if (typeof readProperty(error, 'syscall') === 'string') {
    return undefined
  }
  const code = readProperty(error, 'code')
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * The SQLSTATE of a database error thrown by node-postgres (its `code` property) or, if `error` has
 * none, of the first error in its `cause` chain that has one; `undefined` for errors that did not
 * come from the server. Compare it with {@link SqlState}.
 *
 * ```ts
 * import { SqlState, getSqlState } from 'kysely-cockroachdb'
 *
 * try {
 *   await db.insertInto('account').values(row).execute()
 * } catch (error) {
 *   if (getSqlState(error) === SqlState.UniqueViolation) {
 *     // also when the database error was wrapped: new Error('signup failed', { cause: pgError })
 *   }
 * }
 * ```
 */
export function getSqlState(error: unknown): string | undefined {
  return firstInCauseChain(error, ownSqlState)
}

// Errors node-postgres and Node's net/tls layers raise when the connection itself is gone (Node's
// errno names and ERR_ codes). One string, split: these are not SQLSTATEs, which live in sqlstate.ts.
const CONNECTION_ERROR_CODES = new Set(
  'ECONNRESET ECONNREFUSED ECONNABORTED EPIPE ETIMEDOUT EHOSTUNREACH ENETUNREACH ENOTFOUND EAI_AGAIN ERR_SOCKET_CLOSED ERR_STREAM_DESTROYED'.split(
    ' ',
  ),
)

const CONNECTION_ERROR_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Connection closed',
  'timeout exceeded when trying to connect',
]

const SHUTDOWN_STATES: readonly string[] = [SqlState.AdminShutdown, SqlState.CrashShutdown, SqlState.CannotConnectNow]

/**
 * Whether `error` itself (not following `cause`) says the connection is unusable.
 *
 * @internal
 */
export function isOwnConnectionError(error: unknown): boolean {
  const state = ownSqlState(error)
  if (state !== undefined) {
    return state.startsWith(SqlStateClass.ConnectionException) || SHUTDOWN_STATES.includes(state)
  }
  const code = readProperty(error, 'code')
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) {
    return true
  }
  const message = readProperty(error, 'message')
  return typeof message === 'string' && CONNECTION_ERROR_MESSAGES.some((m) => message.includes(m))
}

/**
 * Whether an error, or one in its `cause` chain, means the connection to the server is unusable: a
 * socket error, an unexpected close, SQLSTATE class 08 (connection exception), or 57P01-57P03 (the
 * server shutting down or refusing connections). A transaction on such a connection was not
 * committed by anything the client sent afterwards, and the connection must not go back to the pool.
 *
 * ```ts
 * import { isConnectionError } from 'kysely-cockroachdb'
 *
 * const econnreset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
 * isConnectionError(new Error('loading cart failed', { cause: econnreset })) // true
 * ```
 */
export function isConnectionError(error: unknown): boolean {
  return someInCauseChain(error, isOwnConnectionError)
}

/**
 * Whether CockroachDB refused a statement because a wire-protocol portal (a pg-cursor stream) was
 * still open in the same explicit transaction. SQLSTATE 0A000; the message changed across versions
 * ("multiple active portals not supported", later "... is in preview, please set session variable
 * multiple_active_portals_enabled ..."), see cockroachdb/cockroach pkg/sql/distsql_running.go and
 * cockroach#40195. Follows `cause` chains.
 *
 * Kysely never runs into this through this dialect (statements on a connection are serialized,
 * and `stream()` inside transactions reads a SQL cursor); it is for code that drives
 * node-postgres directly.
 *
 * ```ts
 * import { isMultipleActivePortalsError } from 'kysely-cockroachdb'
 *
 * try {
 *   await client.query('update job set done = true where id = $1', [id]) // a pg-cursor is still open
 * } catch (error) {
 *   if (isMultipleActivePortalsError(error)) {
 *     // close the cursor first, or read through DECLARE ... CURSOR / FETCH
 *   }
 *   throw error
 * }
 * ```
 */
export function isMultipleActivePortalsError(error: unknown): boolean {
  return someInCauseChain(error, (e) => {
    const message = readProperty(e, 'message')
    return ownSqlState(e) === SqlState.FeatureNotSupported && typeof message === 'string' && message.includes('multiple active portals')
  })
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
    const state = ownSqlState(e)
    return state === SqlState.SerializationFailure || state === SqlState.CockroachRestartTransaction
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
  return someInCauseChain(error, (e) => ownSqlState(e) === SqlState.DeadlockDetected)
}

/**
 * Whether running the whole transaction again may succeed where this attempt failed: a
 * serialization failure (40001, `CR000`) or a deadlock (40P01). The transaction was aborted and
 * nothing it wrote was committed. Follows `cause` chains.
 *
 * {@link withRetry} also retries connection failures that happen before `COMMIT` was sent (see
 * {@link isConnectionError}); those are not included here, because one that happens while `COMMIT`
 * is in flight leaves the outcome unknown (see {@link isCommitOutcomeUnknown}).
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
 * For an error thrown by the statement that commits a transaction (`COMMIT`, or
 * `RELEASE SAVEPOINT cockroach_restart`): whether the transaction may nevertheless have committed.
 *
 * The outcome is known only when the server answered with an error that says it rolled the
 * transaction back: SQLSTATE class 40 other than 40003 (40001 serialization failure, 40P01
 * deadlock, 40002 integrity violation at commit, 40000), class 23 (a constraint checked at commit),
 * class 25 (no transaction in progress), or Kysely's `AbortedTransactionError` (PostgreSQL answered
 * COMMIT with ROLLBACK). Everything else (a lost connection, 40003 "result is ambiguous", a
 * cancelled statement, an unexpected error, an {@link AmbiguousCommitError}) leaves it unknown.
 * cockroach-go is as cautious: any non-retryable error from RELEASE is an `AmbiguousCommitError`
 * there (crdb/common.go, `ExecuteInTx`). Follows `cause` chains: the first error in the chain that
 * says anything (a connection error, a SQLSTATE, Kysely's brand) decides.
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
  let current = error
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    const known = ownCommitOutcomeUnknown(current)
    if (known !== undefined) {
      return known
    }
    current = readProperty(current, 'cause')
  }
  return true
}

/** What one error (not its cause) says about the outcome of a commit, or `undefined` for nothing. */
function ownCommitOutcomeUnknown(error: unknown): boolean | undefined {
  if (isAmbiguousCommitError(error)) {
    return true
  }
  if (isAbortedTransactionError(error)) {
    return false
  }
  if (isOwnConnectionError(error)) {
    return true
  }
  const state = ownSqlState(error)
  if (state === undefined) {
    return undefined
  }
  if (state === SqlState.StatementCompletionUnknown) {
    return true
  }
  return !(
    state.startsWith(SqlStateClass.TransactionRollback) ||
    state.startsWith(SqlStateClass.IntegrityConstraintViolation) ||
    state.startsWith(SqlStateClass.InvalidTransactionState) ||
    state === SqlState.CockroachRestartTransaction
  )
}

/**
 * Reads `value[key]` when `value` is an object, else `undefined`: for inspecting errors of unknown
 * shape: `readProperty(new Error('x'), 'message')` is `'x'`, `readProperty(undefined, 'message')`
 * is `undefined`.
 *
 * @internal
 */
export function readProperty(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}
