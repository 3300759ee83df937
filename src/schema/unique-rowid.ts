import { sql } from 'kysely'
import type { RawBuilder } from 'kysely'

/**
 * `unique_rowid()`, for `defaultTo()`: a unique INT8 made from the inserting node's clock and id.
 * Unlike a sequence it needs no coordination between nodes; its values grow roughly with time, so
 * as a primary key inserts still land in one range at a time (docs /docs/stable/serial,
 * /docs/stable/functions-and-operators#id-generation-functions). For keys spread over the cluster,
 * prefer `uuid` with `gen_random_uuid()`, or hash-shard the key ({@link hashSharded}). The values
 * exceed 2^53: the dialect's `int8` option decides how they come back (a string by default).
 * CockroachDB only: PostgreSQL has no such function.
 *
 * ```ts
 * import { uniqueRowid } from 'kysely-cockroachdb'
 *
 * await db.schema.createTable('audit')
 *   .addColumn('id', 'int8', (col) => col.primaryKey().defaultTo(uniqueRowid()))
 *   .addColumn('message', 'text')
 *   .execute()
 * // create table "audit" ("id" int8 default unique_rowid() primary key, "message" text)
 * ```
 */
export function uniqueRowid<T = string>(): RawBuilder<T> {
  return sql<T>`unique_rowid()`
}
