import type { Expression, ExpressionBuilder, Kysely, SqlBool, Updateable } from 'kysely'
import type { BatchLoopOptions, BulkProgress } from './bulk-write-options.js'
import { runKeysetLoop } from './keyset-loop.js'
import type { AnyDB } from './row-writer.js'

/**
 * Deletes the rows matching `where` in batches of `batchSize` (default 1000), each batch its own
 * transaction through {@link withRetry}, walking the primary key (or `key`) upwards: CockroachDB's
 * recipe for deleting many rows without one huge transaction (docs /docs/stable/bulk-delete-data).
 * `rows` in the result and in `onBatch` counts the rows deleted. A batch the server finds too large
 * halves `batchSize` for the rest of the loop.
 *
 * `db` must be the Kysely instance: each batch commits on its own. The loop assumes no new matching
 * rows appear below the last key it deleted while it runs, and a concurrent deleter of the same rows
 * can end it early (a batch that finds nothing ends the loop): run it again to be sure.
 *
 * ```ts
 * import { deleteInBatches } from 'kysely-cockroachdb'
 *
 * const { rows } = await deleteInBatches(db, 'order', (eb) => eb('status', '=', 'cancelled'), {
 *   batchSize: 5000,
 *   onBatch: ({ rows, elapsedMs }) => console.log(`${rows} orders deleted in ${elapsedMs} ms`),
 * })
 * ```
 */
export async function deleteInBatches<DB, T extends keyof DB & string>(
  db: Kysely<DB>,
  table: T,
  where: (eb: ExpressionBuilder<DB, T>) => Expression<SqlBool>,
  options?: BatchLoopOptions<DB, T>,
): Promise<BulkProgress> {
  return await runKeysetLoop(
    'deleteInBatches',
    db as unknown as Kysely<AnyDB>,
    table,
    where as never,
    undefined,
    options as unknown as BatchLoopOptions<AnyDB, string> | undefined,
  )
}

/**
 * Updates the rows matching `change.where` with `change.set` in batches, as {@link deleteInBatches}
 * deletes them: each batch its own retried transaction, the key walked upwards, so the loop ends
 * even when `set` leaves rows matching `where`. `rows` counts the rows updated.
 *
 * ```ts
 * import { updateInBatches } from 'kysely-cockroachdb'
 *
 * await updateInBatches(db, 'order', { set: { status: 'archived' }, where: (eb) => eb('status', '=', 'done') }, { batchSize: 2000 })
 * ```
 */
export async function updateInBatches<DB, T extends keyof DB & string>(
  db: Kysely<DB>,
  table: T,
  change: { readonly set: Updateable<DB[T]>; readonly where: (eb: ExpressionBuilder<DB, T>) => Expression<SqlBool> },
  options?: BatchLoopOptions<DB, T>,
): Promise<BulkProgress> {
  const { set, where } = (change ?? {}) as { set?: unknown; where?: unknown }
  return await runKeysetLoop(
    'updateInBatches',
    db as unknown as Kysely<AnyDB>,
    table,
    where as never,
    (typeof set === 'object' && set !== null ? set : undefined) as Readonly<Record<string, unknown>> | undefined,
    options as unknown as BatchLoopOptions<AnyDB, string> | undefined,
  )
}
