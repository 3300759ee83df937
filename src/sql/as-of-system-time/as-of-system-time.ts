import { sql } from 'kysely'
import type { OperationNode, RawNode, SelectQueryBuilder } from 'kysely'
import { AS_OF_SYSTEM_TIME_PREFIX, renderAsOfSystemTime } from './as-of-system-time-literal.js'
import type { AsOfSystemTimeValue } from './as-of-system-time-literal.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

export type { AsOfSystemTimeValue, BoundedStaleness, IntervalParts, NegativeInterval } from './as-of-system-time-literal.js'

/**
 * Reads a SELECT as of a past time (CockroachDB's `AS OF SYSTEM TIME`), for `$call`. The value is
 * validated now and rendered as a literal, because CockroachDB takes no placeholders there;
 * {@link CockroachQueryCompiler} puts the clause right after the FROM clause and its joins.
 *
 * ```ts
 * import { asOfSystemTime } from 'kysely-cockroachdb'
 *
 * const rows = await db
 *   .selectFrom('person')
 *   .innerJoin('pet', 'pet.owner_id', 'person.id')
 *   .select(['person.name', 'pet.name as pet'])
 *   .where('person.id', '=', id)
 *   .$call(asOfSystemTime('-10s'))
 *   .execute()
 * // select "person"."name", "pet"."name" as "pet" from "person"
 * //   inner join "pet" on "pet"."owner_id" = "person"."id"
 * //   as of system time '-10s' where "person"."id" = $1
 * ```
 *
 * Values: a `Date` (`'2024-05-01 12:00:00.000+00:00'`), an interval in the past (`'-10s'`,
 * `'-1m30s'` rendered `'-1m-30s'`, or `{ minutes: 1, seconds: 30 }`), a `bigint` of nanoseconds
 * since the epoch, {@link followerReadTimestamp}, {@link withMaxStaleness} and
 * {@link withMinTimestamp}.
 *
 * CockroachDB takes the clause only on the top-level SELECT of a statement; subqueries, CTEs and
 * UNION branches may repeat the same instant (a `Date` and the `bigint` of the same instant agree).
 * The compiler refuses, before anything is sent: the clause on a subquery without it on the top
 * level, different instants in one statement, a top-level UNION carrying it (wrap the UNION in
 * `selectFrom(union.as('u'))`), FOR UPDATE/FOR SHARE, INSERT/UPDATE/DELETE, and bounded staleness
 * with `limit()`. A query carrying it that runs inside a transaction is refused too, before it is
 * sent: use {@link readAt} to read the past in a transaction.
 *
 * @throws QueryRefusedError for a value CockroachDB would refuse or that is not one of the above.
 */
export function asOfSystemTime(
  value: AsOfSystemTimeValue,
): <DB, TB extends keyof DB, O>(qb: SelectQueryBuilder<DB, TB, O>) => SelectQueryBuilder<DB, TB, O> {
  const clause = AS_OF_SYSTEM_TIME_PREFIX + renderAsOfSystemTime(value, 'asOfSystemTime()', true)
  // A raw fragment in the end modifiers: plugins built on OperationNodeTransformer copy raw SQL
  // fragments verbatim, so the compiler can find the clause again by its text and move it.
  const marker = sql.raw(clause)
  return (qb) => {
    if (typeof (qb as { modifyEnd?: unknown } | undefined)?.modifyEnd !== 'function') {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        'it was applied to something that is not a select query',
        'use it on a select query, as db.selectFrom(...).$call(asOfSystemTime(value))',
      )
    }
    return qb.modifyEnd(marker)
  }
}

/**
 * Whether `node` is the marker {@link asOfSystemTime} leaves in a SELECT's end modifiers: a raw
 * fragment with no parameters that starts with the clause. Plugins built on
 * OperationNodeTransformer copy raw nodes verbatim, so the marker survives CamelCasePlugin and
 * WithSchemaPlugin. Internal: used by the compiler and the transaction guard.
 */
export function isAsOfSystemTimeMarker(node: OperationNode | undefined): node is RawNode {
  if (node === undefined || node.kind !== 'RawNode') {
    return false
  }
  const { sqlFragments, parameters } = node as RawNode
  return sqlFragments.length === 1 && parameters.length === 0 && sqlFragments[0]!.startsWith(AS_OF_SYSTEM_TIME_PREFIX)
}
