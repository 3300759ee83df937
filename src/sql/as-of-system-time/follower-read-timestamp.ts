import type { FollowerReadTimestamp } from './as-of-system-time-literal.js'

export type { FollowerReadTimestamp } from './as-of-system-time-literal.js'

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
