// Settles a commit whose outcome is unknown (withRetry's resolveAmbiguousCommits): insert the
// attempt's marker id again, from a new connection, preferably to another node than the lost
// connection's (SettleOptions.avoidNode). The insert is a fence, not a read:
//
// - it waits for the original transaction to end, because that transaction holds the marker key.
//   PostgreSQL: a unique-index insert waits on the inserter's transaction (nbtinsert.c
//   _bt_check_unique -> XactLockTableWait) and then fails with 23505 if it committed, or goes
//   through if it aborted. CockroachDB: the insert's ConditionalPut meets the original's intent and
//   waits in the lock table (pkg/kv/kvserver/concurrency/lock_table_waiter.go), pushing the holder;
//   once the holder's record has expired (txnwait.IsExpired, "pushee is expired" in
//   pkg/kv/kvserver/batcheval/cmd_push_txn.go) a STAGING record is recovered to COMMITTED or ABORTED
//   (pkg/kv/kvserver/txnrecovery/manager.go ResolveIndeterminateCommit), then the insert re-evaluates;
// - a conflict (23505) means the original committed: return its result, never run the callback again;
// - success means it has ended without committing, and now never can. Retry as usual.
//
// The fence runs in a transaction of its own that it always rolls back (BEGIN; INSERT; ROLLBACK),
// answered from the INSERT's reply alone. Committing the fence's row would make the fence itself
// ambiguous: an insert saved whose reply was lost, then the next fence meets that row (23505) and
// says "committed" for a transaction that never did (review of issue 12, finding 1). Rolled back,
// a fence that broke before its reply saved nothing, so running it again is always safe; and a
// successful insert already proved what it needed to: the original had ended without committing
// when the insert took the key, and an ended transaction stays ended. PostgreSQL: the insert waited
// for the inserter's transaction to finish (XactLockTableWait), and an aborted transaction is
// final. CockroachDB: the pushed original is ABORTED, "If aborting the transaction, set the new
// status" (pkg/kv/kvserver/batcheval/cmd_push_txn.go, PUSH_ABORT), and without a record "we rely
// on markers in the timestamp cache" so that its record can never be written later (same file);
// a STAGING one is recovered to COMMITTED or ABORTED first (txnrecovery/manager.go). Neither needs
// the fence's own row to persist.
//
// A plain read could run before a slow commit lands (PostgreSQL finishes a COMMIT whose client has
// gone; on CockroachDB the transaction may still be STAGING) and answer "absent" for a transaction
// that commits a moment later.
//
// The wait is bounded by `lock_timeout`, answered with 55P03 by both servers (CockroachDB
// pkg/sql/row/errors.go newLockNotAvailableError: "canceling statement due to lock timeout on row"
// for WriteIntentError REASON_LOCK_TIMEOUT), and `statement_timeout` (57014) as a backstop.
//
// How long it waits on CockroachDB after the gateway node died: the record of a transaction whose
// coordinator is gone expires TxnLivenessThreshold after its last heartbeat, 5 x the 1 s heartbeat
// interval (pkg/kv/kvserver/txnwait/queue.go; transaction priority does not shorten it:
// CanPushWithPriority treats every normal priority alike). So a commit in flight on a node that was
// killed settles after up to about 5 s; a cut connection to a live node settles in milliseconds.
import { CompiledQuery } from 'kysely'
import type { Kysely } from 'kysely'
import { getSqlState, isConnectionError } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'
import { markerInsert } from './marker-table.js'
import { inConnectionScope } from '../cluster/connection-scope.js'

/** What one fence insert says. @internal */
export type FenceVerdict = 'committed' | 'not committed' | 'timed out' | 'again' | 'failed'

/**
 * The meaning of one fence insert's outcome (`undefined`: it inserted), pure.
 *
 * @internal
 */
export function fenceVerdict(error: unknown, deadlineReached: boolean): FenceVerdict {
  if (error === undefined) return 'not committed'
  const state = getSqlState(error)
  if (state === SqlState.UniqueViolation) return 'committed'
  // The wait ran out (lock_timeout, statement_timeout): nothing learnt; again while time remains.
  if (state === SqlState.LockNotAvailable || state === SqlState.QueryCanceled) return deadlineReached ? 'timed out' : 'again'
  // The fence's own connection broke, or it hit a retry error: nothing learnt either, and nothing
  // saved (the fence's transaction is never committed), so it can run again with the same id.
  if (
    isConnectionError(error) ||
    state === SqlState.SerializationFailure ||
    state === SqlState.StatementCompletionUnknown ||
    state === SqlState.CockroachRestartTransaction
  ) {
    return deadlineReached ? 'timed out' : 'again'
  }
  return 'failed'
}

/** The result of settling. @internal */
export type Settlement =
  | { readonly outcome: 'committed' }
  | { readonly outcome: 'not committed' }
  | { readonly outcome: 'timed out'; readonly error: unknown }
  | { readonly outcome: 'failed'; readonly error: unknown }

/** @internal */
export interface SettleOptions {
  readonly timeoutMs: number
  /**
   * The node the transaction's connection was on (a cluster pool's node key), if known: the fence
   * asks for a connection to another node while one is up (src/cluster/connection-scope.ts). A
   * node that died with the COMMIT would fail the fence's connect or statement, costing a retry.
   */
  readonly avoidNode?: string | undefined
  readonly now: () => number
  readonly sleep: (ms: number) => Promise<void>
}

/**
 * Runs the fence for `marker` until it says something or `timeoutMs` has passed. Never throws.
 *
 * @internal
 */
export async function settleCommit<DB>(db: Kysely<DB>, marker: string, options: SettleOptions): Promise<Settlement> {
  const deadline = options.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    const remaining = Math.floor(deadline - options.now())
    if (remaining <= 0) return { outcome: 'timed out', error: lastError }
    let error: unknown
    try {
      await inConnectionScope({ avoidNode: options.avoidNode }, () => fence(db, marker, remaining))
    } catch (caught) {
      error = caught
    }
    const verdict = fenceVerdict(error, options.now() >= deadline)
    if (verdict === 'committed' || verdict === 'not committed') return { outcome: verdict }
    if (verdict === 'failed') return { outcome: 'failed', error }
    lastError = error
    if (verdict === 'timed out') return { outcome: 'timed out', error }
    await options.sleep(Math.min(50 + Math.floor(Math.random() * 150), Math.max(0, deadline - options.now())))
  }
}

/**
 * The fence on a connection of its own (never the broken one, never inside the failed
 * transaction), in a transaction that is always rolled back (see the top of this file): its outcome
 * is the INSERT's. `lock_timeout` bounds the wait; the session settings are reset before the
 * connection goes back to the pool.
 */
async function fence<DB>(db: Kysely<DB>, marker: string, remainingMs: number): Promise<void> {
  await db.connection().execute(async (connection) => {
    // Whole milliseconds from a number this module computed: safe to write into the SET.
    await connection.executeQuery(CompiledQuery.raw(`set lock_timeout = '${remainingMs}ms'`))
    await connection.executeQuery(CompiledQuery.raw(`set statement_timeout = '${remainingMs + 1000}ms'`))
    try {
      await connection.executeQuery(CompiledQuery.raw('begin'))
      try {
        await connection.executeQuery(markerInsert(marker))
      } finally {
        // Never keep the fence's row. A failed ROLLBACK (the connection broke) leaves nothing
        // either: the server rolls back an open transaction whose session ends.
        await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined)
      }
    } finally {
      await connection.executeQuery(CompiledQuery.raw('reset lock_timeout')).catch(() => undefined)
      await connection.executeQuery(CompiledQuery.raw('reset statement_timeout')).catch(() => undefined)
    }
  })
}
