import { sql } from 'kysely'
import type { DatabaseConnection, InsertObject, Kysely, Transaction } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { BatchRunner, nextBatch } from './batch-runner.js'
import { DEFAULT_CHUNK_ROWS, pipelineBatches, planBatches } from './batch-planning.js'
import { checkBytes, checkCommon, checkCount, checkTable, checkRowSource } from './bulk-write-options.js'
import type { BulkProgress, CopyFromFunction, CopyFromStream, CopyIntoOptions } from './bulk-write-options.js'
import type { ColumnType } from './column-encoding.js'
import { csvEncoder, csvRecord, joinIntoPieces } from './csv-encoding.js'
import { checkCopyRows, definedKeys } from './key-sets.js'
import type { AnyDB, Row } from './row-writer.js'
import { loadTableColumns } from './table-columns.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

const API = 'copyInto'

// A column whose type is unknown (introspect: false and not in `types`): its values are written
// as pg would send them as parameters (pg-value-text.ts).
const UNKNOWN_TYPE: ColumnType = Object.freeze({ kind: 'other', parameter: 'text', cast: undefined, display: 'unknown' })

/** What copyInto needs of the dialect's connection (CockroachConnection's copyFrom and submit). */
interface CopyConnection {
  readonly copyFrom: CopyFromFunction | undefined
  submit<T extends object>(submittable: T): T | undefined
}

function isCopyConnection(connection: DatabaseConnection): connection is DatabaseConnection & CopyConnection {
  return typeof (connection as Partial<CopyConnection>).submit === 'function'
}

/**
 * Loads rows with `COPY t (...) FROM STDIN WITH CSV` through pg-copy-streams, the fastest way in:
 * one COPY per chunk of `chunkRows` rows (default 10,000), each chunk its own transaction through
 * {@link withRetry} (BEGIN; COPY; COMMIT), or all in the caller's transaction. `rows` may be an
 * async iterable: it is read once, one chunk in memory at a time, so the live heap stays flat for a
 * streamed load of any size (peak RSS still grows as V8 collects late; figures in docs/bulk-writes.md).
 *
 * - Needs CockroachDialect with pg-copy-streams' `from` as its `copyFrom` option (or the
 *   `copyFrom` option here). The COPY runs on the dialect's own pg connection; Kysely's `log` does
 *   not see it.
 * - Every row has every column (`columns`, default the keys of the first row): COPY cannot apply a
 *   column default to single rows. Values are written as pg sends parameters (Dates as local time
 *   with offset, Buffers as bytea hex, json as for insertInto), every non-null value quoted.
 * - Inside an explicit transaction CockroachDB writes the whole COPY into it (pkg/sql/copy_from.go),
 *   so each chunk is atomic whatever `copy_from_atomic_enabled` (a setting for implicit
 *   transactions, which copyInto never uses) says. CockroachDB runs COPY at
 *   `background` quality of service by default (`copy_transaction_quality_of_service`).
 * - Abort sends CopyFail: the running chunk rolls back, committed chunks stay.
 *
 * ```ts
 * import { from } from 'pg-copy-streams'
 * import { Kysely } from 'kysely'
 * import { CockroachDialect, copyInto } from 'kysely-cockroachdb'
 *
 * const bulk = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString, copyFrom: from }) })
 * async function* people() {
 *   for (let i = 1; i <= 1_000_000; i++) yield { id: i, name: `person ${i}` }
 * }
 * const { rows } = await copyInto(bulk, 'person', people(), { onBatch: ({ rows }) => console.log(rows) })
 * ```
 */
export async function copyInto<DB, T extends keyof DB & string>(
  db: Kysely<DB> | Transaction<DB>,
  table: T,
  rows: Iterable<InsertObject<DB, T>> | AsyncIterable<InsertObject<DB, T>>,
  options?: CopyIntoOptions<DB, T>,
): Promise<BulkProgress> {
  const kysely = db as unknown as Kysely<AnyDB>
  if (typeof kysely !== 'object' || kysely === null || typeof kysely.getExecutor !== 'function') {
    throw new QueryRefusedError(
      API,
      'the first argument must be a Kysely instance or a transaction',
      'Pass db (or trx inside a transaction)',
    )
  }
  checkTable(API, table)
  checkCommon(API, options)
  const chunkRows = checkCount(API, 'chunkRows', options?.chunkRows, DEFAULT_CHUNK_ROWS)
  const chunkBytes = checkBytes(API, 'chunkBytes', options?.chunkBytes)
  if (options?.copyFrom !== undefined && typeof options.copyFrom !== 'function') {
    throw new QueryRefusedError(
      API,
      'copyFrom must be the from function of pg-copy-streams',
      "Pass { copyFrom: from } after import { from } from 'pg-copy-streams'",
    )
  }
  checkRowSource(API, rows)

  // An already aborted signal: no catalog query, no connection (review-14 #8).
  options?.signal?.throwIfAborted()
  let plan: Awaited<ReturnType<typeof resolvePlan>> | undefined
  const prebuilt = new WeakMap<readonly Row[], string[]>()
  const encode = (chunkRowsToEncode: readonly Row[], first: number): string[] => {
    const records = new Array<string>(chunkRowsToEncode.length)
    for (let i = 0; i < chunkRowsToEncode.length; i++) {
      const record = csvRecord(chunkRowsToEncode[i]!, plan!.columns, plan!.types, plan!.encoders)
      if (typeof record !== 'string') {
        throw new QueryRefusedError(API, `row ${first + i}, column "${record.column}": ${record.refusal.problem}`, record.refusal.fix)
      }
      records[i] = record
    }
    return joinIntoPieces(records)
  }
  const runner = new BatchRunner<Row, never>(
    API,
    kysely as unknown as Kysely<unknown>,
    { retry: options?.retry, splitTooLarge: options?.splitTooLarge, onBatch: options?.onBatch, signal: options?.signal, idempotent: false },
    async (executor, pieceRows, signal, sent) => {
      const pieces = prebuilt.get(pieceRows) ?? encode(pieceRows, 0)
      const { text, copyFrom } = plan!
      await executor.getExecutor().provideConnection(async (connection) => {
        if (!isCopyConnection(connection)) throw notCockroachDialect()
        const stream = connection.submit(copyFrom(text))
        if (stream === undefined) throw notCockroachDialect()
        await writePieces(stream, pieces, signal, sent)
        if (stream.rowCount !== pieceRows.length) {
          throw new KyselyCockroachError(
            `copyInto: COPY reported ${stream.rowCount} rows for a chunk of ${pieceRows.length}, and the chunk was rolled back. This is a bug: please report it.`,
          )
        }
      })
      return []
    },
  )
  const batches = planBatches(rows as Iterable<Row> | AsyncIterable<Row>, { rows: chunkRows, bytes: chunkBytes })
  await runner.runLoad(() =>
    pipelineBatches(
      async () => {
        const next = await nextBatch(batches)
        if (next.done === true) return undefined
        const batch = next.value
        plan ??= await resolvePlan(kysely, table, batch.rows[0]!, options)
        checkCopyRows(API, batch.rows, batch.first, plan.columns)
        prebuilt.set(batch.rows, encode(batch.rows, batch.first))
        return batch
      },
      (batch, sent) => runner.runBatch(batch.rows, batch.first, sent),
    ),
  )
  return runner.progress()
}

function notCockroachDialect(): QueryRefusedError {
  return new QueryRefusedError(
    API,
    "the Kysely instance must use CockroachDialect (it runs COPY on the dialect's pg connection)",
    'Create it with new CockroachDialect({ ..., copyFrom }) from kysely-cockroachdb',
  )
}

async function resolvePlan<DB, T extends keyof DB & string>(
  db: Kysely<AnyDB>,
  table: string,
  firstRow: Row,
  options: CopyIntoOptions<DB, T> | undefined,
) {
  const columns = options?.columns ?? definedKeys(firstRow)
  if (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c.length === 0)) {
    throw new QueryRefusedError(API, 'there are no columns to copy', "Pass { columns: ['id', 'name'] }, or rows with keys")
  }
  // The copyFrom function, checked on a connection before any chunk starts.
  const copyFrom =
    options?.copyFrom ??
    (await new Promise<CopyFromFunction | undefined>((resolve, reject) => {
      db.getExecutor()
        .provideConnection(async (connection) => {
          if (!isCopyConnection(connection)) throw notCockroachDialect()
          resolve(connection.copyFrom)
        })
        .catch(reject)
    }))
  if (copyFrom === undefined) {
    throw new QueryRefusedError(
      API,
      'pg-copy-streams is not configured',
      'Install it (npm install pg-copy-streams) and pass its from function: new CockroachDialect({ ..., copyFrom }) or copyInto(db, table, rows, { copyFrom })',
    )
  }
  const known = await loadTableColumns(
    API,
    db as unknown as Kysely<unknown>,
    table,
    columns,
    { types: options?.types, introspect: options?.introspect },
    false,
  )
  const types = columns.map((column) => known.types.get(column) ?? UNKNOWN_TYPE)
  // Identifiers through Kysely (CamelCasePlugin and WithSchemaPlugin apply, see compileTableName); the legacy `WITH CSV` spelling, which
  // CockroachDB's copy_stmt (pkg/sql/parser/sql.y, opt_with_copy_options: copy_options) and
  // PostgreSQL 15 (its pre-9.0 COPY syntax) both accept.
  const text = sql`copy ${sql.raw(known.qualifiedName)} (${sql.join(columns.map((column) => sql.id(column)))}) from stdin with csv`.compile(
    db,
  ).sql
  return Object.freeze({ text, columns, types, encoders: types.map(csvEncoder), copyFrom })
}

/**
 * Writes the CSV pieces to the COPY stream, honouring back-pressure, and resolves when the server
 * has answered (pg-copy-streams >= 4 emits 'finish' after the CommandComplete). Abort destroys the
 * stream, which sends CopyFail (pg-copy-streams >= 6: the COPY is rolled back) and rejects with the
 * signal's reason.
 */
function writePieces(stream: CopyFromStream, pieces: readonly string[], signal: AbortSignal | undefined, sent: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false
    const settle = (error?: unknown): void => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      if (error === undefined) resolve()
      else reject(error as Error)
    }
    const onAbort = () => {
      const reason: unknown = signal!.reason
      stream.destroy(reason instanceof Error ? reason : new Error(String(reason)))
      settle(reason)
    }
    // Stays attached after settling: a later error event (the CopyFail answer) must not go unhandled.
    stream.on('error', (error) => settle(error))
    stream.once('finish', () => settle())
    if (signal !== undefined) {
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
    }
    let next = 0
    const writeMore = () => {
      while (next < pieces.length) {
        if (settled) return
        if (!stream.write(pieces[next++]!)) {
          stream.once('drain', writeMore)
          return
        }
      }
      if (!settled) {
        stream.end()
        sent()
      }
    }
    writeMore()
  })
}
