import { CompiledQuery, DeleteQueryNode, InsertQueryNode, MergeQueryNode, SelectQueryNode, UpdateQueryNode } from 'kysely'
import type { Compilable, Kysely, OperationNode, QueryResult, RootOperationNode } from 'kysely'
import { refuseAsOfSystemTimeInTransaction } from '../sql/as-of-system-time/as-of-system-time-in-transaction.js'
import { describeValue } from '../util/describe-value.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

/** Runs one compiled statement; the SQL cursor loop is written once against this. */
export type ExecuteCompiled = <R>(query: CompiledQuery) => Promise<QueryResult<R>>

let cursorSequence = 0

/**
 * Whether `DECLARE ... CURSOR FOR` can wrap the statement `node` compiles to. Both servers take a
 * query there and nothing else:
 *
 * - CockroachDB: `declare_cursor_stmt: DECLARE cursor_name opt_binary opt_sensitivity opt_scroll
 *   CURSOR opt_hold FOR select_stmt` (cockroachdb/cockroach pkg/sql/parser/sql.y), and
 *   `select_stmt` is a SELECT, VALUES or TABLE statement, never INSERT, UPDATE, UPSERT or DELETE.
 * - PostgreSQL: the query of DECLARE is "a SELECT or VALUES command" (docs: sql-declare), and a
 *   data-modifying statement in its WITH is refused ("DECLARE CURSOR must not contain
 *   data-modifying statements in WITH", src/backend/parser/analyze.c,
 *   transformDeclareCursorStmt).
 *
 * Raw SQL (`sql` templates, `CompiledQuery.raw`) cannot be looked into and is sent as it is.
 *
 * @internal
 */
export function canDeclareCursorFor(node: RootOperationNode): boolean {
  if (isMutation(node)) {
    return false
  }
  // A data-modifying statement is allowed only in the WITH of the top-level statement.
  return !(SelectQueryNode.is(node) && (node.with?.expressions ?? []).some((cte) => isMutation(cte.expression)))
}

function isMutation(node: OperationNode): boolean {
  return InsertQueryNode.is(node) || UpdateQueryNode.is(node) || DeleteQueryNode.is(node) || MergeQueryNode.is(node)
}

/**
 * Reads `query` through a SQL cursor: `DECLARE <name> CURSOR FOR <query>`, then
 * `FETCH FORWARD <chunkSize>` until the rows run out, then `CLOSE` (also on early exit and errors).
 * Must run inside a transaction, where SQL cursors live. CockroachDB supports this from v22.1,
 * with placeholders in the query from v22.2 (cockroach PR #74006, #82754; docs /stable/cursors).
 *
 * A statement no cursor can wrap (see {@link canDeclareCursorFor}: INSERT, UPDATE, UPSERT, DELETE
 * ... RETURNING, or a query with one in its WITH) runs as the single statement it is, and its rows
 * are handed out `chunkSize` at a time: they are all in memory at once, as they would be from
 * `execute()`. The statement has written every row before the first one is yielded, so a stream
 * that breaks early skips rows, not writes (PostgreSQL does the same through a portal: `PortalRun`
 * fills the portal's store with a RETURNING statement's rows before sending one,
 * src/backend/tcop/pquery.c).
 *
 * @internal
 */
export async function* readSqlCursor<R>(
  execute: ExecuteCompiled,
  query: CompiledQuery,
  chunkSize: number,
  api: 'stream()' | 'streamWithSqlCursor()',
): AsyncIterableIterator<QueryResult<R>> {
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
    throw new QueryRefusedError(
      api,
      `chunkSize must be a positive integer, got ${describeValue(chunkSize)}`,
      'give one such as { chunkSize: 1000 }',
    )
  }
  // A SQL cursor lives in a transaction, where CockroachDB refuses a statement-level AS OF SYSTEM
  // TIME; and the DECLARE below is raw SQL, which the connection's own guard cannot read. Checked
  // here, once, for stream() inside a transaction and for streamWithSqlCursor alike.
  refuseAsOfSystemTimeInTransaction(query, true)
  if (!canDeclareCursorFor(query.query)) {
    const { rows } = await execute<R>(query)
    for (let start = 0; start < rows.length; start += chunkSize) {
      yield { rows: rows.slice(start, start + chunkSize) }
    }
    return
  }
  // A fixed prefix plus a counter: no user input reaches the cursor name.
  const name = `kysely_cursor_${++cursorSequence}`
  await execute(CompiledQuery.raw(`declare ${name} cursor for ${query.sql}`, [...query.parameters]))
  let failed = false
  try {
    while (true) {
      const result = await execute<R>(CompiledQuery.raw(`fetch forward ${chunkSize} from ${name}`))
      if (result.rows.length > 0) {
        yield result
      }
      if (result.rows.length < chunkSize) {
        break
      }
    }
  } catch (error) {
    failed = true
    throw error
  } finally {
    try {
      await execute(CompiledQuery.raw(`close ${name}`))
    } catch (closeError) {
      // After a failed FETCH the transaction is aborted and CLOSE fails too: the FETCH error is the
      // one that matters, and the rollback that follows discards the cursor anyway.
      if (!failed) {
        // eslint-disable-next-line no-unsafe-finally -- a CLOSE failure after a clean read is the caller's error to see
        throw closeError
      }
    }
  }
}

/**
 * Options of {@link streamWithSqlCursor}.
 *
 * ```ts
 * import { streamWithSqlCursor } from 'kysely-cockroachdb'
 * import type { StreamWithSqlCursorOptions } from 'kysely-cockroachdb'
 *
 * const options: StreamWithSqlCursorOptions = { chunkSize: 500 }
 * await db.transaction().execute(async (trx) => {
 *   for await (const event of streamWithSqlCursor(trx, trx.selectFrom('event').selectAll(), options)) {
 *     console.log(event.id)
 *   }
 * })
 * ```
 */
export interface StreamWithSqlCursorOptions {
  /** Rows per `FETCH`. Default 1000. */
  readonly chunkSize?: number
}

/**
 * Streams the rows of `query` inside a transaction through a SQL cursor, letting the loop body run
 * other statements on the same transaction between rows.
 *
 * Kysely's own `trx...stream()` holds the transaction's connection until the stream ends, so a
 * query awaited inside its loop waits for the stream forever (on every dialect); and CockroachDB
 * refuses other statements while a wire-protocol portal is open in a transaction (cockroach#40195).
 * This helper issues each `FETCH` as a separate statement instead, so the connection is free
 * between chunks. Rows pass through the transaction's plugins (e.g. `CamelCasePlugin`). A mutation
 * with RETURNING, which no SQL cursor can wrap, runs as one statement and its rows are buffered.
 *
 * ```ts
 * import { streamWithSqlCursor } from 'kysely-cockroachdb'
 *
 * await db.transaction().execute(async (trx) => {
 *   const query = trx.selectFrom('order').selectAll().where('status', '=', 'new')
 *   for await (const order of streamWithSqlCursor(trx, query, { chunkSize: 500 })) {
 *     await trx.updateTable('order').set({ status: 'queued' }).where('id', '=', order.id).execute()
 *   }
 * })
 * // BEGIN; DECLARE kysely_cursor_1 CURSOR FOR select * from "order" where "status" = $1;
 * // FETCH FORWARD 500 FROM kysely_cursor_1; update ...; ...; CLOSE kysely_cursor_1; COMMIT
 * ```
 */
export async function* streamWithSqlCursor<O>(
  trx: Pick<Kysely<unknown>, 'isTransaction' | 'executeQuery'>,
  query: Compilable<O>,
  options: StreamWithSqlCursorOptions = {},
): AsyncIterableIterator<O> {
  if (!trx.isTransaction) {
    throw new QueryRefusedError(
      'streamWithSqlCursor()',
      'it needs a transaction, where SQL cursors live',
      'call it with the `trx` of db.transaction().execute(async (trx) => ...); outside a transaction use query.stream()',
    )
  }
  const execute: ExecuteCompiled = <R>(compiled: CompiledQuery) => trx.executeQuery<R>(compiled)
  for await (const { rows } of readSqlCursor<O>(execute, query.compile(), options.chunkSize ?? 1000, 'streamWithSqlCursor()')) {
    yield* rows
  }
}
