// hashSharded(): CockroachDB's hash-sharded indexes and primary keys.
//
// Grammar (pkg/sql/parser/sql.y): `opt_hash_sharded: USING HASH opt_hash_sharded_bucket_count`; the
// bucket count is the storage parameter `bucket_count` of `opt_with_storage_parameter_list`, which
// comes after `opt_storing` (`create_index_stmt`, `index_def`: `'(' index_params ')' opt_hash_sharded
// opt_storing opt_partition_by_index opt_with_storage_parameter_list opt_where_clause
// opt_index_visible`), so `USING HASH WITH (bucket_count = 8) STORING (a)` is a syntax error and the
// compiler prints `using hash storing (a) with (bucket_count = 8)`. The legacy
// `USING HASH WITH BUCKET_COUNT = n` (opt_hash_sharded_bucket_count) is never printed. Primary keys:
// `col_qualification_elem: PRIMARY KEY USING HASH opt_hash_sharded_bucket_count
// opt_with_storage_parameter_list` and `constraint_elem: PRIMARY KEY '(' index_params ')'
// opt_hash_sharded opt_with_storage_parameter_list`. Docs: /docs/stable/hash-sharded-indexes.
import type { CreateIndexBuilder, CreateTableBuilder } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { attachMarker } from './schema-builder-carrier.js'
import { assertOptionKeys, createSchemaMarker, describeValue } from './schema-marker.js'

/**
 * Options of {@link hashSharded}.
 *
 * ```ts
 * import type { HashShardedOptions } from 'kysely-cockroachdb'
 *
 * const options: HashShardedOptions = { bucketCount: 8 }
 * ```
 */
export interface HashShardedOptions {
  /**
   * The number of shards, an integer from 2 to 2048 (CockroachDB's `EvalShardBucketCount` in
   * pkg/sql/catalog/tabledesc/table.go: "hash sharded index bucket count must be in range [2, 2048]").
   * Omitted: the cluster's default, `sql.defaults.default_hash_sharded_index_bucket_count` (16).
   */
  readonly bucketCount?: number
}

/**
 * What {@link hashSharded} returns: a function for `$call` on `db.schema.createIndex(...)` or
 * `db.schema.createTable(...)`, returning the same builder.
 *
 * ```ts
 * import { hashSharded } from 'kysely-cockroachdb'
 * import type { HashShardedCall } from 'kysely-cockroachdb'
 *
 * const byTime: HashShardedCall = hashSharded({ bucketCount: 8 })
 * ```
 */
export type HashShardedCall = <B extends CreateIndexBuilder<string> | CreateTableBuilder<string, string>>(qb: B) => B

const MAX_BUCKETS = 2048

/** Validates a bucket count; `undefined` stays undefined (the server's default). @internal */
export function checkBucketCount(value: unknown, api: string): number | undefined {
  if (value === undefined) {
    return undefined
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 2 || value > MAX_BUCKETS) {
    throw new QueryRefusedError(
      api,
      `bucketCount must be an integer from 2 to ${MAX_BUCKETS}, got ${describeValue(value)}`,
      "omit it for CockroachDB's default (16)",
    )
  }
  return value
}

/** `using hash` and, with a bucket count, `with (bucket_count = n)`, as the compiler prints them. @internal */
export function renderHashSharding(bucketCount: number | undefined): {
  readonly usingHash: string
  readonly withClause: string | undefined
} {
  return { usingHash: 'using hash', withClause: bucketCount === undefined ? undefined : `with (bucket_count = ${bucketCount})` }
}

/**
 * Hash-shards an index or a table's primary key: `USING HASH [WITH (bucket_count = n)]`.
 * Sequential keys (timestamps, counters) written to a plain index all land in one range; a
 * hash-sharded index spreads them over `bucketCount` shards through a hidden virtual column
 * (`crdb_internal_<columns>_shard_<n>`), at the cost of a scan per shard for range queries.
 *
 * On `createIndex` the clause follows the column list (before `storing` and the `where` of a partial
 * index, which the compiler orders). On `createTable` it hash-shards the primary key: the one column
 * with `.primaryKey()`, or the `addPrimaryKeyConstraint(...)`. Needs `CockroachDialect`; Kysely's own
 * `.using('hash')` is refused (it prints PostgreSQL's access method, which CockroachDB rejects).
 *
 * ```ts
 * import { hashSharded, storing } from 'kysely-cockroachdb'
 *
 * await db.schema.createIndex('event_ts_idx').on('event').column('ts')
 *   .$call(hashSharded({ bucketCount: 8 }))
 *   .$call(storing(['kind']))
 *   .execute()
 * // create index "event_ts_idx" on "event" ("ts") using hash storing ("kind") with (bucket_count = 8)
 *
 * await db.schema.createTable('reading')
 *   .addColumn('ts', 'timestamptz', (col) => col.primaryKey())
 *   .addColumn('value', 'float8')
 *   .$call(hashSharded())
 *   .execute()
 * // create table "reading" ("ts" timestamptz primary key using hash, "value" float8)
 * ```
 */
export function hashSharded(options: HashShardedOptions = {}): HashShardedCall {
  const api = 'hashSharded()'
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(api, `options must be an object, got ${describeValue(options)}`, 'write hashSharded({ bucketCount: 8 })')
  }
  assertOptionKeys(options, ['bucketCount'], api)
  const bucketCount = checkBucketCount(options.bucketCount, api)
  const marker = createSchemaMarker('hash', bucketCount === undefined ? {} : { bucketCount })
  return (<B>(qb: B): B => attachMarker(qb, marker, api, ['createIndex', 'createTable']) as B) as HashShardedCall
}
