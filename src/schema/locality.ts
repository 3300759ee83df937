// locality(): multi-region table localities. Grammar (pkg/sql/parser/sql.y): `locality: LOCALITY
// GLOBAL | LOCALITY REGIONAL BY TABLE IN region_name | LOCALITY REGIONAL BY TABLE IN PRIMARY REGION |
// LOCALITY REGIONAL BY TABLE | LOCALITY REGIONAL IN ... | LOCALITY REGIONAL | LOCALITY REGIONAL BY
// ROW | LOCALITY REGIONAL BY ROW AS name`; CREATE TABLE ends in `opt_locality` (after
// `opt_table_with`, so after a TTL's WITH), CREATE TABLE AS has none, and ALTER TABLE takes it as a
// statement of its own, `alter_table_locality_stmt: ALTER TABLE relation_expr SET locality`, not as
// an `alter_table_cmd`. `region_name` is an identifier: `"us-east1"` needs its quotes. Docs:
// /docs/stable/table-localities, /docs/stable/alter-table#set-locality, /docs/stable/multiregion-overview.
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { quoteIdentifier } from '../util/sql-quoting.js'
import { attachMarker } from './schema-builder-carrier.js'
import { checkColumnName, createSchemaMarker, describeValue } from './schema-marker.js'
import type { TableOptionCall } from './row-level-ttl.js'

/**
 * A table's locality in a multi-region database:
 *
 * - `{ regionalByTable: true }`: the table's data lives in the database's primary region;
 *   `{ regionalByTable: 'us-east1' }` in that region;
 * - `{ regionalByRow: true }`: each row lives in the region of its hidden `crdb_region` column
 *   (by default the region of the gateway that inserted it); `{ regionalByRow: { as: 'region' } }`
 *   uses a column of the application's, of type `crdb_internal_region`;
 * - `{ global: true }`: fast reads from every region, slower writes.
 *
 * ```ts
 * import type { LocalitySpec } from 'kysely-cockroachdb'
 *
 * const perRow: LocalitySpec = { regionalByRow: true }
 * ```
 */
export type LocalitySpec =
  { readonly regionalByTable: true | string } | { readonly regionalByRow: true | { readonly as: string } } | { readonly global: true }

/** The name of a region or database, quoted for SQL text. @internal */
export function quoteRegionName(name: unknown, api: string, what: string): string {
  if (typeof name !== 'string' || name.trim() === '' || name.includes('\0')) {
    throw new QueryRefusedError(
      api,
      `${what} must be a non-empty name, got ${describeValue(name)}`,
      `give it as a string such as 'us-east1'`,
    )
  }
  return quoteIdentifier(name)
}

/**
 * The locality's words after `locality`, and the column of `regional by row as` if any. @internal
 */
export function renderLocality(spec: unknown, api: string): { readonly text: string; readonly column: string | undefined } {
  const fix = 'give exactly one of { regionalByTable }, { regionalByRow } or { global: true }'
  if (typeof spec !== 'object' || spec === null || Object.keys(spec).length !== 1) {
    throw new QueryRefusedError(api, `expected one locality, got ${describeValue(spec)}`, fix)
  }
  const [key, value] = Object.entries(spec as Record<string, unknown>)[0]!
  if (key === 'global') {
    if (value !== true) throw new QueryRefusedError(api, `global must be true, got ${describeValue(value)}`, fix)
    return { text: 'global', column: undefined }
  }
  if (key === 'regionalByTable') {
    if (value === true) return { text: 'regional by table in primary region', column: undefined }
    return { text: `regional by table in ${quoteRegionName(value, api, 'regionalByTable')}`, column: undefined }
  }
  if (key === 'regionalByRow') {
    if (value === true) return { text: 'regional by row', column: undefined }
    if (typeof value === 'object' && value !== null && Object.keys(value).length === 1 && 'as' in value) {
      const column = checkColumnName((value as { as: unknown }).as, api, "{ regionalByRow: { as: 'region' } }")
      return { text: 'regional by row as', column }
    }
    throw new QueryRefusedError(api, `regionalByRow must be true or { as: column }, got ${describeValue(value)}`, fix)
  }
  throw new QueryRefusedError(api, `unknown locality ${JSON.stringify(key)}`, fix)
}

/**
 * A table's multi-region locality: `locality regional by row` (and the others of
 * {@link LocalitySpec}) at the end of `createTable`, or `alter table ... set locality ...` on
 * `alterTable`. The database must be multi-region first ({@link setPrimaryRegion}). The
 * `regionalByRow: { as }` column is a column reference (CamelCasePlugin renames it); region names
 * are written as given. Needs `CockroachDialect`.
 *
 * ```ts
 * import { locality } from 'kysely-cockroachdb'
 *
 * await db.schema.createTable('profile')
 *   .addColumn('id', 'uuid', (col) => col.primaryKey())
 *   .$call(locality({ regionalByRow: true }))
 *   .execute()
 * // create table "profile" ("id" uuid primary key) locality regional by row
 *
 * await db.schema.alterTable('product').$call(locality({ global: true })).execute()
 * // alter table "product" set locality global
 * ```
 */
export function locality(spec: LocalitySpec): TableOptionCall {
  const api = 'locality()'
  const { text, column } = renderLocality(spec, api)
  const marker = createSchemaMarker('locality', { text }, column === undefined ? [] : [column])
  return (<B>(qb: B) => attachMarker(qb, marker, api, ['createTable', 'alterTable'])) as TableOptionCall
}
