import { AliasNode, RawNode } from 'kysely'
import type { AliasedExpression, Kysely, QueryCreator } from 'kysely'
import { HintedTable } from './hinted-table.js'
import { JOIN_ALGORITHMS, parseTable, readTableHint } from './table-hint-marker.js'
import type { JoinAlgorithm } from './table-hint-marker.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'
import { describeValue } from '../../util/describe-value.js'

export type { JoinAlgorithm } from './table-hint-marker.js'

/**
 * A join hint on the right-hand table of a join: `inner hash join`, `left merge join`,
 * `inner lookup join`, `inner inverted join`, `inner straight join` (docs
 * /docs/stable/cost-based-optimizer#join-hints; `opt_join_hint` in pkg/sql/parser/sql.y).
 * CockroachDB then keeps the join order as written; `straight` does only that, leaving the
 * algorithm to the optimizer (v24.1+). `lookup` and `inverted` work with inner and left joins only,
 * `straight` with inner, left and right joins; `hash` and `merge` also with full joins, and `hash`
 * with cross joins (a merge join needs an equality condition, which a cross join lacks). Lateral
 * joins take no hint here.
 *
 * ```ts
 * import { indexHint, joinHint } from 'kysely-cockroachdb'
 *
 * db.selectFrom('person')
 *   .innerJoin(joinHint('hash', db, 'pet'), 'pet.owner_id', 'person.id')
 *   .selectAll()
 * // select * from "person" inner hash join "pet" on "pet"."owner_id" = "person"."id"
 *
 * db.selectFrom('person')
 *   .leftJoin(joinHint('lookup', indexHint(db, 'pet', 'pet_owner_idx').as('p')), 'p.owner_id', 'person.id')
 *   .selectAll()
 * // select * from "person" left lookup join "pet"@"pet_owner_idx" as "p" on "p"."owner_id" = "person"."id"
 * ```
 *
 * The second form takes any aliased table expression: an {@link indexHint} table or a subquery
 * (`db.selectFrom(...).as('s')`).
 */
export function joinHint<DB, T extends keyof DB & string>(algorithm: JoinAlgorithm, db: Kysely<DB>, table: T): HintedTable<DB[T], T>
export function joinHint<DB, T extends keyof DB & string>(algorithm: JoinAlgorithm, db: QueryCreator<DB>, table: T): HintedTable<DB[T], T>
export function joinHint<O, A extends string>(algorithm: JoinAlgorithm, table: AliasedExpression<O, A>): HintedTable<O, A>
export function joinHint(algorithm: JoinAlgorithm, dbOrTable: object, table?: string): HintedTable<unknown, string> {
  if (!JOIN_ALGORITHMS.includes(algorithm)) {
    throw new QueryRefusedError('joinHint()', `unknown join algorithm ${describeValue(algorithm)}`, `use ${JOIN_ALGORITHMS.join(', ')}`)
  }
  if (table !== undefined) {
    return new HintedTable(parseTable(table, 'joinHint()'), table, undefined, algorithm, '')
  }
  const aliased = dbOrTable as Partial<AliasedExpression<unknown, string>>
  const node = typeof aliased?.toOperationNode === 'function' ? aliased.toOperationNode() : undefined
  if (node === undefined || !AliasNode.is(node)) {
    throw new QueryRefusedError(
      'joinHint()',
      'the second argument is neither a Kysely instance with a table name nor an aliased table',
      "give (algorithm, db, 'table') or (algorithm, aliasedTable), where aliasedTable is an indexHint() table or a " +
        "subquery with .as('alias')",
    )
  }
  const existing = RawNode.is(node.alias) ? readTableHint(node.alias) : undefined
  if (existing?.join !== undefined) {
    throw new QueryRefusedError('joinHint()', `the table already has the join hint ${existing.join}`, 'give each join one joinHint()')
  }
  const alias = typeof aliased.alias === 'string' ? aliased.alias : ''
  return existing === undefined
    ? new HintedTable(node.node, alias, node.alias, algorithm, '')
    : new HintedTable(node.node, alias, existing.alias, algorithm, existing.index)
}

// `<join type> <hint> JOIN`: sql.y `table_ref join_type opt_join_hint JOIN table_ref join_qual`
// and `table_ref CROSS opt_join_hint JOIN table_ref`.
const HINTABLE_JOINS: Readonly<Record<string, string>> = Object.freeze({
  InnerJoin: 'inner',
  LeftJoin: 'left',
  RightJoin: 'right',
  FullJoin: 'full',
  CrossJoin: 'cross',
})

/**
 * The join keyword for a join whose table carries `joinHint(join, ...)`, e.g. `inner` for an
 * InnerJoin node; refuses the combinations CockroachDB's grammar or optimizer refuse.
 *
 * @internal
 */
export function joinHintKeyword(join: JoinAlgorithm, nodeJoinType: string): string {
  const joinType = HINTABLE_JOINS[nodeJoinType]
  if (joinType === undefined) {
    throw new QueryRefusedError(
      'joinHint()',
      `joinHint('${join}', ...) cannot be used with a ${nodeJoinType}`,
      'use an inner, left, right, full or cross join',
    )
  }
  // sql.y, opt_join_hint: "LOOKUP can only be used with INNER and LEFT joins" (INVERTED likewise).
  if ((join === 'lookup' || join === 'inverted') && joinType !== 'inner' && joinType !== 'left') {
    throw new QueryRefusedError(
      'joinHint()',
      `joinHint('${join}', ...) works with inner and left joins only, not with a ${joinType} join`,
      'use innerJoin or leftJoin',
    )
  }
  // docs /docs/stable/cost-based-optimizer#supported-join-algorithms: "a straight INNER, LEFT, or
  // RIGHT join"; the other join types are not documented for it.
  if (join === 'straight' && joinType !== 'inner' && joinType !== 'left' && joinType !== 'right') {
    throw new QueryRefusedError(
      'joinHint()',
      `joinHint('straight', ...) works with inner, left and right joins only, not with a ${joinType} join`,
      'use innerJoin, leftJoin or rightJoin',
    )
  }
  // A merge join needs equality columns and a cross join has none: GenerateMergeJoins
  // (pkg/sql/opt/xform/join_funcs.go) produces no merge join, and execbuilder's buildHashJoin fails
  // with "could not produce a query plan conforming to the MERGE JOIN hint".
  if (join === 'merge' && joinType === 'cross') {
    throw new QueryRefusedError(
      'joinHint()',
      "joinHint('merge', ...) cannot be used with a cross join: a merge join needs an equality condition, and " +
        'CockroachDB fails with "could not produce a query plan conforming to the MERGE JOIN hint"',
      "use innerJoin(joinHint('merge', ...), 'a.x', 'b.x') or joinHint('hash', ...)",
    )
  }
  return joinType
}
