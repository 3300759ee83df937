import type { CompiledQuery, InsertObject, Kysely, Selectable, Transaction } from 'kysely'
import { CockroachIntrospector } from '../dialect/cockroach-introspector.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { BatchRunner, nextBatch } from './batch-runner.js'
import { DEFAULT_BATCH_SIZE, pipelineBatches, planBatches } from './batch-planning.js'
import { checkBytes, checkCommon, checkCount, checkTable, checkRowSource } from './bulk-write-options.js'
import type { BulkResult, BulkWriteOptions, UpsertManyOptions } from './bulk-write-options.js'
import type { ColumnType } from './column-encoding.js'
import { checkSameKeys, definedKeys } from './key-sets.js'
import { buildStatements } from './row-writer.js'
import type { AnyDB, Row, WriteShape } from './row-writer.js'
import { loadTableColumns, serverColumnName } from './table-columns.js'

/**
 * Inserts many rows, fast: one statement per batch that sends one array per column (`insert into
 * t (a, b) select ... from unnest($1::int8[], $2::text[])`), so a 1,000-row batch of six columns
 * sends 6 parameters instead of 6,000. Rows are typed as for `insertInto(table).values(row)`.
 *
 * - Each batch (`batchSize` rows, default 1000) is its own transaction through {@link withRetry}
 *   (40001 and connection failures before COMMIT are retried); pass a transaction as `db` to run
 *   every batch in it instead (then nothing is retried or split per batch).
 * - Column types come from one catalog query per call, or from `types`. A column of unknown type,
 *   a cell that is a Kysely expression, or rows that leave different columns out (they get the
 *   column default, as with `values()`) go through Kysely's multi-row VALUES, at most 65,535
 *   parameters per statement.
 * - A batch CockroachDB finds too large (lock budget, row guardrails, command size, a commit
 *   deadline) is split in half and retried.
 * - Bad input (a value its column cannot take without a silent change, an empty table name) is
 *   refused with a {@link QueryRefusedError} before the batch is sent. A failure after some
 *   batches committed is a {@link BulkWriteError} saying how many.
 * - A lost COMMIT is not retried (the rows could arrive twice): the error's cause is an
 *   {@link AmbiguousCommitError}. Use {@link upsertMany} where writing a row twice is harmless.
 *
 * ```ts
 * import { insertMany } from 'kysely-cockroachdb'
 *
 * const people = Array.from({ length: 10_000 }, (_, i) => ({ id: i + 1, name: `person ${i + 1}` }))
 * const { rows, batches } = await insertMany(db, 'person', people, {
 *   batchSize: 2000,
 *   onBatch: ({ rows }) => console.log(`${rows} rows loaded`),
 * })
 * ```
 */
export function insertMany<DB, T extends keyof DB & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options?: BulkWriteOptions<DB, T> & { readonly returning?: undefined },
): Promise<BulkResult>
/** With `returning`: the listed columns of every inserted row, batch after batch. */
export function insertMany<DB, T extends keyof DB & string, K extends keyof Selectable<DB[T]> & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options: BulkWriteOptions<DB, T> & { readonly returning: readonly K[] },
): Promise<BulkResult<Pick<Selectable<DB[T]>, K>>>
export async function insertMany<DB, T extends keyof DB & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options?: BulkWriteOptions<DB, T> & { readonly returning?: readonly string[] },
): Promise<BulkResult<unknown>> {
  return await writeMany('insertMany', db as unknown as Kysely<AnyDB>, table, rows as unknown as Iterable<Row>, options)
}

/**
 * Inserts or updates many rows by their primary key, with the array form of {@link insertMany}:
 * `upsert into t (...) select ... from unnest(...)` on CockroachDB, and on PostgreSQL (which has
 * no UPSERT) `insert ... on conflict (<primary key>) do update set c = excluded.c`. With
 * `conflictColumns` other than the primary key, ON CONFLICT on those columns on both servers.
 * Columns a row does not list keep their stored values, so every row must list the same columns
 * (null clears a value): rows with different keys are refused before anything is sent. Retries
 * include a lost COMMIT (writing the same values twice is harmless).
 *
 * ```ts
 * import { upsertMany } from 'kysely-cockroachdb'
 *
 * await upsertMany(db, 'product', [
 *   { id: 1, name: 'pen', price: 120n },
 *   { id: 2, name: 'ink', price: 300n },
 * ])
 * ```
 */
export function upsertMany<DB, T extends keyof DB & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options?: UpsertManyOptions<DB, T> & { readonly returning?: undefined },
): Promise<BulkResult>
/** With `returning`: the listed columns of every inserted or updated row. */
export function upsertMany<DB, T extends keyof DB & string, K extends keyof Selectable<DB[T]> & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options: UpsertManyOptions<DB, T> & { readonly returning: readonly K[] },
): Promise<BulkResult<Pick<Selectable<DB[T]>, K>>>
export async function upsertMany<DB, T extends keyof DB & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options?: UpsertManyOptions<DB, T> & { readonly returning?: readonly string[] },
): Promise<BulkResult<unknown>> {
  return await writeMany('upsertMany', db as unknown as Kysely<AnyDB>, table, rows as unknown as Iterable<Row>, options)
}

interface WriteOptions {
  readonly batchSize?: number
  readonly maxBatchBytes?: number
  readonly types?: Readonly<Record<string, string | undefined>>
  readonly introspect?: boolean
  readonly form?: 'auto' | 'values'
  readonly returning?: readonly string[]
  readonly conflictColumns?: readonly string[]
  readonly retry?: BulkWriteOptions<AnyDB, string>['retry']
  readonly splitTooLarge?: boolean
  readonly onBatch?: BulkWriteOptions<AnyDB, string>['onBatch']
  readonly signal?: AbortSignal
}

async function writeMany(
  api: 'insertMany' | 'upsertMany',
  db: Kysely<AnyDB>,
  table: string,
  rows: Iterable<Row> | AsyncIterable<Row>,
  options: WriteOptions | undefined,
): Promise<BulkResult<unknown>> {
  checkDb(api, db)
  checkTable(api, table)
  checkCommon(api, options)
  const batchSize = checkCount(api, 'batchSize', options?.batchSize, DEFAULT_BATCH_SIZE)
  const maxBatchBytes = checkBytes(api, 'maxBatchBytes', options?.maxBatchBytes)
  const form = options?.form ?? 'auto'
  if (form !== 'auto' && form !== 'values') {
    throw new QueryRefusedError(api, `form must be 'auto' or 'values', got ${JSON.stringify(form)}`, "Leave it out for 'auto'")
  }
  const returning = options?.returning
  if (returning !== undefined && (!Array.isArray(returning) || returning.length === 0 || returning.some((c) => typeof c !== 'string'))) {
    throw new QueryRefusedError(
      api,
      'returning must be a non-empty array of column names',
      "Pass e.g. { returning: ['id'] }, or leave it out",
    )
  }
  checkRowSource(api, rows)

  // An already aborted signal: no catalog query, no connection (review-14 #8).
  options?.signal?.throwIfAborted()
  let shape: WriteShape | undefined
  let reference: string[] | undefined
  const prebuilt = new WeakMap<readonly Row[], CompiledQuery[]>()
  const runner = new BatchRunner<Row, unknown>(
    api,
    db as unknown as Kysely<unknown>,
    {
      retry: options?.retry,
      splitTooLarge: options?.splitTooLarge,
      onBatch: options?.onBatch,
      signal: options?.signal,
      idempotent: api === 'upsertMany',
    },
    async (executor, pieceRows, _signal, sent) => {
      const statements = prebuilt.get(pieceRows) ?? buildStatements(executor as unknown as Kysely<AnyDB>, shape!, pieceRows, 0)
      const returned: unknown[] = []
      for (let i = 0; i < statements.length; i++) {
        const pending = executor.executeQuery(statements[i]!)
        // The last statement is on its way once Kysely's microtasks have run: pipelineBatches
        // starts preparing the next batch on the next turn of the event loop.
        if (i === statements.length - 1) sent()
        const result = await pending
        for (const row of result.rows) returned.push(row)
      }
      return returned
    },
  )
  const batches = planBatches(rows, { rows: batchSize, bytes: maxBatchBytes })
  await runner.runLoad(() =>
    pipelineBatches(
      async () => {
        const next = await nextBatch(batches)
        if (next.done === true) return undefined
        const batch = next.value
        checkRows(api, batch.rows, batch.first)
        if (api === 'upsertMany') {
          reference ??= definedKeys(batch.rows[0]!)
          checkSameKeys(api, batch.rows, batch.first, reference)
        }
        shape ??= await resolveShape(api, db, table, batch.rows, options, form, returning)
        prebuilt.set(batch.rows, buildStatements(db, shape, batch.rows, batch.first))
        return batch
      },
      (batch, sent) => runner.runBatch(batch.rows, batch.first, sent),
    ),
  )
  return Object.freeze({ ...runner.progress(), returned: runner.returned })
}

function checkDb(api: string, db: unknown): void {
  if (typeof db !== 'object' || db === null || typeof (db as { insertInto?: unknown }).insertInto !== 'function') {
    throw new QueryRefusedError(
      api,
      'the first argument must be a Kysely instance or a transaction',
      'Pass db (or trx inside a transaction)',
    )
  }
}

function checkRows(api: string, rows: readonly unknown[], first: number): void {
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new QueryRefusedError(
        api,
        `row ${first + i} is ${row === null ? 'null' : Array.isArray(row) ? 'an array' : typeof row}, not a row object`,
        'Pass objects such as { id: 1, name: "Ada" }',
      )
    }
  }
}

/** The column types (catalog query, once per call) and, for upsertMany, the statement form. */
async function resolveShape(
  api: 'insertMany' | 'upsertMany',
  db: Kysely<AnyDB>,
  table: string,
  firstBatch: readonly Row[],
  options: WriteOptions | undefined,
  form: 'auto' | 'values',
  returning: readonly string[] | undefined,
): Promise<WriteShape> {
  const columns = new Set<string>()
  for (const row of firstBatch) for (const key of definedKeys(row)) columns.add(key)
  const conflictColumns: readonly string[] | undefined = options?.conflictColumns
  if (conflictColumns !== undefined && (!Array.isArray(conflictColumns) || conflictColumns.length === 0)) {
    throw new QueryRefusedError(
      api,
      'conflictColumns must be a non-empty array of column names',
      "Pass e.g. { conflictColumns: ['id'] }, or leave it out for the primary key",
    )
  }
  const needKey = api === 'upsertMany' && conflictColumns === undefined
  const wantTypes = form === 'auto' && options?.introspect !== false
  const known =
    wantTypes || needKey
      ? await loadTableColumns(
          api,
          db as unknown as Kysely<unknown>,
          table,
          [...columns],
          { types: options?.types, introspect: wantTypes },
          needKey,
        )
      : await loadTableColumns(
          api,
          db as unknown as Kysely<unknown>,
          table,
          [...columns],
          { types: options?.types, introspect: false },
          false,
        )
  let upsert: WriteShape['upsert']
  if (api === 'upsertMany') {
    const server = await new CockroachIntrospector(db).getServerInfo()
    const conflict: readonly string[] = conflictColumns ?? known.primaryKey
    if (conflict.length === 0) {
      throw new QueryRefusedError(
        api,
        `found no primary key for ${JSON.stringify(table)}`,
        "Pass the unique columns that identify a row: { conflictColumns: ['id'] }",
      )
    }
    // Every row must carry every conflict column: without one, ON CONFLICT cannot match (a serial
    // key left out inserts, then 23505; conflictColumns the rows lack insert NULLs), and on a table
    // without a primary key CockroachDB's key is the hidden rowid (unique_rowid() default), so an
    // UPSERT would insert new rows every time. (All rows of upsertMany have the same keys.)
    const rowColumns = new Set([...columns].map((column) => serverColumnName(db as unknown as Kysely<unknown>, column)))
    const absent = conflict.filter((column) => !rowColumns.has(serverColumnName(db as unknown as Kysely<unknown>, column)))
    if (absent.length > 0) {
      const hidden = conflictColumns === undefined && absent.includes('rowid') && server.kind === 'cockroachdb'
      throw new QueryRefusedError(
        api,
        `the rows have no ${absent.map((column) => JSON.stringify(column)).join(', ')}, ` +
          (hidden
            ? `the key of ${JSON.stringify(table)}: a table without a primary key is keyed by CockroachDB's hidden rowid, so every upsert would insert new rows`
            : `which ${conflictColumns === undefined ? 'is the primary key' : 'conflictColumns names'}: rows without it cannot match a stored row and would be inserted as new ones`),
        hidden
          ? 'Give the table a primary key (or a unique index and pass conflictColumns), or use insertMany'
          : `Give every row ${absent.map((column) => JSON.stringify(column)).join(', ')}, pass conflictColumns the rows have, or use insertMany for new rows`,
      )
    }
    const isPrimaryKey =
      conflictColumns === undefined ||
      (known.primaryKey.length === conflict.length && conflict.every((column) => known.primaryKey.includes(column)))
    upsert = server.kind === 'cockroachdb' && isPrimaryKey ? { kind: 'upsert' } : { kind: 'on-conflict', conflict }
  }
  const types = new Map<string, ColumnType>(form === 'values' ? [] : known.types)
  return Object.freeze({ api, table, form, returning, types, upsert })
}
