// alterPrimaryKey(): `ALTER TABLE t ALTER PRIMARY KEY USING COLUMNS (...)`. Grammar
// (pkg/sql/parser/sql.y): `alter_table_cmd: ALTER PRIMARY KEY USING COLUMNS '(' index_params ')'
// opt_hash_sharded opt_with_storage_parameter_list`. Docs: /docs/stable/alter-table#alter-primary-key
// (the old primary key stays as a unique secondary index unless it was `rowid`; the columns must be
// NOT NULL, "cannot use nullable column ... in primary key", pkg/sql/alter_primary_key.go; it runs
// as a background job that rewrites the table).
//
// The statement is built on `db.schema.alterTable(table)` when it is compiled, so WithSchemaPlugin
// qualifies the table and CamelCasePlugin renames the columns; the marker rides in
// addCheckConstraint (schema-builder-carrier.ts) and CockroachQueryCompiler prints the command.
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { checkBucketCount } from './hash-sharded.js'
import type { HashShardedOptions } from './hash-sharded.js'
import { attachToAlterTable } from './schema-builder-carrier.js'
import { assertOptionKeys, checkColumnName, createSchemaMarker, describeValue } from './schema-marker.js'
import type { CockroachStatement } from './cockroach-statement.js'

/**
 * Options of {@link alterPrimaryKey}.
 *
 * ```ts
 * import type { AlterPrimaryKeyOptions } from 'kysely-cockroachdb'
 *
 * const options: AlterPrimaryKeyOptions = { hashSharded: { bucketCount: 8 } }
 * ```
 */
export interface AlterPrimaryKeyOptions {
  /** Hash-shard the new primary key (`using hash`), optionally with a bucket count. */
  readonly hashSharded?: true | HashShardedOptions
}

/**
 * Changes a table's primary key: `alter table "t" alter primary key using columns ("a", "b")
 * [using hash [with (bucket_count = n)]]`. CockroachDB rewrites the table in a background job, and
 * keeps the old key as a unique index (unless it was the implicit `rowid`).
 *
 * ```ts
 * import { alterPrimaryKey } from 'kysely-cockroachdb'
 *
 * await alterPrimaryKey('event', ['kind', 'id'], { hashSharded: { bucketCount: 8 } }).execute(db)
 * // alter table "event" alter primary key using columns ("kind", "id") using hash with (bucket_count = 8)
 * ```
 */
export function alterPrimaryKey(table: string, columns: readonly string[], options: AlterPrimaryKeyOptions = {}): CockroachStatement {
  const api = 'alterPrimaryKey()'
  const example = "alterPrimaryKey('event', ['tenant_id', 'id'])"
  if (typeof table !== 'string' || table.trim() === '') {
    throw new QueryRefusedError(api, `the table must be a non-empty name, got ${describeValue(table)}`, `write ${example}`)
  }
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new QueryRefusedError(api, "give the new primary key's columns", `write ${example}`)
  }
  const names = columns.map((c) => checkColumnName(c, api, example))
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(api, `options must be an object, got ${describeValue(options)}`, 'write { hashSharded: true }')
  }
  assertOptionKeys(options, ['hashSharded'], api)
  const hash = options.hashSharded
  let data: object = {}
  if (hash !== undefined) {
    if (hash !== true && (typeof hash !== 'object' || hash === null)) {
      throw new QueryRefusedError(
        api,
        `hashSharded must be true or { bucketCount }, got ${describeValue(hash)}`,
        'write { hashSharded: { bucketCount: 8 } }',
      )
    }
    if (hash !== true) assertOptionKeys(hash, ['bucketCount'], api)
    const bucketCount = hash === true ? undefined : checkBucketCount(hash.bucketCount, api)
    data = bucketCount === undefined ? { hash: true } : { hash: true, bucketCount }
  }
  const marker = createSchemaMarker('alter-pk', data, names)
  const build = <DB>(db: import('kysely').Kysely<DB>) =>
    attachToAlterTable(db.schema.alterTable(table), marker) as ReturnType<import('kysely').AlterTableBuilder['addCheckConstraint']>
  return Object.freeze({
    compile: <DB>(db: import('kysely').Kysely<DB>) => build(db).compile(),
    execute: async <DB>(db: import('kysely').Kysely<DB>) => {
      await build(db).execute()
    },
  })
}
