import { CompiledQuery } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { describeValue } from '../util/describe-value.js'

/**
 * A CockroachDB transaction priority. Under contention, a transaction with a higher priority is
 * less likely to be the one that has to retry (docs /docs/stable/set-transaction, "PRIORITY";
 * /docs/stable/transactions#transaction-priorities). `normal` is the default.
 *
 * ```ts
 * import { withRetry } from 'kysely-cockroachdb'
 * import type { TransactionPriority } from 'kysely-cockroachdb'
 *
 * const priority: TransactionPriority = 'high'
 * await withRetry(db, fn, { priority })
 * ```
 */
export type TransactionPriority = 'low' | 'normal' | 'high'

/**
 * Every {@link TransactionPriority}, lowest first; the error messages of the priority checks list
 * them.
 *
 * @internal
 */
export const TRANSACTION_PRIORITIES: readonly TransactionPriority[] = Object.freeze(['low', 'normal', 'high'])

/**
 * Whether `value` is one of `'low'`, `'normal'`, `'high'`: `isTransactionPriority('high')` is true,
 * `isTransactionPriority('HIGH')` false.
 *
 * @internal
 */
export function isTransactionPriority(value: unknown): value is TransactionPriority {
  return typeof value === 'string' && (TRANSACTION_PRIORITIES as readonly string[]).includes(value)
}

/**
 * Throws a QueryRefusedError naming the accepted values unless `value` is a {@link TransactionPriority}.
 * `api` is the function the message starts with and `what` names the value: withRetry's `priority`
 * option and {@link setTransactionPriority} check their argument with it.
 *
 * @internal
 */
export function assertTransactionPriority(
  value: unknown,
  api = 'setTransactionPriority',
  what = 'the transaction priority',
): asserts value is TransactionPriority {
  if (!isTransactionPriority(value)) {
    throw new QueryRefusedError(
      api,
      `${what} must be one of ${TRANSACTION_PRIORITIES.map((p) => `'${p}'`).join(', ')} (lower case), got ${describeValue(value)}`,
      'use one of them',
    )
  }
}

/**
 * The statement that sets a transaction's priority, validated: `set transaction priority high`.
 * The value is one of three keywords, never user text, so it is rendered inline:
 * `transactionPriorityQuery('high').sql` is `'set transaction priority high'`.
 *
 * @internal
 */
export function transactionPriorityQuery(priority: TransactionPriority): CompiledQuery {
  assertTransactionPriority(priority)
  return CompiledQuery.raw(`set transaction priority ${priority}`)
}

/**
 * What {@link setTransactionPriority} needs of its `trx` argument: any Kysely `Transaction` (or
 * `ControlledTransaction`) has it.
 *
 * ```ts
 * import { setTransactionPriority } from 'kysely-cockroachdb'
 *
 * const trx = await db.startTransaction().execute()
 * await setTransactionPriority(trx, 'low') // a ControlledTransaction is a PrioritizableTransaction
 * ```
 */
export interface PrioritizableTransaction {
  readonly isTransaction: boolean
  executeQuery(query: CompiledQuery): Promise<unknown>
}

/**
 * Sets the priority of the transaction `trx` with `SET TRANSACTION PRIORITY low|normal|high`.
 *
 * Call it first thing in the transaction: CockroachDB fixes the priority once the transaction has
 * done any work, and then refuses a different one with "cannot change the user priority of a
 * running transaction" (cockroachdb/cockroach pkg/kv/kvclient/kvcoord/txn_coord_sender.go,
 * `SetUserPriority`; docs /docs/stable/set-transaction). PostgreSQL has no transaction priorities
 * and rejects the statement. {@link withRetry} takes the same values as its `priority` option.
 *
 * ```ts
 * import { setTransactionPriority } from 'kysely-cockroachdb'
 *
 * await db.transaction().execute(async (trx) => {
 *   await setTransactionPriority(trx, 'high') // set transaction priority high
 *   await trx.updateTable('account').set({ note: 'frozen' }).where('id', '=', id).execute()
 * })
 * ```
 */
export async function setTransactionPriority(trx: PrioritizableTransaction, priority: TransactionPriority): Promise<void> {
  const query = transactionPriorityQuery(priority)
  if (typeof trx !== 'object' || trx === null || typeof trx.executeQuery !== 'function') {
    throw new QueryRefusedError(
      'setTransactionPriority',
      'the first argument must be the transaction (`trx`) of db.transaction()',
      'pass the `trx` of db.transaction().execute(async (trx) => ...)',
    )
  }
  if (!trx.isTransaction) {
    throw new QueryRefusedError(
      'setTransactionPriority',
      '`trx` is not a transaction',
      "call it inside db.transaction().execute(async (trx) => ...) with that callback's `trx`, or set the session " +
        'default with `SET default_transaction_priority = ...`',
    )
  }
  await trx.executeQuery(query)
}
