// The loop behind deleteInBatches and updateInBatches: CockroachDB's bulk-delete recipe
// (docs /docs/stable/bulk-delete-data, "Batch delete on an indexed column": one statement per
// transaction, LIMIT n, RETURNING the key, the filter narrowed by the last key returned) in a form
// PostgreSQL runs too, which has no DELETE ... LIMIT (42601 at "limit", PostgreSQL 15):
//
//   with "batch" as (delete from t where (k1, k2) in (
//       select k1, k2 from t where <where> and (k1, k2) > (cast($1 as int8), cast($2 as timestamptz))
//       order by k1, k2 limit $3
//     ) returning k1, k2)
//   select k1::text as "kysely_cockroachdb_k0", k2::text as "kysely_cockroachdb_k1",
//          count(*) over () as "kysely_cockroachdb_count" from "batch" order by k1 desc, k2 desc limit 1
//
// The server returns the batch's largest key (RETURNING's own order is not guaranteed, and JS
// cannot compare keys in the server's collation) and the batch's size. The keyset narrowing keeps
// each batch from re-scanning the rows (and, on CockroachDB, the MVCC garbage) of earlier ones, and
// makes updateInBatches end even when `set` keeps rows matching `where`.
import { sql } from 'kysely'
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { BatchRunner } from './batch-runner.js'
import { DEFAULT_BATCH_SIZE } from './batch-planning.js'
import { checkCommon, checkCount, checkTable } from './bulk-write-options.js'
import type { BatchLoopOptions, BulkProgress } from './bulk-write-options.js'
import type { AnyDB } from './row-writer.js'
import { isBatchTooLarge } from './split-decision.js'
import { loadTableColumns, serverColumnName } from './table-columns.js'

type Where = (eb: ExpressionBuilder<AnyDB, string>) => Expression<SqlBool>
type Api = 'deleteInBatches' | 'updateInBatches'

// Lower case: CamelCasePlugin's snake_case leaves it as it is when it compiles the statement.
const COUNT = 'kysely_cockroachdb_count'

export async function runKeysetLoop(
  api: Api,
  db: Kysely<AnyDB>,
  table: string,
  where: Where,
  set: Readonly<Record<string, unknown>> | undefined,
  options: BatchLoopOptions<AnyDB, string> | undefined,
): Promise<BulkProgress> {
  if (typeof db !== 'object' || db === null || typeof db.deleteFrom !== 'function') {
    throw new QueryRefusedError(api, 'the first argument must be a Kysely instance', 'Pass db')
  }
  if (db.isTransaction) {
    const single = api === 'deleteInBatches' ? 'db.deleteFrom(table).where(...)' : 'db.updateTable(table).set(...).where(...)'
    throw new QueryRefusedError(
      api,
      `db is a transaction. Batched ${api === 'deleteInBatches' ? 'deletes' : 'updates'} commit each batch on its own so that no transaction grows too large`,
      `Pass the Kysely instance; to change the rows inside one transaction, use ${single} in it`,
    )
  }
  checkTable(api, table)
  checkCommon(api, options)
  if (typeof where !== 'function') {
    throw new QueryRefusedError(api, 'where must be a function of the expression builder', "Pass e.g. (eb) => eb('status', '=', 'done')")
  }
  if (api === 'updateInBatches' && (typeof set !== 'object' || set === null || Object.keys(set).length === 0)) {
    throw new QueryRefusedError(
      api,
      'change.set must be an object of the columns to set',
      "Pass e.g. { set: { status: 'archived' }, where: (eb) => eb('status', '=', 'done') }",
    )
  }
  let batchSize = checkCount(api, 'batchSize', options?.batchSize, DEFAULT_BATCH_SIZE)
  const maxBatches =
    options?.maxBatches === undefined
      ? Number.POSITIVE_INFINITY
      : checkCount(api, 'maxBatches', options.maxBatches, 100, Number.MAX_SAFE_INTEGER)
  const given = options?.key as readonly string[] | undefined
  if (given !== undefined && (!Array.isArray(given) || given.length === 0 || given.some((k) => typeof k !== 'string' || k.length === 0))) {
    throw new QueryRefusedError(
      api,
      'key must be a non-empty array of column names',
      "Pass e.g. { key: ['id'] }, or leave it out for the primary key",
    )
  }
  if (given !== undefined && set !== undefined) checkSetKeepsKey(api, db, set, given)
  options?.signal?.throwIfAborted()
  // One catalog query: the primary key (unless given) and the key columns' types, which the
  // cursor is cast back to (it travels as text, see below).
  const known = await loadTableColumns(api, db as unknown as Kysely<unknown>, table, given ?? [], {}, true)
  const keyColumns: readonly string[] = given ?? known.primaryKey
  if (keyColumns.length === 0) {
    throw new QueryRefusedError(api, `found no primary key for ${JSON.stringify(table)}`, "Pass the unique key to walk: { key: ['id'] }")
  }
  if (set !== undefined) checkSetKeepsKey(api, db, set, keyColumns)
  const key = keyColumns.map((column) => {
    const type = known.types.get(column)
    if (type === undefined) {
      throw new QueryRefusedError(
        api,
        `the key column "${column}" is not a column of ${JSON.stringify(table)}`,
        "Pass the table's unique key: { key: ['id'] }, or leave it out for the primary key",
      )
    }
    // type.cast / type.parameter are rendered type names (column-encoding.ts: built-in names or a
    // quoted "schema"."name"), never caller text.
    return { column, alias: `kysely_cockroachdb_k${keyColumns.indexOf(column)}`, type: type.cast ?? type.parameter }
  })
  // The cursor: the batch's largest key as the server's text, sent back cast to the key's type.
  // Through JS it would lose what JS cannot hold (a timestamp's microseconds in a Date, an int8
  // above 2^53 that the application's pg parses as a number) and the loop would re-visit rows.
  let last: readonly string[] | undefined
  let done = false
  const runner = new BatchRunner<number, unknown>(
    api,
    db as unknown as Kysely<unknown>,
    {
      retry: options?.retry,
      onBatch: options?.onBatch,
      signal: options?.signal,
      idempotent: true,
      splitTooLarge: false,
      keepReturned: false,
      loop: true,
      count: (_rows, returned) => returned[0] as number,
    },
    async (executor) => {
      const trx = executor as unknown as Kysely<AnyDB>
      // Compiled with the instance's plugins (CamelCasePlugin names the columns), run without them:
      // their result transforms would rename the fixed aliases read below.
      const compiled = batchQuery(trx, api, table, key, where, set, last, batchSize).compile(trx)
      const { rows } = await trx.withoutPlugins().executeQuery(compiled)
      const top: Readonly<Record<string, unknown>> | undefined = rows[0]
      if (top === undefined) {
        done = true
        return [0]
      }
      last = key.map(({ alias }) => top[alias] as string)
      const count = Number(top[COUNT])
      // Fewer rows than the limit: nothing matching is left above the cursor.
      done = count < batchSize
      return [count]
    },
  )
  for (let batch = 0; batch < maxBatches && !done; batch++) {
    try {
      await runner.runBatch([0], 0)
    } catch (error) {
      // A batch the server found too large halves batchSize for the rest of the loop.
      if (batchSize > 1 && isSplittable(error)) {
        batchSize = Math.ceil(batchSize / 2)
        batch--
        continue
      }
      throw error
    }
  }
  return runner.progress()
}

function isSplittable(error: unknown): boolean {
  const cause = (error as { cause?: unknown } | null)?.cause
  return error instanceof Error && error.name === 'BulkWriteError' && isBatchTooLarge(cause) !== false
}

/** Refuses a `set` that writes a key column: the cursor would skip or re-visit the rows it moves. */
function checkSetKeepsKey(api: Api, db: Kysely<AnyDB>, set: Readonly<Record<string, unknown>>, key: readonly string[]): void {
  const keyNames = new Set(key.map((column) => serverColumnName(db as unknown as Kysely<unknown>, column)))
  for (const column of Object.keys(set)) {
    if (set[column] !== undefined && keyNames.has(serverColumnName(db as unknown as Kysely<unknown>, column))) {
      throw new QueryRefusedError(
        api,
        `change.set changes the key column "${column}". The loop walks the key upwards from the last batch's largest key, so rows whose key moves are skipped or updated again`,
        `Walk another unique key that set leaves alone ({ key: [...] }), or change the key in one statement: db.updateTable(table).set(...).where(...)`,
      )
    }
  }
}

interface KeyPart {
  readonly column: string
  readonly alias: string
  readonly type: string
}

function batchQuery(
  db: Kysely<AnyDB>,
  api: Api,
  table: string,
  key: readonly KeyPart[],
  where: Where,
  set: Readonly<Record<string, unknown>> | undefined,
  last: readonly string[] | undefined,
  batchSize: number,
) {
  const columns = key.map(({ column }) => column)
  const refs = sql.join(columns.map((column) => sql.ref(column)))
  const tuple = key.length === 1 ? refs : sql`(${refs})`
  let select = db
    .selectFrom(table)
    .select(columns as never)
    .where(where as never)
  if (last !== undefined) {
    const values = sql.join(last.map((value, i) => sql`cast(${value} as ${sql.raw(key[i]!.type)})`))
    select = select.where(sql<SqlBool>`${tuple} > ${key.length === 1 ? values : sql`(${values})`}`)
  }
  for (const column of columns) select = select.orderBy(sql.ref(column))
  select = select.limit(batchSize)
  const inBatch = sql<SqlBool>`${tuple} in (${select})`
  const change =
    api === 'deleteInBatches'
      ? db
          .deleteFrom(table)
          .where(inBatch)
          .returning(columns as never)
      : db
          .updateTable(table)
          .set(set as never)
          .where(inBatch)
          .returning(columns as never)
  const texts = sql.join(key.map(({ column, alias }) => sql`${sql.ref(column)}::text as ${sql.id(alias)}`))
  const descending = sql.join(columns.map((column) => sql`${sql.ref(column)} desc`))
  return sql<
    Record<string, unknown>
  >`with "batch" as (${change}) select ${texts}, count(*) over () as ${sql.id(COUNT)} from "batch" order by ${descending} limit 1`
}
