import { CompiledQuery } from 'kysely'
import type { ControlledTransaction, Kysely, Transaction } from 'kysely'
import { isConnectionError } from '../errors/error-classifiers.js'
import { isCommitOutcomeUnknown } from '../errors/error-classifiers.js'
import { randomUUID } from 'node:crypto'
import { settleCommit } from './commit-resolution.js'
import { ensureMarkerTable, markerInsert } from './marker-table.js'
import { decideRetry } from './retry-decision.js'
import type { AttemptPhase } from './retry-decision.js'
import type { Settlement } from './commit-resolution.js'
import { transactionPriorityQuery } from './transaction-priority.js'
import { resolveRetryOptions } from './with-retry-options.js'
import type { ResolvedRetryOptions, WithRetryOptions } from './with-retry-options.js'
import { sleepUnlessAborted } from '../util/sleep-unless-aborted.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { inConnectionScope } from '../cluster/connection-scope.js'

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
    throw new QueryRefusedError('withRetry', 'the second argument must be the callback', 'pass one, withRetry(db, async (trx) => { ... })')
  }
  return await runWithRetry(db, fn, resolveRetryOptions(options))
}

async function runWithRetry<DB, T>(db: Kysely<DB>, fn: RetryCallback<DB, T>, options: ResolvedRetryOptions): Promise<T> {
  const { signal } = options
  const startedMs = options.now()
  if (options.resolveAmbiguousCommits) {
    // Outside any transaction, once per Kysely instance, before attempt 1 (see marker-table.ts).
    await ensureMarkerTable(db)
  }
  // With the savepoint strategy the transaction stays open across attempts that fail in place.
  let trx: ControlledTransaction<DB> | undefined
  // resolveAmbiguousCommits: the node of trx's connection, as a cluster pool reports it, so that
  // the fence can ask for another (connection-scope.ts); undefined with other pools.
  let trxNode: string | undefined
  for (let attempt = 1; ; attempt++) {
    let phase: AttemptPhase = 'begin'
    let failure: unknown
    // resolveAmbiguousCommits: a fresh marker per attempt (a settled "not committed" leaves the
    // fence's row under the old id), and the callback's result kept for a commit settled as done.
    const marker = options.resolveAmbiguousCommits ? randomUUID() : undefined
    let result: T | undefined
    try {
      signal?.throwIfAborted()
      if (trx === undefined) {
        trxNode = undefined
        trx =
          marker === undefined
            ? await begin(db, options)
            : await inConnectionScope({ onAcquire: (node) => (trxNode ??= node) }, () => begin(db, options))
      }
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
      failure = error
    }
    // After a failed COMMIT the connection is unusable or the transaction over: ending it only
    // releases the connection.
    const end = phase === 'finish' || (phase === 'commit' && options.strategy === 'restart') ? endAfterFailedCommit : rollBack
    let settlement: Settlement | undefined
    if (marker !== undefined && (phase === 'commit' || phase === 'finish') && isCommitOutcomeUnknown(failure) && !signal?.aborted) {
      // Release the broken connection first: the fence needs a connection of its own.
      await end(trx)
      settlement = await settleCommit(db, marker, {
        timeoutMs: options.resolveTimeoutMs,
        avoidNode: trxNode,
        now: options.now,
        sleep: (ms) => options.sleep(ms),
      })
      if (settlement.outcome === 'committed') {
        return result as T
      }
    }
    const step = decideRetry({ error: failure, phase, attempt, startedMs, settlement }, options)
    let exit: { readonly error: unknown; readonly release: typeof rollBack<DB> }
    if (step.action === 'throw') {
      exit = { error: step.error, release: end }
    } else {
      trx = await keepForRetryInPlace(trx, failure, phase, options, end)
      try {
        await options.onRetry?.(Object.freeze({ attempt, error: failure, delayMs: step.delayMs }))
        await sleepUnlessAborted(step.delayMs, options)
        continue
      } catch (stop) {
        exit = { error: stop, release: rollBack }
      }
    }
    // The loop's one way out on failure: release the connection, then throw.
    await exit.release(trx)
    throw exit.error
  }
}

function assertOwnsTransactions<DB>(db: Kysely<DB>): void {
  const candidate = db as Partial<Kysely<DB>> | null
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.startTransaction !== 'function') {
    throw new QueryRefusedError(
      'withRetry',
      'the first argument must be a Kysely instance (kysely >= 0.28, which has db.startTransaction())',
      'pass the Kysely instance, not a query builder or a connection',
    )
  }
  if (candidate.isTransaction) {
    throw new QueryRefusedError(
      'withRetry',
      '`db` is already a transaction. A retry error aborts the whole transaction, including the work done before ' +
        'withRetry was called, so withRetry must own the transaction (and nested retry loops would multiply the attempts)',
      'call withRetry(db, fn) with the Kysely instance, not inside db.transaction() or db.startTransaction()',
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
    throw new QueryRefusedError(
      'withRetry',
      'the callback committed or rolled back the transaction itself, and withRetry commits when the callback returns ' +
        'and rolls back when it throws',
      'return a value or throw instead',
    )
  }
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
  phase: AttemptPhase,
  options: ResolvedRetryOptions,
  end: (trx: ControlledTransaction<DB> | undefined) => Promise<void>,
): Promise<ControlledTransaction<DB> | undefined> {
  if (trx === undefined) {
    return undefined
  }
  const inPlace = options.strategy === 'savepoint' && (phase === 'fn' || phase === 'commit') && !isConnectionError(error)
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
