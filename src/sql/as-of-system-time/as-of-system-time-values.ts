import { QueryRefusedError } from '../../errors/query-refused-error.js'
import { readNearestOnly, renderPositiveInterval, renderTimestamp } from './as-of-system-time-literal.js'
import type {
  BoundedStalenessOptions,
  FollowerReadTimestamp,
  IntervalParts,
  MaxStaleness,
  MinTimestamp,
} from './as-of-system-time-literal.js'

// The named values asOfSystemTime() and readAt() take besides a Date, an interval and a bigint.
export type { BoundedStalenessOptions, FollowerReadTimestamp, MaxStaleness, MinTimestamp } from './as-of-system-time-literal.js'

const FOLLOWER_READ_TIMESTAMP: FollowerReadTimestamp = Object.freeze({ kind: 'followerReadTimestamp' })

/**
 * CockroachDB's `follower_read_timestamp()`: a timestamp old enough for any replica to serve the
 * read, the nearest one included: `statement_timestamp() - 4.2s` with the default settings
 * (`kv.closed_timestamp.target_duration` 3 s + `side_transport_interval` 200 ms +
 * `propagation_slack` 1 s: `getFollowerReadLag`, cockroach
 * pkg/ccl/kvccl/kvfollowerreadsccl/followerreads.go; docs /docs/stable/follower-reads). For
 * {@link asOfSystemTime} and {@link readAt}.
 *
 * ```ts
 * import { asOfSystemTime, followerReadTimestamp } from 'kysely-cockroachdb'
 *
 * await db.selectFrom('product').selectAll().$call(asOfSystemTime(followerReadTimestamp())).execute()
 * // select * from "product" as of system time follower_read_timestamp()
 * ```
 *
 * Follower reads need no license: the enterprise checks are no-ops since cockroach#131943 (also in
 * the patch releases of v23.1 to v24.2 it was backported to). An older server without a license
 * reads at that timestamp from the leaseholder instead, with the notice "follower reads disabled"
 * (cockroach pkg/sql/logictest/testdata/logic_test/as_of).
 */
export function followerReadTimestamp(): FollowerReadTimestamp {
  return FOLLOWER_READ_TIMESTAMP
}

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
export function withMaxStaleness(interval: string | IntervalParts, options: BoundedStalenessOptions = {}): MaxStaleness {
  renderPositiveInterval(interval, 'withMaxStaleness()')
  const nearestOnly = readNearestOnly(options, 'withMaxStaleness()')
  return Object.freeze({
    kind: 'maxStaleness',
    interval: typeof interval === 'string' ? interval : Object.freeze({ ...interval }),
    nearestOnly,
  })
}

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
