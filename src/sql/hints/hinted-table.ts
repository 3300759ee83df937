import { AliasNode, IdentifierNode } from 'kysely'
import type { AliasedExpression, Expression, OperationNode } from 'kysely'
import { createTableHintAlias } from './table-hint-marker.js'
import type { JoinAlgorithm } from './table-hint-marker.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

/**
 * A table reference with CockroachDB hints, made by {@link indexHint} or {@link joinHint}. Use it
 * where Kysely takes a table (`selectFrom`, the `*Join` methods, `updateTable`, `deleteFrom`):
 * it types like the table under its alias, `alias` defaulting to the table name, and `.as()`
 * renames it.
 *
 * ```ts
 * import { indexHint } from 'kysely-cockroachdb'
 *
 * db.selectFrom(indexHint(db, 'person', 'person_name_idx').as('p')).select('p.name')
 * // select "p"."name" from "person"@"person_name_idx" as "p"
 * ```
 */
export class HintedTable<O, A extends string> implements AliasedExpression<O, A> {
  readonly #table: OperationNode
  readonly #alias: A
  readonly #aliasNode: OperationNode | undefined
  readonly #join: JoinAlgorithm | undefined
  readonly #index: string

  /**
   * @internal Use {@link indexHint} or {@link joinHint}. `aliasNode` undefined prints no alias
   * (the table is then referenced by its own name, `alias`).
   */
  constructor(table: OperationNode, alias: A, aliasNode: OperationNode | undefined, join: JoinAlgorithm | undefined, index: string) {
    this.#table = table
    this.#alias = alias
    this.#aliasNode = aliasNode
    this.#join = join
    this.#index = index
    Object.freeze(this)
  }

  /** The hinted table itself, without the alias. */
  get expression(): Expression<O> {
    const table = this.#table
    return Object.freeze({
      get expressionType(): O | undefined {
        return undefined
      },
      toOperationNode: () => table,
    })
  }

  get alias(): A {
    return this.#alias
  }

  /** The same hinted table under an alias: `"person"@"idx" as "p"`. */
  as<NA extends string>(alias: NA): HintedTable<O, NA> {
    if (typeof alias !== 'string' || alias.length === 0) {
      throw new QueryRefusedError(
        'HintedTable.as()',
        'the alias must be a non-empty string',
        "give a name, as in indexHint(db, 'pet', 'pet_name_idx').as('p')",
      )
    }
    return new HintedTable<O, NA>(this.#table, alias, IdentifierNode.create(alias), this.#join, this.#index)
  }

  toOperationNode(): AliasNode {
    return AliasNode.create(this.#table, createTableHintAlias(this.#join, this.#index, this.#aliasNode))
  }
}
