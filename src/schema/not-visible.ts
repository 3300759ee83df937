// notVisible(): invisible and partially visible indexes. Grammar (pkg/sql/parser/sql.y):
// `opt_index_visible: NOT VISIBLE | INVISIBLE | VISIBLE | VISIBILITY FCONST`, and the action refuses
// a value outside [0, 1] ("index visibility must be between 0 and 1"). FCONST is a literal with a
// decimal point: `VISIBILITY 1` (an ICONST) is a syntax error, so 0 and 1 print as `0.0` and `1.0`.
// Docs: /docs/stable/alter-index#set-an-index-to-be-partially-visible, /docs/stable/create-index.
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { attachMarker } from './schema-builder-carrier.js'
import { assertOptionKeys, createSchemaMarker, describeValue } from './schema-marker.js'
import type { CreateIndexCall } from './storing.js'

/**
 * Options of {@link notVisible}.
 *
 * ```ts
 * import type { NotVisibleOptions } from 'kysely-cockroachdb'
 *
 * const options: NotVisibleOptions = { visibility: 0.25 }
 * ```
 */
export interface NotVisibleOptions {
  /**
   * A partially visible index: the optimizer considers it for this fraction of queries (0 to 1,
   * at most 10 decimals). Omitted: `NOT VISIBLE`.
   */
  readonly visibility?: number
}

/**
 * Renders `visibility v`. @internal
 */
export function renderVisibility(value: unknown, api: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1 || Number(value.toFixed(10)) !== value) {
    throw new QueryRefusedError(
      api,
      `visibility must be a number from 0 to 1 with at most 10 decimals, got ${describeValue(value)}`,
      'use notVisible() for NOT VISIBLE',
    )
  }
  // toFixed(10) never uses exponent notation for [0, 1]; trailing zeros go, one decimal stays.
  const text = value.toFixed(10).replace(/0+$/, '').replace(/\.$/, '.0')
  return `visibility ${text}`
}

/**
 * Creates the index invisible to the optimizer (`NOT VISIBLE`), or partially visible
 * (`VISIBILITY 0.25`): the index is built and maintained, and queries use it only when told to
 * (`indexHint()`) or, partially, for that fraction of queries. The way to test an index on
 * production traffic before relying on it, or to retire one safely.
 *
 * ```ts
 * import { sql } from 'kysely'
 * import { notVisible } from 'kysely-cockroachdb'
 *
 * await db.schema.createIndex('order_status_idx').on('order').column('status')
 *   .$call(notVisible())
 *   .execute()
 * // create index "order_status_idx" on "order" ("status") not visible
 *
 * await db.schema.createIndex('order_total_idx').on('order').column('total')
 *   .where(sql.ref('status'), '=', 'open')
 *   .$call(notVisible({ visibility: 0.25 }))
 *   .execute()
 * // create index "order_total_idx" on "order" ("total") where "status" = 'open' visibility 0.25
 * ```
 */
export function notVisible(options: NotVisibleOptions = {}): CreateIndexCall {
  const api = 'notVisible()'
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(api, `options must be an object, got ${describeValue(options)}`, 'write notVisible({ visibility: 0.25 })')
  }
  assertOptionKeys(options, ['visibility'], api)
  const text = options.visibility === undefined ? 'not visible' : renderVisibility(options.visibility, api)
  const marker = createSchemaMarker('visibility', { text })
  return (<B>(qb: B): B => attachMarker(qb, marker, api, ['createIndex']) as B) as CreateIndexCall
}
