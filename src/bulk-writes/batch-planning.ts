// How rows are cut into statements. Pure: no I/O.
//
// Three bounds:
// - rows per statement (batchSize / chunkRows);
// - 65,535 parameters per statement: pg-protocol's serializer writes the parameter count of a
//   Bind message with addInt16 (pg-protocol src/serializer.ts, bind()) and checks nothing, so
//   65,536 parameters wrap to 0 and PostgreSQL answers 08P01 "bind message supplies 0 parameters,
//   but prepared statement "" requires 65536" (run on PostgreSQL 15, design-14 §1.3). CockroachDB's
//   scanner takes placeholders up to $65536 (pkg/sql/sem/tree/placeholders.go, MaxPlaceholderIdx =
//   math.MaxUint16), but the count on the wire wraps the same way. The array form sends one
//   parameter per column, so only Kysely's multi-row VALUES needs the cap;
// - bytes per statement: CockroachDB refuses any pgwire message over
//   sql.conn.max_read_buffer_message_size (16 MiB by default; pkg/sql/pgwire, "message size ...
//   bigger than maximum allowed message size"), Bind and CopyData alike, so batches are also cut
//   at an estimate of their size (8 MiB by default).

/** The most parameters one statement can carry (the protocol's 16-bit count). */
export const MAX_PARAMETERS = 65_535

export const DEFAULT_BATCH_SIZE = 1_000
export const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024
export const DEFAULT_CHUNK_ROWS = 10_000
export const MAX_BATCH_SIZE = 1_000_000

/** Rows per multi-row VALUES statement of `columns` columns: floor(65535 / columns). */
export function valuesChunkRows(columns: number, batchSize = Number.POSITIVE_INFINITY): number {
  return Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMETERS / Math.max(1, columns))))
}

/** Cuts `rows` into consecutive pieces of at most `size` rows. */
export function chunk<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

/**
 * An estimate of the bytes one cell adds to a statement: string length (UTF-16 units: exact for
 * ASCII), twice a Buffer's length (hex), the JSON length of objects, a small constant otherwise.
 */
export function estimateCellBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 3
    case 'object':
      if (value === null) return 4
      if (ArrayBuffer.isView(value)) return value.byteLength * 2 + 4
      if (value instanceof Date) return 32
      try {
        return (JSON.stringify(value)?.length ?? 4) + 3
      } catch {
        return 64
      }
    default:
      return 24
  }
}

/** The estimate for a row: the sum over its cells. */
export function estimateRowBytes(row: Readonly<Record<string, unknown>>): number {
  let bytes = 0
  for (const key in row) bytes += estimateCellBytes(row[key])
  return bytes
}

export interface BatchLimits {
  readonly rows: number
  readonly bytes: number
}

/** One batch of input rows and the index (from 0 over the whole input) of its first row. */
export interface PlannedBatch<R> {
  readonly rows: R[]
  readonly first: number
}

/**
 * Reads `rows` (an array, any iterable or an async iterable, read once) into batches of at most
 * `limits.rows` rows and about `limits.bytes` bytes; a single row larger than that is a batch of
 * its own (the server decides about it). Lazy: one batch in memory at a time.
 */
export async function* planBatches<R extends Readonly<Record<string, unknown>>>(
  rows: Iterable<R> | AsyncIterable<R>,
  limits: BatchLimits,
): AsyncGenerator<PlannedBatch<R>> {
  let batch: R[] = []
  let bytes = 0
  let first = 0
  let index = 0
  const boundBytes = Number.isFinite(limits.bytes)
  if (Array.isArray(rows)) {
    // An array needs no await per row: cut it in one pass.
    const list = rows as readonly R[]
    while (index < list.length) {
      first = index
      batch = []
      bytes = 0
      while (index < list.length && batch.length < limits.rows) {
        const size = boundBytes ? estimateRowBytes(list[index]!) : 0
        if (batch.length > 0 && boundBytes && bytes + size > limits.bytes) break
        batch.push(list[index++]!)
        bytes += size
      }
      yield { rows: batch, first }
    }
    return
  }
  for await (const row of rows as AsyncIterable<R>) {
    const size = boundBytes ? estimateRowBytes(row) : 0
    if (batch.length > 0 && (batch.length >= limits.rows || (boundBytes && bytes + size > limits.bytes))) {
      yield { rows: batch, first }
      batch = []
      bytes = 0
      first = index
    }
    batch.push(row)
    bytes += size
    index++
  }
  if (batch.length > 0) yield { rows: batch, first }
}

/**
 * Runs `start(batch, sent)` for each batch and prepares the next one (`prepare`: read, check,
 * encode) while the previous is on the wire, so the client's encoding overlaps the server's work.
 * `start` calls `sent()` once its data has been handed to the socket (the COPY stream ended, the
 * INSERT dispatched); preparing begins on the next turn of the event loop after that (or when the
 * batch settles), not earlier: a long synchronous encode that ran while BEGIN was in flight would
 * only delay the batch's own statement. A refusal from preparing batch k+1 is thrown after batch k
 * has settled; nothing of batch k+1 is sent before batch k is done.
 */
export async function pipelineBatches<P>(
  prepare: () => Promise<P | undefined>,
  start: (prepared: P, sent: () => void) => Promise<void>,
): Promise<void> {
  let current = await prepare()
  while (current !== undefined) {
    let begin!: () => void
    const ready = new Promise<void>((resolve) => (begin = resolve))
    const running = start(current, () => setImmediate(begin))
    running.then(begin, begin)
    const next = ready.then(prepare)
    next.catch(() => undefined)
    await running
    current = await next
  }
}

/** The two halves of a batch that was too large: the first gets the odd row. */
export function halves<T>(rows: readonly T[]): [T[], T[]] {
  const middle = Math.ceil(rows.length / 2)
  return [rows.slice(0, middle), rows.slice(middle)]
}
