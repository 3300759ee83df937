// invertedIndex(): GIN (inverted) indexes on JSONB, arrays and, with a trigram operator class,
// strings. Grammar (pkg/sql/parser/sql.y): `opt_index_access_method: USING name`, where `gin` and
// `gist` make an inverted index (`btree` a forward one; `hash`, `spgist`, `brin` are
// `unimplemented`); `index_elem_options: opt_class opt_asc_desc opt_nulls_order` puts the operator
// class between the column and its direction. CockroachDB inverts the last column of a
// multi-column inverted index only (docs /docs/stable/inverted-indexes#multi-column-inverted-indexes),
// so the operator class goes on the last column. The INVERTED INDEX forms have no
// `opt_hash_sharded`. Docs: /docs/stable/inverted-indexes, /docs/stable/trigram-indexes.
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { attachMarker } from './schema-builder-carrier.js'
import { assertOptionKeys, createSchemaMarker, describeValue } from './schema-marker.js'
import type { CreateIndexCall } from './storing.js'

/**
 * The operator classes {@link invertedIndex} takes: trigram indexes on STRING columns
 * (`gin_trgm_ops` with GIN, `gist_trgm_ops` with GiST; docs /docs/stable/trigram-indexes). JSONB and
 * array columns need none.
 *
 * ```ts
 * import type { InvertedOpclass } from 'kysely-cockroachdb'
 *
 * const trigram: InvertedOpclass = 'gin_trgm_ops'
 * ```
 */
export type InvertedOpclass = 'gin_trgm_ops' | 'gist_trgm_ops'

/**
 * Options of {@link invertedIndex}.
 *
 * ```ts
 * import type { InvertedIndexOptions } from 'kysely-cockroachdb'
 *
 * const options: InvertedIndexOptions = { opclass: 'gin_trgm_ops' }
 * ```
 */
export interface InvertedIndexOptions {
  /** For a trigram index on a STRING column; omit it for JSONB and arrays. */
  readonly opclass?: InvertedOpclass
}

const OPCLASSES: Readonly<Record<InvertedOpclass, string>> = Object.freeze({ gin_trgm_ops: 'gin', gist_trgm_ops: 'gist' })

/**
 * Makes the index an inverted index: `USING GIN (col)`, or `USING GIN (col gin_trgm_ops)` for a
 * trigram index (`gist_trgm_ops` prints `USING GIST`). Kysely's own `.using('gin')` keeps working
 * too; this helper adds the operator class and the checks (an inverted index cannot be
 * hash-sharded; CockroachDB has no `jsonb_path_ops`, cockroach#81115).
 *
 * ```ts
 * import { invertedIndex } from 'kysely-cockroachdb'
 *
 * await db.schema.createIndex('event_payload_idx').on('event').column('payload')
 *   .$call(invertedIndex())
 *   .execute()
 * // create index "event_payload_idx" on "event" using gin ("payload")
 *
 * await db.schema.createIndex('person_name_trgm').on('person').column('name')
 *   .$call(invertedIndex({ opclass: 'gin_trgm_ops' }))
 *   .execute()
 * // create index "person_name_trgm" on "person" using gin ("name" gin_trgm_ops)
 * ```
 */
export function invertedIndex(options: InvertedIndexOptions = {}): CreateIndexCall {
  const api = 'invertedIndex()'
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(
      api,
      `options must be an object, got ${describeValue(options)}`,
      "write invertedIndex({ opclass: 'gin_trgm_ops' })",
    )
  }
  assertOptionKeys(options, ['opclass'], api)
  const opclass: unknown = options.opclass
  if (opclass === 'jsonb_path_ops') {
    throw new QueryRefusedError(
      api,
      'CockroachDB does not support the jsonb_path_ops operator class (cockroach#81115)',
      'omit opclass for a JSONB column',
    )
  }
  if (opclass !== undefined && (typeof opclass !== 'string' || !Object.hasOwn(OPCLASSES, opclass))) {
    throw new QueryRefusedError(
      api,
      `unknown operator class ${describeValue(opclass)}`,
      "use 'gin_trgm_ops' or 'gist_trgm_ops' for a trigram index, or omit opclass for JSONB and arrays",
    )
  }
  const method = opclass === undefined ? 'gin' : OPCLASSES[opclass as InvertedOpclass]
  const marker = createSchemaMarker('inverted', opclass === undefined ? { method } : { method, opclass })
  return (<B>(qb: B): B => attachMarker(qb, marker, api, ['createIndex']) as B) as CreateIndexCall
}
