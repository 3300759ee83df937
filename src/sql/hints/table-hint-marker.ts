// How hinted table references travel through Kysely's operation tree. Internal: not exported
// from the package.
//
// A hinted table is an AliasNode whose alias is a RawNode: its first SQL fragment carries the hints
// as text (`[<join algorithm>]@[<index hint>]`) and its only parameter, if any, is the alias.
// CamelCasePlugin and WithSchemaPlugin rebuild nodes through OperationNodeTransformer, which keeps
// RawNode fragments verbatim and transforms RawNode parameters, so the hints survive while the
// table (an AliasNode around a TableNode, which WithSchemaPlugin qualifies) and the alias get the
// plugins' treatment. CockroachQueryCompiler recognises the fragment by its shape.
import { RawNode, sql, TableNode } from 'kysely'
import type { OperationNode } from 'kysely'
import { quoteIdentifier } from '../../util/sql-quoting.js'
import { KyselyCockroachError } from '../../errors/kysely-cockroach-error.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

/**
 * CockroachDB's join hints (`opt_join_hint` in pkg/sql/parser/sql.y). `straight` fixes the join
 * order without choosing an algorithm; it arrived in v24.1 (cockroach#116013; docs
 * /docs/v24.1/cost-based-optimizer#supported-join-algorithms), so every supported version has it.
 */
export type JoinAlgorithm = 'hash' | 'merge' | 'lookup' | 'inverted' | 'straight'

export const JOIN_ALGORITHMS: readonly JoinAlgorithm[] = Object.freeze(['hash', 'merge', 'lookup', 'inverted', 'straight'])

const MARKER = /^(hash|merge|lookup|inverted|straight)?@/

export interface TableHint {
  readonly join: JoinAlgorithm | undefined
  /** What follows `@`: `"idx"` or `{...}`; empty when there is no index hint. */
  readonly index: string
  readonly alias: OperationNode | undefined
}

export function createTableHintAlias(join: JoinAlgorithm | undefined, index: string, alias: OperationNode | undefined): RawNode {
  const head = `${join ?? ''}@${index}`
  return alias === undefined ? RawNode.create([head], []) : RawNode.create([head, ''], [alias])
}

export function readTableHint(node: RawNode): TableHint | undefined {
  const { sqlFragments, parameters } = node
  const head = sqlFragments[0]
  if (head === undefined || parameters.length > 1 || sqlFragments.length !== parameters.length + 1) {
    return undefined
  }
  const match = MARKER.exec(head)
  if (match === null || (sqlFragments.length === 2 && sqlFragments[1] !== '')) {
    return undefined
  }
  return {
    join: match[1] as JoinAlgorithm | undefined,
    index: head.slice(match[0].length),
    alias: parameters[0],
  }
}

/** Quotes a user-given identifier for SQL text, after checking it is a usable name. */
export function quoteUserIdentifier(name: unknown, api: string, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw new QueryRefusedError(
      api,
      `${what} must be a non-empty string without NUL characters, got ${JSON.stringify(name)}`,
      'give the name as CockroachDB shows it (SHOW INDEXES FROM the table)',
    )
  }
  return quoteIdentifier(name)
}

/**
 * A table name as Kysely reads it (`table` or `schema.table`), without an alias: the TableNode of
 * Kysely's own parseTable (parser/table-parser.js, which `sql.table()` calls), so a hinted table
 * compiles exactly as `selectFrom(table)` would, `a.b.c` included (Kysely keeps `a` and `b`).
 */
export function parseTable(table: unknown, where: string): TableNode {
  if (typeof table !== 'string' || table.trim().length === 0) {
    throw new QueryRefusedError(where, 'the table must be a non-empty string', "give a name such as 'person' or 'public.person'")
  }
  if (table.includes(' as ')) {
    throw new QueryRefusedError(
      where,
      `the table ${JSON.stringify(table)} has an alias`,
      "give the table name alone and alias with .as('p')",
    )
  }
  // sql.table(name) is RawNode.createWithChild(parseTable(name)) in kysely 0.28 and 0.29.
  const node = sql.table(table).toOperationNode().parameters[0]
  if (node === undefined || !TableNode.is(node)) {
    throw new KyselyCockroachError(
      `${where}: Kysely's sql.table() no longer gives a table node. Update kysely-cockroachdb, or report the kysely version it runs on.`,
    )
  }
  return node
}
