import type { BulkProgress } from '../bulk-writes/bulk-write-options.js'
import { classBrand, KyselyCockroachError } from './kysely-cockroach-error.js'

const { brand, hasBrand } = classBrand<BulkWriteError>('BulkWriteError')

/**
 * The bulk helper that failed.
 *
 * ```ts
 * import type { BulkWriteApi } from 'kysely-cockroachdb'
 *
 * const api: BulkWriteApi = 'insertMany'
 * ```
 */
export type BulkWriteApi = 'insertMany' | 'upsertMany' | 'copyInto' | 'deleteInBatches' | 'updateInBatches'

/**
 * Thrown by {@link insertMany}, {@link upsertMany}, {@link copyInto}, {@link deleteInBatches} and
 * {@link updateInBatches} when a load or a batch loop fails part-way: a batch failed after its
 * retries (or could not be split any smaller), its commit's outcome is unknown (`cause` is an
 * {@link AmbiguousCommitError}), or `onBatch` threw. `committed` says what is in the database for
 * sure: every batch before the failed one committed (on its own transaction), the failed one and
 * all later ones did not, except that an ambiguous commit may or may not have. `cause` is the
 * database, connection or callback error.
 *
 * ```ts
 * import { insertMany, isBulkWriteError } from 'kysely-cockroachdb'
 *
 * try {
 *   await insertMany(db, 'person', [{ id: 1, name: 'Ada' }, { id: 2, name: 'Grace' }])
 * } catch (error) {
 *   if (isBulkWriteError(error)) {
 *     console.error(`${error.committed.rows} rows are committed; resume from row ${error.committed.rows}`)
 *   }
 *   throw error
 * }
 * ```
 */
export class BulkWriteError extends KyselyCockroachError {
  override readonly name = 'BulkWriteError'
  readonly api: BulkWriteApi
  /** What is committed for sure (rows, batches) when the load stopped. */
  readonly committed: BulkProgress
  /** Rows of the statement that failed (after splitting, the smallest piece). */
  readonly failedRows: number
  declare readonly cause: unknown

  constructor(api: BulkWriteApi, message: string, committed: BulkProgress, failedRows: number, cause: unknown) {
    super(message, { cause })
    this.api = api
    this.committed = Object.freeze({ ...committed })
    this.failedRows = failedRows
    brand(this)
  }
}

/**
 * Whether `error` is a {@link BulkWriteError}, also one from another copy of the package.
 *
 * ```ts
 * import { isBulkWriteError } from 'kysely-cockroachdb'
 *
 * const committedRows = (error: unknown) => (isBulkWriteError(error) ? error.committed.rows : 0)
 * ```
 */
export function isBulkWriteError(error: unknown): error is BulkWriteError {
  return hasBrand(error)
}
