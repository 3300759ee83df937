// storing(): covering indexes. Grammar (pkg/sql/parser/sql.y): `opt_storing: storing '(' name_list ')'`,
// `storing: COVERING | STORING | INCLUDE`; `name_list` takes plain column names, no expressions and
// no ASC/DESC. Docs: /docs/stable/create-index#store-columns.
import type { CreateIndexBuilder } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { attachMarker } from './schema-builder-carrier.js'
import { checkColumnName, createSchemaMarker } from './schema-marker.js'

/**
 * What {@link storing}, {@link invertedIndex} and {@link notVisible} return: a function for `$call` on
 * `db.schema.createIndex(...)`, returning the same builder.
 *
 * ```ts
 * import { storing } from 'kysely-cockroachdb'
 * import type { CreateIndexCall } from 'kysely-cockroachdb'
 *
 * const covering: CreateIndexCall = storing(['name'])
 * ```
 */
export type CreateIndexCall = <B extends CreateIndexBuilder<string>>(qb: B) => B

/**
 * Stores extra columns in an index (`STORING (a, b)`), so that queries reading only the indexed
 * and stored columns need no join back to the primary index. The names are column references:
 * CamelCasePlugin renames them like the index's own columns.
 *
 * ```ts
 * import { storing } from 'kysely-cockroachdb'
 *
 * await db.schema.createIndex('account_name_idx').on('account').column('name')
 *   .$call(storing(['balance']))
 *   .execute()
 * // create index "account_name_idx" on "account" ("name") storing ("balance")
 * ```
 */
export function storing<C extends string>(columns: readonly C[]): CreateIndexCall {
  const api = 'storing()'
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new QueryRefusedError(api, 'give one or more column names', "write storing(['total'])")
  }
  const names = columns.map((c) => checkColumnName(c, api, "storing(['total'])"))
  const duplicate = names.find((name, i) => names.indexOf(name) !== i)
  if (duplicate !== undefined) {
    throw new QueryRefusedError(api, `"${duplicate}" is listed twice`, 'list each column once')
  }
  const marker = createSchemaMarker('storing', {}, names)
  return (<B>(qb: B): B => attachMarker(qb, marker, api, ['createIndex']) as B) as CreateIndexCall
}
