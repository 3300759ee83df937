// The AS OF SYSTEM TIME rules CockroachDB enforces on a statement's SELECTs, checked while
// CockroachQueryCompiler compiles them, so that a refused query is refused before it is sent.
import type { SelectQueryNode } from 'kysely'
import { QueryRefusedError } from '../../errors/query-refused-error.js'
import { asOfSystemTimeInstant, isBoundedStalenessClause } from './as-of-system-time-literal.js'

/**
 * What CockroachDB would refuse about one SELECT's AS OF SYSTEM TIME clause, refused before sending.
 * `topLevel` says whether the SELECT is the statement's top-level one, `topLevelAsOf` the clause of
 * that top-level SELECT if it has one. Returns the clause to remember as the top level's.
 *
 * @internal
 */
export function checkAsOfSystemTime(
  node: SelectQueryNode,
  clause: string,
  locking: boolean,
  topLevel: boolean,
  topLevelAsOf: string | undefined,
): string | undefined {
  if (locking) {
    throw new QueryRefusedError(
      'asOfSystemTime()',
      'AS OF SYSTEM TIME cannot be combined with FOR UPDATE/FOR SHARE: historical reads take no locks',
      'remove the locking clause or asOfSystemTime()',
    )
  }
  if (node.from === undefined) {
    throw new QueryRefusedError(
      'asOfSystemTime()',
      'the query has no FROM clause, and CockroachDB only accepts AS OF SYSTEM TIME after FROM',
      'select from a table',
    )
  }
  // CockroachDB plans a scan with a hard limit as a multi-row scan that "can span multiple ranges
  // if the first range is empty", and bounded staleness allows a single-range read only: "cannot use
  // bounded staleness for queries that may touch more than one range or require an index join"
  // (scanParams (called from buildScan) in pkg/sql/opt/exec/execbuilder/relational.go), even for
  // LIMIT 1. The same check refuses a second scan (containsBoundedStalenessScan: "We already
  // planned a scan, perhaps as part of a subquery"): a join here, a subquery in visitSelectQuery.
  if (node.joins !== undefined && isBoundedStalenessClause(clause)) {
    throw secondBoundedStalenessScan('a join')
  }
  if (node.limit !== undefined && isBoundedStalenessClause(clause)) {
    throw new QueryRefusedError(
      'asOfSystemTime()',
      'bounded staleness (withMaxStaleness/withMinTimestamp) cannot be combined with limit(): CockroachDB refuses a ' +
        'limited scan there ("cannot use bounded staleness for queries that may touch more than one range")',
      'look the row up by its primary or unique key without limit(), e.g. with executeTakeFirst()',
    )
  }
  if (topLevel) {
    // CockroachDB looks for the clause on the statement's top-level SELECT clause only; a set
    // operation at the top is not one ((*planner).isAsOf in pkg/sql), so its branches'
    // clauses fail with "AS OF SYSTEM TIME must be provided on a top-level statement".
    if (node.setOperations !== undefined) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        'AS OF SYSTEM TIME cannot be on a top-level UNION/INTERSECT/EXCEPT in CockroachDB',
        "wrap it: db.selectFrom(q1.union(q2).as('u')).selectAll().$call(asOfSystemTime(value))",
      )
    }
    return clause
  }
  // Nested SELECTs may repeat the clause only if the top level has it, with the same timestamp
  // (Builder.validateAsOf in pkg/sql/opt/optbuilder), compared as instants: a Date and the bigint
  // of the same instant agree.
  if (topLevelAsOf === undefined) {
    throw new QueryRefusedError(
      'asOfSystemTime()',
      'AS OF SYSTEM TIME must be on the top-level SELECT of the statement; CockroachDB refuses it on a subquery, ' +
        'CTE or UNION branch alone',
      'apply asOfSystemTime() to the outer query',
    )
  }
  if (asOfSystemTimeInstant(topLevelAsOf) !== asOfSystemTimeInstant(clause)) {
    throw new QueryRefusedError(
      'asOfSystemTime()',
      `all AS OF SYSTEM TIME clauses of a statement must read at the same time: the top level has ` +
        `"${topLevelAsOf}", a subquery "${clause}"`,
      'give the subquery the same value as the outer query, or drop it there',
    )
  }
  return topLevelAsOf
}

/** A join or subquery in a bounded staleness read: see checkAsOfSystemTime for CockroachDB's rule. */
export function secondBoundedStalenessScan(what: 'a join' | 'a subquery'): QueryRefusedError {
  return new QueryRefusedError(
    'asOfSystemTime()',
    `bounded staleness (withMaxStaleness/withMinTimestamp) cannot be combined with ${what}: CockroachDB plans one ` +
      'scan for a bounded staleness read and refuses a second ("cannot use bounded staleness for queries that may ' +
      'touch more than one range or require an index join")',
    'read each table in a query of its own, or use an exact staleness such as asOfSystemTime(followerReadTimestamp())',
  )
}
