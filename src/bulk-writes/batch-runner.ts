// Runs the batches of a bulk helper: each in its own withRetry transaction (or on the caller's
// transaction), a batch the server found too large split in half, progress after each batch,
// abort between batches and inside withRetry (which rolls back instead of committing).
import type { Kysely, Transaction } from 'kysely'
import { BulkWriteError } from '../errors/bulk-write-error.js'
import type { BulkWriteApi } from '../errors/bulk-write-error.js'
import { isQueryRefusedError } from '../errors/query-refused-error.js'
import { withRetry } from '../retry/with-retry.js'
import type { RetryEvent, WithRetryOptions } from '../retry/with-retry-options.js'
import { halves } from './batch-planning.js'
import type { BulkProgress } from './bulk-write-options.js'
import { isBatchTooLarge } from './split-decision.js'

/**
 * What runs one piece of a batch: the statements of `rows`, on `executor` (a transaction).
 * `sent` says the piece's data is on its way to the server (see pipelineBatches).
 */
export type PieceRunner<R, Out> = (
  executor: Kysely<unknown>,
  rows: R[],
  signal: AbortSignal | undefined,
  sent: () => void,
) => Promise<Out[]>

export interface RunnerOptions {
  readonly retry?: Omit<WithRetryOptions, 'signal'> | undefined
  readonly splitTooLarge?: boolean | undefined
  readonly onBatch?: ((progress: BulkProgress) => void | Promise<void>) | undefined
  readonly signal?: AbortSignal | undefined
  /** Whether re-running a batch whose commit is in doubt is harmless (upserts, keyset loops). */
  readonly idempotent: boolean
  /**
   * Rows a committed piece wrote, from what it returned; default: its input rows. A piece that
   * wrote none (a keyset loop's last, empty batch) is not counted as a batch nor reported.
   */
  readonly count?: ((rows: readonly unknown[], returned: readonly unknown[]) => number) | undefined
  /** A keyset loop: its batches have no input rows to name in messages. */
  readonly loop?: boolean | undefined
  /** Keep what pieces return (the `returning` rows). Default true. */
  readonly keepReturned?: boolean | undefined
}

// Thrown from withRetry's onRetry to stop retrying a commit-deadline error at the same size
// (withRetry rolls back and rethrows what onRetry throws: WithRetryOptions.onRetry).
class SplitSignal extends Error {
  constructor(readonly error: unknown) {
    super('split the batch')
  }
}

/** A failure of the caller's row source (its iterator threw), carried out of pipelineBatches. */
export class SourceFailure extends Error {
  constructor(readonly error: unknown) {
    super('the row source failed')
  }
}

/** Reads the next batch; an error of the row source becomes a SourceFailure. */
export async function nextBatch<T>(batches: AsyncGenerator<T>): Promise<IteratorResult<T>> {
  try {
    return await batches.next()
  } catch (error) {
    throw new SourceFailure(error)
  }
}

/** The progress counters of one call, and the batch runner. */
export class BatchRunner<R, Out> {
  readonly #api: BulkWriteApi
  readonly #db: Kysely<unknown>
  readonly #options: RunnerOptions
  readonly #run: PieceRunner<R, Out>
  readonly #started = performance.now()
  readonly #inTransaction: boolean
  #rows = 0
  #batches = 0
  #retries = 0
  #splits = 0
  readonly returned: Out[] = []

  constructor(api: BulkWriteApi, db: Kysely<unknown>, options: RunnerOptions, run: PieceRunner<R, Out>) {
    this.#api = api
    this.#db = db
    this.#options = options
    this.#run = run
    this.#inTransaction = db.isTransaction
  }

  get inTransaction(): boolean {
    return this.#inTransaction
  }

  progress(): BulkProgress {
    return Object.freeze({
      rows: this.#rows,
      batches: this.#batches,
      elapsedMs: Math.round((performance.now() - this.#started) * 100) / 100,
      retries: this.#retries,
      splits: this.#splits,
    })
  }

  /** Runs one batch (`first`: index of its first row in the input), then reports progress. */
  async runBatch(rows: R[], first: number, sent: () => void = () => {}): Promise<void> {
    this.#options.signal?.throwIfAborted()
    const written = await this.#runPiece(rows, first, sent)
    if (written > 0) await this.report()
  }

  /**
   * Runs the load (`load`: pipelineBatches over nextBatch); a SourceFailure becomes a
   * BulkWriteError with the committed count, counted once the batch in flight has settled.
   */
  async runLoad(load: () => Promise<void>): Promise<void> {
    try {
      await load()
    } catch (thrown) {
      if (!(thrown instanceof SourceFailure)) throw thrown
      const committed = this.progress()
      throw new BulkWriteError(
        this.#api,
        `${this.#api}: reading the rows failed after ${committed.rows} rows in ${committed.batches} batches were committed: ` +
          `${describeError(thrown.error)}. Those rows stay; the rest were not written. Fix the row source, then continue from row ${committed.rows}.`,
        committed,
        0,
        thrown.error,
      )
    }
  }

  /** Calls onBatch; an error it throws ends the load as a BulkWriteError. */
  async report(): Promise<void> {
    const onBatch = this.#options.onBatch
    if (onBatch === undefined) return
    try {
      await onBatch(this.progress())
    } catch (error) {
      const committed = this.progress()
      throw new BulkWriteError(
        this.#api,
        `${this.#api}: onBatch threw after ${committed.rows} rows in ${committed.batches} batches were committed: ` +
          `${describeError(error)}. Those rows stay; the rest were not written. Fix the callback, then continue from row ${committed.rows}.`,
        committed,
        0,
        error,
      )
    }
  }

  /** Runs rows (split if too large) and resolves to the rows written. */
  async #runPiece(rows: R[], first: number, sent: () => void = () => {}): Promise<number> {
    const signal = this.#options.signal
    let returned: Out[]
    try {
      if (this.#inTransaction) {
        returned = await this.#run(this.#db, rows, signal, sent)
      } else {
        const retry = this.#options.retry ?? {}
        const split = this.#options.splitTooLarge !== false && rows.length > 1
        returned = await withRetry(this.#db, (trx: Transaction<unknown>) => this.#run(trx, rows, signal, sent), {
          ...retry,
          idempotent: retry.idempotent ?? this.#options.idempotent,
          ...(signal === undefined ? {} : { signal }),
          onRetry: async (event: RetryEvent) => {
            if (split && isBatchTooLarge(event.error) === 'split-now') throw new SplitSignal(event.error)
            this.#retries++
            await retry.onRetry?.(event)
          },
        })
      }
    } catch (thrown) {
      if ((signal?.aborted && thrown === signal.reason) || isQueryRefusedError(thrown)) throw thrown
      const error = thrown instanceof SplitSignal ? thrown.error : thrown
      const rowsText = `rows ${first}-${first + rows.length - 1}`
      if (this.#inTransaction) {
        throw new BulkWriteError(
          this.#api,
          `${this.#api}: batch ${this.#batches + 1} (${rowsText}) failed inside the transaction you passed; that transaction ` +
            `is now aborted: ${describeError(error)}. Run the whole load in withRetry(db, (trx) => ${this.#api}(trx, ...)) to ` +
            'retry it, or pass the Kysely instance so each batch commits and retries on its own.',
          this.progress(),
          rows.length,
          error,
        )
      }
      const decision = thrown instanceof SplitSignal ? 'split-now' : isBatchTooLarge(error)
      if (decision !== false && this.#options.splitTooLarge !== false && rows.length > 1) {
        this.#splits++
        const [head, tail] = halves(rows)
        return (await this.#runPiece(head, first)) + (await this.#runPiece(tail, first + head.length))
      }
      const committed = this.progress()
      if (isAmbiguous(error)) throw this.#ambiguous(error, committed, rowsText, first, rows.length)
      if (this.#options.loop === true) {
        // A keyset loop's batch has no input rows: the loop starts over on what still matches.
        throw new BulkWriteError(
          this.#api,
          `${this.#api}: batch ${committed.batches + 1} failed: ${describeError(error)}${locate(error, undefined)}. ` +
            `${committed.rows} rows in ${committed.batches} batches are committed; this batch was rolled back. ` +
            'Fix the cause, then run it again: it continues with the rows that still match.',
          committed,
          0,
          error,
        )
      }
      throw new BulkWriteError(
        this.#api,
        `${this.#api}: batch ${committed.batches + 1} (${rowsText}) failed: ${describeError(error)}${locate(error, first)}. ` +
          `${committed.rows} rows in ${committed.batches} batches are committed; this batch and the rest were not written. ` +
          `Fix the cause, then continue from row ${committed.rows}.`,
        committed,
        rows.length,
        error,
      )
    }
    const written = this.#options.count === undefined ? rows.length : this.#options.count(rows, returned)
    if (written > 0 || this.#options.count === undefined) {
      this.#rows += written
      this.#batches++
    }
    if (this.#options.keepReturned !== false) for (const row of returned) this.returned.push(row)
    return written
  }

  /**
   * A batch whose COMMIT's outcome is unknown. The AmbiguousCommitError's own message ends with
   * withRetry's fix (`idempotent: true`), which for insertMany and copyInto would write the batch
   * twice: this message names the bulk fixes instead (review-14 #1).
   */
  #ambiguous(error: Error, committed: BulkProgress, rowsText: string, first: number, size: number): BulkWriteError {
    const { statement, cause, resolution } = error as Error & { statement?: unknown; cause?: unknown; resolution?: unknown }
    const settle =
      resolution === 'timed out' || resolution === 'failed'
        ? ` (retry.resolveAmbiguousCommits could not settle it: ${String(resolution)})`
        : ''
    return new BulkWriteError(
      this.#api,
      `${this.#api}: batch ${committed.batches + 1} (${rowsText}) failed: the outcome of its COMMIT is unknown: ` +
        `"${String(statement)}" failed while in flight: ${describeError(cause)}${settle}. ${committed.rows} rows in ` +
        `${committed.batches} batches are committed; this batch may or may not have been, the rest were not written. ` +
        `Check whether ${rowsText} are there (e.g. select their keys), then continue from row ${first} or ${first + size}; ` +
        'or load with upsertMany, which retries a lost COMMIT, or pass retry: { resolveAmbiguousCommits: true } so that ' +
        "withRetry settles each batch's commit.",
      committed,
      size,
      error,
    )
  }
}

/**
 * Where in the batch a server data error happened, from pg's error fields: COPY's context
 * (`where`: "COPY t, line 13, column qty: ...", PostgreSQL's CopyFromErrorCallback; line 1 is the
 * piece's first row, CSV without a header) gives the row, `column` the column (not-null and
 * similar errors). An unnest INSERT's errors do not say which row.
 */
export function locate(error: unknown, first: number | undefined): string {
  const fields = (error ?? {}) as { where?: unknown; column?: unknown }
  const where = typeof fields.where === 'string' ? /\bCOPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(fields.where) : null
  const parts: string[] = []
  if (where !== null && first !== undefined) parts.push(`row ${first + Number(where[1]) - 1}`)
  const column = typeof fields.column === 'string' ? fields.column : where?.[2]
  if (column !== undefined) parts.push(`column "${column}"`)
  return parts.length === 0 ? '' : ` (at ${parts.join(', ')})`
}

function isAmbiguous(error: unknown): error is Error {
  return error instanceof Error && error.name === 'AmbiguousCommitError'
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message.replace(/\.$/, '') : String(error)
}
