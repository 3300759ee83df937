import type { FollowerReadTimestamp } from './as-of-system-time-literal.js'

export type { FollowerReadTimestamp } from './as-of-system-time-literal.js'

const FOLLOWER_READ_TIMESTAMP: FollowerReadTimestamp = Object.freeze({ kind: 'followerReadTimestamp' })

/**
 * CockroachDB's `follower_read_timestamp()`: a timestamp old enough (about 4.8 s) for any replica
 * to serve the read, the nearest one included. For {@link asOfSystemTime} and {@link readAt}.
 *
 * ```ts
 * import { asOfSystemTime, followerReadTimestamp } from 'kysely-cockroachdb'
 *
 * await db.selectFrom('product').selectAll().$call(asOfSystemTime(followerReadTimestamp())).execute()
 * // select * from "product" as of system time follower_read_timestamp()
 * ```
 *
 * Without an enterprise license (or on a non-CCL build) the read still happens at that timestamp
 * but from the leaseholder, and CockroachDB sends the notice "follower reads disabled"
 * (cockroach pkg/sql/logictest/testdata/logic_test/as_of).
 */
export function followerReadTimestamp(): FollowerReadTimestamp {
  return FOLLOWER_READ_TIMESTAMP
}
