import { sql } from 'kysely'
import type { Kysely, Transaction } from 'kysely'
import { renderAsOfSystemTime } from './as-of-system-time-literal.js'
import type { AsOfSystemTimeValue, BoundedStaleness } from './as-of-system-time-literal.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

/**
 * What {@link readAt} accepts: every {@link AsOfSystemTimeValue} except bounded staleness, which
 * CockroachDB only allows on single-statement queries (pkg/sql/sem/asof/as_of.go accepts
 * `with_min_timestamp`/`with_max_staleness` only where the caller opts in, which SET TRANSACTION
 * does not).
 *
 * ```ts
 * import { followerReadTimestamp, readAt } from 'kysely-cockroachdb'
 * import type { ReadAtValue } from 'kysely-cockroachdb'
 *
 * const at: ReadAtValue = followerReadTimestamp() // or '-10s', a Date, { minutes: 5 }, a bigint of nanoseconds
 * await readAt(db, at, (trx) => trx.selectFrom('account').selectAll().execute())
 * ```
 */
export type ReadAtValue = Exclude<AsOfSystemTimeValue, BoundedStaleness>

/**
 * Runs `callback` in a read-only transaction that reads the database as it was at `value`:
 * `BEGIN`, then `SET TRANSACTION AS OF SYSTEM TIME <value>` as its first statement (CockroachDB
 * docs /docs/stable/as-of-system-time#use-as-of-system-time-in-transactions), then your queries,
 * then `COMMIT`. Every query in the callback sees the same snapshot; writes fail.
 *
 * ```ts
 * import { followerReadTimestamp, readAt } from 'kysely-cockroachdb'
 *
 * const report = await readAt(db, followerReadTimestamp(), async (trx) => {
 *   const orders = await trx.selectFrom('order').selectAll().execute()
 *   const items = await trx.selectFrom('order_item').selectAll().execute()
 *   return { orders, items }
 * })
 * // begin
 * // set transaction as of system time follower_read_timestamp()
 * // select * from "order"
 * // select * from "order_item"
 * // commit
 * ```
 *
 * @param value validated before the transaction starts; see {@link asOfSystemTime} for the forms.
 */
export async function readAt<DB, T>(db: Kysely<DB>, value: ReadAtValue, callback: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  const literal = renderAsOfSystemTime(value, 'readAt()', false)
  if (typeof callback !== 'function') {
    throw new QueryRefusedError(
      'readAt()',
      'the third argument must be an async function receiving the transaction',
      'call readAt(db, value, async (trx) => ...)',
    )
  }
  if (typeof (db as { transaction?: unknown } | undefined)?.transaction !== 'function') {
    throw new QueryRefusedError(
      'readAt()',
      'the first argument must be a Kysely instance (not a transaction: they do not nest)',
      'call readAt(db, value, callback) with the Kysely instance',
    )
  }
  return db.transaction().execute(async (trx) => {
    await sql`set transaction as of system time ${sql.raw(literal)}`.execute(trx)
    return callback(trx)
  })
}
