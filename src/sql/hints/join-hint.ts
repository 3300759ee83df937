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
export function joinHint<DB, T extends keyof DB & string>(
  algorithm: JoinAlgorithm,
  db: Kysely<DB>,
  table: T,
): HintedTable<DB[T], T>
export function joinHint<DB, T extends keyof DB & string>(
  algorithm: JoinAlgorithm,
  db: QueryCreator<DB>,
  table: T,
): HintedTable<DB[T], T>
export function joinHint<O, A extends string>(algorithm: JoinAlgorithm, table: AliasedExpression<O, A>): HintedTable<O, A>
export function joinHint(
  algorithm: JoinAlgorithm,
  dbOrTable: object,
  table?: string,
): HintedTable<unknown, string> {
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
