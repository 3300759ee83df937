import { readNearestOnly, renderTimestamp } from './as-of-system-time-literal.js'
import type { BoundedStalenessOptions, MinTimestamp } from './as-of-system-time-literal.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

export type { MinTimestamp } from './as-of-system-time-literal.js'

/**
 * A bounded staleness read, `with_min_timestamp(timestamp[, nearest_only])`: CockroachDB picks the
 * newest timestamp the nearest replica can serve, no older than `timestamp`. For
 * {@link asOfSystemTime} on single-statement read-only queries only (not in transactions).
 *
 * ```ts
 * import { asOfSystemTime, withMinTimestamp } from 'kysely-cockroachdb'
 *
 * await db.selectFrom('product').selectAll().where('id', '=', id)
 *   .$call(asOfSystemTime(withMinTimestamp(new Date(Date.now() - 30_000))))
 *   .execute()
 * // select * from "product" as of system time with_min_timestamp('2024-05-01 11:59:30.000+00:00') where "id" = $1
 * ```
 *
 * @throws QueryRefusedError for an invalid Date or one before 1970.
 */
export function withMinTimestamp(timestamp: Date, options: BoundedStalenessOptions = {}): MinTimestamp {
  if (!(timestamp instanceof Date)) {
    throw new QueryRefusedError('withMinTimestamp()', 'expected a Date', 'give a Date, e.g. new Date(Date.now() - 10_000)')
  }
  renderTimestamp(timestamp, 'withMinTimestamp()')
  const nearestOnly = readNearestOnly(options, 'withMinTimestamp()')
  return Object.freeze({ kind: 'minTimestamp', timestamp: new Date(timestamp.getTime()), nearestOnly })
}
