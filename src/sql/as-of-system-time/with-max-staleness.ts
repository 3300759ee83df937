import { readNearestOnly, renderPositiveInterval } from './as-of-system-time-literal.js'
import type { BoundedStalenessOptions, IntervalParts, MaxStaleness } from './as-of-system-time-literal.js'

export type { BoundedStalenessOptions, MaxStaleness } from './as-of-system-time-literal.js'

/**
 * A bounded staleness read, `with_max_staleness(interval[, nearest_only])`: CockroachDB picks the
 * newest timestamp the nearest replica can serve, at most `interval` old. For {@link asOfSystemTime}
 * on single-statement read-only queries only (not in transactions, so not for {@link readAt}).
 *
 * ```ts
 * import { asOfSystemTime, withMaxStaleness } from 'kysely-cockroachdb'
 *
 * await db.selectFrom('product').selectAll().where('id', '=', id)
 *   .$call(asOfSystemTime(withMaxStaleness('10s', { nearestOnly: true })))
 *   .execute()
 * // select * from "product" as of system time with_max_staleness('10s', true) where "id" = $1
 * ```
 *
 * @param interval a positive interval, `'10s'`, `'1m30s'`, or `{ seconds: 10 }`.
 * @throws QueryRefusedError for anything else.
 */
export function withMaxStaleness(
  interval: string | IntervalParts,
  options: BoundedStalenessOptions = {},
): MaxStaleness {
  renderPositiveInterval(interval, 'withMaxStaleness()')
  const nearestOnly = readNearestOnly(options, 'withMaxStaleness()')
  return Object.freeze({
    kind: 'maxStaleness',
    interval: typeof interval === 'string' ? interval : Object.freeze({ ...interval }),
    nearestOnly,
  })
}
