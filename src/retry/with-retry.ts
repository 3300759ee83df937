import { CompiledQuery } from 'kysely'
import type { ControlledTransaction, Kysely, Transaction } from 'kysely'
import { AmbiguousCommitError } from '../errors/ambiguous-commit-error.js'
import type { CommitStatement } from '../errors/ambiguous-commit-error.js'
import { isCommitOutcomeUnknown, isConnectionFailure, isRetryableError } from '../errors/retry-classifiers.js'
import { RetryExhaustedError } from '../errors/retry-exhausted-error.js'
import type { RetryLimit } from '../errors/retry-exhausted-error.js'
import { randomUUID } from 'node:crypto'
import { settleCommit } from './commit-resolution.js'
import { ensureMarkerTable, markerInsert } from './marker-table.js'
import { transactionPriorityQuery } from './transaction-priority.js'
import { resolveRetryOptions, retryDelay } from './with-retry-options.js'
import type { ResolvedRetryOptions, WithRetryOptions } from './with-retry-options.js'

/**
 * What the callback of {@link withRetry} is told about the attempt it runs in.
 *
 * ```ts
 * import { withRetry } from 'kysely-cockroachdb'
 *
 * await withRetry(db, async (trx, { attempt }) => {
 *   if (attempt > 1) logger.debug({ attempt }, 'running the transfer again')
 *   return trx.selectFrom('account').selectAll().execute()
 * })
 * ```
 */
export interface RetryAttempt {
  /** 1 for the first run of the callback, 2 for the first retry, ... */
  readonly attempt: number
  /**
   * The `signal` option, if any. On Kysely 0.29 pass it to queries together with an abort strategy
   * (`.execute({ signal, inflightQueryAbortStrategy: 'cancel query' })`) so that aborting also
   * stops a statement that is running; with Kysely's default, `'ignore query'`, it keeps running.
   */
  readonly signal: AbortSignal | undefined
}

/**
 * The callback of {@link withRetry}: it may run more than once, so it does nothing outside the
 * database.
 *
 * ```ts
 * import { withRetry } from 'kysely-cockroachdb'
 * import type { RetryCallback } from 'kysely-cockroachdb'
 *
 * const transfer: RetryCallback<DB, void> = async (trx) => {
 *   await trx.updateTable('account').set({ balance: 0n }).where('id', '=', id).execute()
 * }
 * await withRetry(db, transfer)
 * ```
 */
export type RetryCallback<DB, T> = (trx: Transaction<DB>, attempt: RetryAttempt) => Promise<T>

// The savepoint name CockroachDB's client-side retry protocol uses
// (docs /docs/stable/advanced-client-side-transaction-retries).
const SAVEPOINT = CompiledQuery.raw('savepoint cockroach_restart')
const RELEASE = CompiledQuery.raw('release savepoint cockroach_restart')
const ROLLBACK_TO = CompiledQuery.raw('rollback to savepoint cockroach_restart')
const BEGIN = CompiledQuery.raw('begin')

/**
 * Where an attempt was when it failed: before any COMMIT (`begin`, `fn`), while the statement that
 * commits was in flight (`commit`: COMMIT, or RELEASE with the savepoint strategy), or in the
 * COMMIT that follows a successful RELEASE (`finish`).
 */
type Phase = 'begin' | 'fn' | 'commit' | 'finish'

type Decision = 'retry' | 'ambiguous' | 'fail'

/**
 * Runs `fn(trx)` in a transaction and commits it, running it again in a new attempt when the
 * server asks for a retry, and returns what `fn` returned.
 *
 * - Retried: SQLSTATE 40001 (and CockroachDB's legacy `CR000`) from any statement, COMMIT and
 *   RELEASE included; 40P01 (deadlock); connection failures before COMMIT was sent (nothing can
 *   have been committed); and whatever `retryOn` accepts. Waits between attempts grow
 *   exponentially with full jitter.
 * - A failure while COMMIT (or RELEASE) is in flight, a lost connection or SQLSTATE 40003, leaves
 *   the outcome unknown: withRetry throws {@link AmbiguousCommitError} with the failure as `cause`,
 *   and retries only if `idempotent: true`.
 * - Any other error is rethrown as it is, the same object with its original stack, after the
 *   transaction was rolled back. A failing ROLLBACK never replaces it.
 * - Exhausting `maxAttempts` or `maxElapsedMs` throws {@link RetryExhaustedError}.
 *
 * `fn` may run more than once, so it must not have side effects outside the database before the
 * transaction commits: send emails, publish events and the like after withRetry returns. It must
 * not commit or roll back `trx` itself, nor use it after it settles. Connections that broke are
 * destroyed, never returned to the pool.
 *
 * `db` must be the Kysely instance, not a transaction: a retry error aborts the whole transaction,
 * including the work done before withRetry was called, so the loop has to own the transaction.
 *
 * ```ts
 * import { withRetry } from 'kysely-cockroachdb'
 *
 * const receipt = await withRetry(db, async (trx) => {
 *   const from = await trx.selectFrom('account').select('balance').where('id', '=', fromId).executeTakeFirstOrThrow()
 *   if (from.balance < amount) throw new InsufficientFunds()
 *   await trx.updateTable('account').set((eb) => ({ balance: eb('balance', '-', amount) })).where('id', '=', fromId).execute()
 *   await trx.updateTable('account').set((eb) => ({ balance: eb('balance', '+', amount) })).where('id', '=', toId).execute()
 *   return trx.insertInto('transfer').values({ account_id: fromId, to_account_id: toId, amount }).returning('id').executeTakeFirstOrThrow()
 * })
 * // Side effects outside the database belong here, after the commit:
 * await sendReceiptEmail(receipt.id)
 * ```
 */
export async function withRetry<DB, T>(db: Kysely<DB>, fn: RetryCallback<DB, T>, options?: WithRetryOptions): Promise<T> {
  assertOwnsTransactions(db)
  if (typeof fn !== 'function') {
    throw new TypeError('withRetry: the second argument must be the callback, async (trx) => { ... }.')
  }
  return await runWithRetry(db, fn, resolveRetryOptions(options))
}

async function runWithRetry<DB, T>(db: Kysely<DB>, fn: RetryCallback<DB, T>, options: ResolvedRetryOptions): Promise<T> {
  const { signal } = options
  const started = options.now()
  if (options.resolveAmbiguousCommits) {
    // Outside any transaction, once per Kysely instance, before attempt 1 (see marker-table.ts).
    await ensureMarkerTable(db)
  }
  // With the savepoint strategy the transaction stays open across attempts that fail in place.
  let trx: ControlledTransaction<DB> | undefined
  for (let attempt = 1; ; attempt++) {
    let phase: Phase = 'begin'
    // resolveAmbiguousCommits: a fresh marker per attempt (a settled "not committed" leaves the
    // fence's row under the old id), and the callback's result kept for a commit settled as done.
    const marker = options.resolveAmbiguousCommits ? randomUUID() : undefined
    let result: T | undefined
    try {
      signal?.throwIfAborted()
      trx ??= await begin(db, options)
      phase = 'fn'
      result = await fn(trx, Object.freeze({ attempt, signal }))
      assertStillOpen(trx)
      // Aborted while fn ran: roll back instead of committing.
      signal?.throwIfAborted()
      if (marker !== undefined) {
        // The last statement before COMMIT (RELEASE): see markerInsert. Still phase 'fn', so a
        // failure here is retried as any failure before COMMIT.
        await trx.executeQuery(markerInsert(marker))
      }
      phase = 'commit'
      if (options.strategy === 'savepoint') {
        await trx.executeQuery(RELEASE)
        phase = 'finish'
      }
      await trx.commit().execute()
      return result
    } catch (error) {
      const open = trx
      const end = phase === 'finish' || (phase === 'commit' && options.strategy === 'restart') ? endAfterFailedCommit : rollBack
      if (signal?.aborted && error === signal.reason) {
        await end(open)
        throw error
      }
      let decision: Decision
      try {
        decision = decide(error, phase, options)
      } catch (predicateError) {
        await end(open)
        throw predicateError
      }
      if (decision === 'ambiguous' && marker !== undefined) {
        // Release the broken connection first: the fence needs a connection of its own.
        await end(open)
        const settled = await settleCommit(db, marker, {
          timeoutMs: options.resolveTimeoutMs,
          now: options.now,
          sleep: (ms) => options.sleep(ms),
        })
        if (settled.outcome === 'committed') {
          return result as T
        }
        if (settled.outcome !== 'not committed' && !options.idempotent) {
          throw new AmbiguousCommitError(error, attempt, commitStatement(phase, options), {
            resolution: settled.outcome,
            error: settled.error,
            timeoutMs: options.resolveTimeoutMs,
          })
        }
        // Not committed, and now never can be (its marker id is taken): retry as usual.
        decision = 'retry'
      }
      if (decision === 'ambiguous') {
        if (!options.idempotent) {
          // The connection is unusable or the transaction over: this ROLLBACK only releases it.
          await end(open)
          throw new AmbiguousCommitError(error, attempt, commitStatement(phase, options))
        }
        decision = 'retry'
      }
      if (decision === 'fail') {
        await end(open)
        throw error
      }
      if (signal?.aborted) {
        await end(open)
        throw signal.reason
      }
      let delayMs: number
      try {
        delayMs = nextDelay(error, attempt, started, options)
      } catch (exhaustedError) {
        await end(open)
        throw exhaustedError
      }
      trx = await keepForRetryInPlace(open, error, phase, options, end)
      try {
        await options.onRetry?.(Object.freeze({ attempt, error, delayMs }))
        await sleepUnlessAborted(delayMs, options)
      } catch (stop) {
        await rollBack(trx)
        throw stop
      }
    }
  }
}

function assertOwnsTransactions<DB>(db: Kysely<DB>): void {
  const candidate = db as Partial<Kysely<DB>> | null
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.startTransaction !== 'function') {
    throw new TypeError(
      'withRetry: the first argument must be a Kysely instance (kysely >= 0.28, which has db.startTransaction()).',
    )
  }
  if (candidate.isTransaction) {
    throw new TypeError(
      'withRetry: `db` is already a transaction. A retry error aborts the whole transaction, including the work done ' +
        'before withRetry was called, so withRetry must own the transaction: call withRetry(db, fn) with the Kysely ' +
        'instance, not inside db.transaction() or db.startTransaction(). (Nested retry loops would also multiply the attempts.)',
    )
  }
}

/** BEGIN (with the isolation level and access mode), then the priority and the restart savepoint. */
async function begin<DB>(db: Kysely<DB>, options: ResolvedRetryOptions): Promise<ControlledTransaction<DB>> {
  let builder = db.startTransaction()
  if (options.isolationLevel !== undefined) {
    builder = builder.setIsolationLevel(options.isolationLevel)
  }
  if (options.accessMode !== undefined) {
    builder = builder.setAccessMode(options.accessMode)
  }
  const trx = await builder.execute()
  try {
    if (options.priority !== undefined) {
      // First statement after BEGIN: CockroachDB refuses to change the priority of a running
      // transaction (see setTransactionPriority).
      await trx.executeQuery(transactionPriorityQuery(options.priority))
    }
    if (options.strategy === 'savepoint') {
      // Must come before any statement that touches data, and be the outermost savepoint
      // (docs /docs/stable/advanced-client-side-transaction-retries).
      await trx.executeQuery(SAVEPOINT)
    }
  } catch (error) {
    await rollBack(trx)
    throw error
  }
  return trx
}

function assertStillOpen<DB>(trx: ControlledTransaction<DB>): void {
  if (trx.isCommitted || trx.isRolledBack) {
    throw new Error(
      'withRetry: the callback committed or rolled back the transaction itself. withRetry commits when the callback ' +
        'returns and rolls back when it throws: return a value or throw instead.',
    )
  }
}

function decide(error: unknown, phase: Phase, options: ResolvedRetryOptions): Decision {
  if (phase === 'commit' || phase === 'finish') {
    if (isCommitOutcomeUnknown(error)) {
      return 'ambiguous'
    }
    // The server said the transaction was rolled back: a 40001 at COMMIT is as safe to retry as
    // one from any other statement.
    return isRetryableError(error) || matchesRetryOn(error, options) ? 'retry' : 'fail'
  }
  // Before COMMIT was sent nothing can have been committed, so a broken connection is retryable.
  return isRetryableError(error) || isConnectionFailure(error) || matchesRetryOn(error, options) ? 'retry' : 'fail'
}

function matchesRetryOn(error: unknown, options: ResolvedRetryOptions): boolean {
  return options.retryOn.some((predicate) => predicate(error) === true)
}

function commitStatement(phase: Phase, options: ResolvedRetryOptions): CommitStatement {
  return phase === 'commit' && options.strategy === 'savepoint' ? 'release savepoint cockroach_restart' : 'commit'
}

/**
 * With the savepoint strategy, a retry error before or at RELEASE is handled inside the same
 * transaction: ROLLBACK TO SAVEPOINT cockroach_restart, then the callback runs again, and the
 * transaction keeps its priority and its place in line (cockroach-go does the same, crdb/common.go
 * `ExecuteInTx`). Anything else starts over in a new transaction: a broken connection, a failure of
 * ROLLBACK TO SAVEPOINT itself, and a 40001 at the COMMIT after RELEASE (on PostgreSQL, where
 * RELEASE does not commit, COMMIT can still fail with 40001; the transaction is over then).
 */
async function keepForRetryInPlace<DB>(
  trx: ControlledTransaction<DB> | undefined,
  error: unknown,
  phase: Phase,
  options: ResolvedRetryOptions,
  end: (trx: ControlledTransaction<DB> | undefined) => Promise<void>,
): Promise<ControlledTransaction<DB> | undefined> {
  if (trx === undefined) {
    return undefined
  }
  const inPlace =
    options.strategy === 'savepoint' && (phase === 'fn' || phase === 'commit') && !isConnectionFailure(error)
  if (inPlace) {
    try {
      await trx.executeQuery(ROLLBACK_TO)
      return trx
    } catch {
      // Start over in a new transaction; the next attempt reports its own errors.
    }
  }
  await end(trx)
  return undefined
}

/** The wait before the next attempt, or a RetryExhaustedError thrown when a limit has run out. */
function nextDelay(error: unknown, attempt: number, started: number, options: ResolvedRetryOptions): number {
  if (attempt >= options.maxAttempts) {
    throw exhausted(error, attempt, started, 'maxAttempts', options.maxAttempts, options)
  }
  const delayMs = retryDelay(attempt, options, options.random)
  if (options.maxElapsedMs !== undefined && options.now() - started + delayMs >= options.maxElapsedMs) {
    throw exhausted(error, attempt, started, 'maxElapsedMs', options.maxElapsedMs, options)
  }
  return delayMs
}

function exhausted(
  error: unknown,
  attempts: number,
  started: number,
  limit: RetryLimit,
  limitValue: number,
  options: ResolvedRetryOptions,
): RetryExhaustedError {
  return new RetryExhaustedError(error, { attempts, elapsedMs: options.now() - started, limit, limitValue })
}

/** The configured sleep, cut short with `signal.reason` when the signal aborts, whatever the sleep does. */
function sleepUnlessAborted(ms: number, options: ResolvedRetryOptions): Promise<void> {
  const { signal, sleep } = options
  if (signal === undefined) {
    return sleep(ms)
  }
  if (signal.aborted) {
    return Promise.reject(signal.reason)
  }
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    sleep(ms, signal).then(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      (sleepError: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(sleepError)
      },
    )
  })
}

/**
 * Releases the connection after COMMIT itself failed. A failed COMMIT ends the transaction on both
 * servers, and CockroachDB answers a ROLLBACK outside a transaction with an error ("there is no
 * transaction in progress", pkg/sql/conn_executor_exec.go `execStmtInNoTxnState`) unless the session
 * has `autocommit_before_ddl` on, which turns that error into a warning as on PostgreSQL (cockroach
 * PR #118440). The setting is on by default only from v25.1 (#139871): on v24.3, and wherever it is
 * turned off, the error would make Kysely destroy a healthy connection, a reconnect for every
 * commit-time retry under contention.
 * An empty transaction opened first gives the ROLLBACK something to end. If the session is still in
 * a transaction after all, BEGIN fails (or only warns, on PostgreSQL) and ROLLBACK ends that one.
 */
async function endAfterFailedCommit<DB>(trx: ControlledTransaction<DB> | undefined): Promise<void> {
  if (trx === undefined || trx.isCommitted || trx.isRolledBack) {
    return
  }
  try {
    await trx.executeQuery(BEGIN)
  } catch {
    // See above: ROLLBACK follows either way.
  }
  await rollBack(trx)
}

/**
 * ROLLBACK and release the connection, without ever throwing: the error that made us roll back is
 * the one the caller needs. Kysely's ControlledTransaction releases the connection even when
 * ROLLBACK fails, and its Postgres driver then marks the connection for destruction; the dialect's
 * driver also swallows the ROLLBACK failure of a connection that is already gone.
 */
async function rollBack<DB>(trx: ControlledTransaction<DB> | undefined): Promise<void> {
  if (trx === undefined || trx.isCommitted || trx.isRolledBack) {
    return
  }
  try {
    await trx.rollback().execute()
  } catch {
    // See above.
  }
}
