import type { Insertable, Selectable } from 'kysely'
import type { WithRetryOptions } from '../retry/with-retry-options.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES, MAX_BATCH_SIZE } from './batch-planning.js'

/**
 * Progress of a bulk write, given to `onBatch` after each batch and returned at the end.
 *
 * ```ts
 * import { insertMany } from 'kysely-cockroachdb'
 * import type { BulkProgress } from 'kysely-cockroachdb'
 *
 * const log = ({ rows, batches, elapsedMs }: BulkProgress) => console.log(`${rows} rows in ${batches} batches, ${elapsedMs} ms`)
 * await insertMany(db, 'person', [{ id: 1, name: 'Ada' }], { onBatch: log })
 * ```
 */
export interface BulkProgress {
  /** Rows committed so far (inside a caller's transaction: written so far). */
  readonly rows: number
  /** Transactions (or, in a caller's transaction, batches) committed so far. */
  readonly batches: number
  /** Milliseconds since the call started. */
  readonly elapsedMs: number
  /** Retries withRetry made, all batches together. */
  readonly retries: number
  /** Batches split in half after a too-large error. */
  readonly splits: number
}

/**
 * What insertMany and upsertMany return: the progress at the end, and the `returning` rows.
 *
 * ```ts
 * import { insertMany } from 'kysely-cockroachdb'
 * import type { BulkResult } from 'kysely-cockroachdb'
 *
 * const result: BulkResult<{ id: number }> = await insertMany(db, 'person', [{ id: 1, name: 'Ada' }], { returning: ['id'] })
 * ```
 */
export interface BulkResult<R = never> extends BulkProgress {
  /** The `returning` rows, batch after batch; within one statement in no guaranteed order. */
  readonly returned: R[]
}

/**
 * Options of {@link insertMany} and {@link upsertMany}.
 *
 * ```ts
 * import { insertMany } from 'kysely-cockroachdb'
 * import type { BulkWriteOptions } from 'kysely-cockroachdb'
 *
 * const options: BulkWriteOptions<DB, 'event'> = { batchSize: 5000, types: { payload: 'jsonb' }, retry: { maxAttempts: 5 } }
 * await insertMany(db, 'event', [{ id: 1n, kind: 'login', payload: { ok: true } }], options)
 * ```
 */
export interface BulkWriteOptions<DB, T extends keyof DB & string> {
  /** Rows per statement (and per transaction). Default 1000; multi-row VALUES statements are further capped at 65,535 parameters. */
  readonly batchSize?: number
  /** Upper bound of one batch's estimated size in bytes. Default 8 MiB (CockroachDB refuses protocol messages over 16 MiB). */
  readonly maxBatchBytes?: number
  /** SQL types by column, e.g. `{ id: 'int8', tags: 'text[]', mood: 'public.mood' }`; those columns skip the catalog query. */
  readonly types?: { readonly [K in keyof Insertable<DB[T]> & string]?: string }
  /** Look up the types of the columns `types` does not name (one catalog query per call). Default true. */
  readonly introspect?: boolean
  /** `'auto'` (default): one array per column where every column's type is known. `'values'`: Kysely's multi-row VALUES only. */
  readonly form?: 'auto' | 'values'
  /** Options of each batch's withRetry. Not used inside a caller's transaction. */
  readonly retry?: Omit<WithRetryOptions, 'signal'>
  /** Split a batch the server found too large in half and retry the halves. Default true. */
  readonly splitTooLarge?: boolean
  /** Called (and awaited) after each committed batch. */
  readonly onBatch?: (progress: BulkProgress) => void | Promise<void>
  /** Stops the load: committed batches stay, the running one is rolled back, no further one starts. */
  readonly signal?: AbortSignal
}

/**
 * Options of {@link upsertMany}: those of insertMany, and the conflict columns.
 *
 * ```ts
 * import { upsertMany } from 'kysely-cockroachdb'
 * import type { UpsertManyOptions } from 'kysely-cockroachdb'
 *
 * const options: UpsertManyOptions<DB, 'product'> = { conflictColumns: ['id'] }
 * await upsertMany(db, 'product', [{ id: 1, name: 'pen', price: 100n }], options)
 * ```
 */
export interface UpsertManyOptions<DB, T extends keyof DB & string> extends BulkWriteOptions<DB, T> {
  /** The unique columns that identify a row. Default: the primary key (CockroachDB's UPSERT always uses it). */
  readonly conflictColumns?: readonly (keyof Insertable<DB[T]> & string)[]
}

/**
 * pg-copy-streams' `from` function (`import { from } from 'pg-copy-streams'`), as
 * {@link copyInto} calls it: the COPY statement in, a writable stream out.
 *
 * ```ts
 * import { from } from 'pg-copy-streams'
 * import type { CopyFromFunction } from 'kysely-cockroachdb'
 *
 * const copyFrom: CopyFromFunction = from
 * ```
 */
export type CopyFromFunction = (text: string) => CopyFromStream

/**
 * The part of pg-copy-streams' CopyStreamQuery (a Node Writable that pg submits) copyInto uses.
 *
 * ```ts
 * import type { CopyFromStream } from 'kysely-cockroachdb'
 *
 * const rowsCopied = (stream: CopyFromStream) => stream.rowCount
 * ```
 */
export interface CopyFromStream {
  /** Rows the server reported in its `COPY n` command tag. */
  readonly rowCount: number
  write(chunk: string): boolean
  end(): unknown
  destroy(error?: Error): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'finish' | 'drain' | 'close', listener: () => void): unknown
  once(event: 'finish' | 'drain' | 'close', listener: () => void): unknown
  removeListener(event: 'finish' | 'drain' | 'close', listener: () => void): unknown
}

/**
 * Options of {@link copyInto}.
 *
 * ```ts
 * import { copyInto } from 'kysely-cockroachdb'
 * import type { CopyIntoOptions } from 'kysely-cockroachdb'
 *
 * const options: CopyIntoOptions<DB, 'person'> = { columns: ['id', 'name'], chunkRows: 20_000 }
 * await copyInto(db, 'person', [{ id: 1, name: 'Ada' }], options)
 * ```
 */
export interface CopyIntoOptions<DB, T extends keyof DB & string> extends Omit<
  BulkWriteOptions<DB, T>,
  'batchSize' | 'maxBatchBytes' | 'form'
> {
  /** Columns to copy, in order. Default: the keys of the first row. */
  readonly columns?: readonly (keyof Insertable<DB[T]> & string)[]
  /** Rows per COPY statement (and per transaction). Default 10,000. */
  readonly chunkRows?: number
  /** Upper bound of one COPY statement's estimated size in bytes. Default 8 MiB. */
  readonly chunkBytes?: number
  /** pg-copy-streams' `from`. Default: the `copyFrom` option of the CockroachDialect. */
  readonly copyFrom?: CopyFromFunction
}

/**
 * Options of {@link deleteInBatches} and {@link updateInBatches}.
 *
 * ```ts
 * import { deleteInBatches } from 'kysely-cockroachdb'
 * import type { BatchLoopOptions } from 'kysely-cockroachdb'
 *
 * const options: BatchLoopOptions<DB, 'order'> = { batchSize: 5000, maxBatches: 100 }
 * await deleteInBatches(db, 'order', (eb) => eb('status', '=', 'cancelled'), options)
 * ```
 */
export interface BatchLoopOptions<DB, T extends keyof DB & string> {
  /** Rows per statement (and per transaction). Default 1000. */
  readonly batchSize?: number
  /** The unique key the loop walks, in index order. Default: the primary key. */
  readonly key?: readonly (keyof Selectable<DB[T]> & string)[]
  /** Stop after this many batches (e.g. a nightly budget). */
  readonly maxBatches?: number
  /** Options of each batch's withRetry. */
  readonly retry?: Omit<WithRetryOptions, 'signal'>
  /** Called (and awaited) after each committed batch. */
  readonly onBatch?: (progress: BulkProgress) => void | Promise<void>
  /** Stops the loop: committed batches stay, the running one is rolled back. */
  readonly signal?: AbortSignal
}

/** Validates a row-count option: an integer from 1 to `max`. @internal */
export function checkCount(api: string, name: string, value: unknown, fallback: number, max = MAX_BATCH_SIZE): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new QueryRefusedError(
      api,
      `${name} must be an integer from 1 to ${max}, got ${typeof value === 'number' ? String(value) : typeof value}`,
      `Pass e.g. { ${name}: ${fallback} }`,
    )
  }
  return value
}

/** Validates a byte bound: a positive number. @internal */
export function checkBytes(api: string, name: string, value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_BATCH_BYTES
  if (typeof value !== 'number' || !(value >= 1)) {
    throw new QueryRefusedError(
      api,
      `${name} must be a positive number of bytes, got ${String(value)}`,
      `Pass e.g. { ${name}: ${DEFAULT_MAX_BATCH_BYTES} }`,
    )
  }
  return value
}

/** Validates the table argument. @internal */
export function checkTable(api: string, table: unknown): string {
  if (typeof table !== 'string' || table.trim().length === 0) {
    throw new QueryRefusedError(api, 'the table must be a non-empty string such as "account"', 'Pass the table name as the second argument')
  }
  return table
}

/** Validates the options object's shape shared by all helpers. @internal */
export function checkCommon(
  api: string,
  options: { readonly signal?: unknown; readonly onBatch?: unknown; readonly retry?: unknown } | undefined,
): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(api, 'options must be an object', 'Pass e.g. { batchSize: 1000 }, or nothing')
  }
  if (options.onBatch !== undefined && typeof options.onBatch !== 'function') {
    throw new QueryRefusedError(api, 'onBatch must be a function', 'Pass e.g. { onBatch: ({ rows }) => console.log(rows) }')
  }
  if (options.signal !== undefined && !(typeof options.signal === 'object' && options.signal !== null && 'aborted' in options.signal)) {
    throw new QueryRefusedError(api, 'signal must be an AbortSignal', 'Pass e.g. { signal: AbortSignal.timeout(60_000) }')
  }
  if (options.retry !== undefined && (typeof options.retry !== 'object' || options.retry === null || 'signal' in options.retry)) {
    throw new QueryRefusedError(
      api,
      'retry must be an object of withRetry options without signal',
      'Pass the signal as the signal option of the call',
    )
  }
}

export { DEFAULT_BATCH_SIZE }

/**
 * Refuses `rows` that are not an array, an iterable or an async iterable, before anything is sent.
 *
 * @internal
 */
export function checkRowSource(api: string, rows: unknown): void {
  if (rows === null || typeof rows !== 'object' || !(Symbol.iterator in rows || Symbol.asyncIterator in rows)) {
    throw new QueryRefusedError(
      api,
      'rows must be an array, an iterable or an async iterable of row objects',
      'Pass e.g. [{ id: 1, name: "Ada" }]',
    )
  }
}
