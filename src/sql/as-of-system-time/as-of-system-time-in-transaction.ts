import type { CompiledQuery, SelectQueryNode } from 'kysely'
import { isAsOfSystemTimeMarker } from './as-of-system-time.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

/**
 * Whether `query` reads AS OF SYSTEM TIME at the statement level: {@link asOfSystemTime} applied to
 * its top-level SELECT. Nested SELECTs can only carry the clause when the top level does (the
 * compiler refuses the rest), so the top level decides. Raw SQL, including readAt()'s own
 * `set transaction as of system time ...`, is not looked into. Internal.
 */
export function hasStatementAsOfSystemTime(query: CompiledQuery): boolean {
  const node = query.query
  if (node.kind !== 'SelectQueryNode') {
    return false
  }
  const modifiers = (node as SelectQueryNode).endModifiers
  return modifiers !== undefined && modifiers.some((modifier) => isAsOfSystemTimeMarker(modifier.rawModifier))
}

/**
 * Refuses, before anything is sent, a statement-level AS OF SYSTEM TIME on a connection that has a
 * transaction open. CockroachDB fails it there: a bounded staleness read with "cannot use a bounded
 * staleness query in a transaction", any other value with "inconsistent AS OF SYSTEM TIME
 * timestamp" unless it equals the transaction's own read timestamp, which only a transaction
 * already fixed at that time has, and which then adds nothing (`handleAOST` in
 * pkg/sql/conn_executor_exec.go; its hint is "try SET TRANSACTION AS OF SYSTEM TIME", which is what
 * {@link readAt} does). Internal: called by CockroachConnection.
 */
export function refuseAsOfSystemTimeInTransaction(query: CompiledQuery, inTransaction: boolean): void {
  if (!inTransaction || !hasStatementAsOfSystemTime(query)) {
    return
  }
  throw new QueryRefusedError(
    'asOfSystemTime()',
    'this query runs inside a transaction, where CockroachDB refuses a statement-level AS OF SYSTEM TIME ' +
      '("inconsistent AS OF SYSTEM TIME timestamp"; bounded staleness: "cannot use a bounded staleness query in a ' +
      'transaction")',
    'to read the past in a transaction, use readAt(db, value, callback), which sets the time for the whole ' +
      'transaction, and drop asOfSystemTime() from its queries; or run this query on db, outside the transaction',
  )
}
