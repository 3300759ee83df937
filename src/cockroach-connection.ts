import { CompiledQuery } from 'kysely'
import type { DatabaseConnection, QueryResult } from 'kysely'
import { isMultipleActivePortalsError } from './error-classifiers.js'

type ExecuteOptions = Parameters<DatabaseConnection['executeQuery']>[1]
type ControlConnectionProvider = Parameters<NonNullable<DatabaseConnection['cancelQuery']>>[0]

/**
 * The connection {@link CockroachDriver} hands to Kysely: Kysely's own Postgres connection, plus
 * knowledge of whether a transaction is open on it.
 *
 * Streaming needs that knowledge. Outside a transaction `stream()` reads a wire-protocol portal
 * with pg-cursor, as Kysely's `PostgresDialect` does. Inside an explicit transaction CockroachDB
 * refuses any other statement while such a portal is open ("multiple active portals not
 * supported", SQLSTATE 0A000, cockroach#40195), so there it reads through a SQL cursor instead:
 * `DECLARE ... CURSOR FOR`, `FETCH FORWARD n`, `CLOSE`, which CockroachDB supports inside
 * transactions from v22.1, with placeholders from v22.2 (cockroach PR #74006 and #82754), and
 * which lets other statements run between chunks, as on PostgreSQL.
 *
 * @internal
 */
export class CockroachConnection implements DatabaseConnection {
  readonly #inner: DatabaseConnection
  #inTransaction = false
  #cursorSequence = 0

  constructor(inner: DatabaseConnection) {
    this.#inner = inner
    // Kysely >= 0.29 cancels queries through these; 0.28 connections do not have them.
    if (typeof inner.cancelQuery === 'function') {
      this.cancelQuery = (provider: ControlConnectionProvider) => inner.cancelQuery!(provider)
    }
    if (typeof inner.killSession === 'function') {
      this.killSession = (provider: ControlConnectionProvider) => inner.killSession!(provider)
    }
    if (typeof inner.collectSessionInfo === 'function') {
      this.collectSessionInfo = () => inner.collectSessionInfo!()
    }
  }

  cancelQuery?: (provider: ControlConnectionProvider) => Promise<void>
  killSession?: (provider: ControlConnectionProvider) => Promise<void>
  collectSessionInfo?: () => Promise<void>

  /** The Kysely `PostgresConnection` this wraps. */
  get inner(): DatabaseConnection {
    return this.#inner
  }

  get inTransaction(): boolean {
    return this.#inTransaction
  }

  set inTransaction(value: boolean) {
    this.#inTransaction = value
  }

  async executeQuery<R>(compiledQuery: CompiledQuery, options?: ExecuteOptions): Promise<QueryResult<R>> {
    try {
      return await this.#inner.executeQuery<R>(compiledQuery, options)
    } catch (error) {
      if (isMultipleActivePortalsError(error) && error instanceof Error) {
        error.message +=
          ' (kysely-cockroachdb: a pg-cursor stream was still open on this connection inside a transaction ' +
          'that this dialect did not start. Finish or break out of the stream before running other ' +
          'statements, or use db.transaction(), where stream() reads through a SQL cursor.)'
      }
      throw error
    }
  }

  streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize: number,
    options?: ExecuteOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (this.#inTransaction) {
      return this.#streamWithSqlCursor<R>(compiledQuery, chunkSize, options)
    }
    return this.#inner.streamQuery<R>(compiledQuery, chunkSize, options)
  }

  async *#streamWithSqlCursor<R>(
    compiledQuery: CompiledQuery,
    chunkSize: number,
    options?: ExecuteOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new Error('chunkSize must be a positive integer')
    }
    const name = `kysely_stream_${++this.#cursorSequence}`
    await this.#inner.executeQuery(
      CompiledQuery.raw(`declare ${name} cursor for ${compiledQuery.sql}`, [...compiledQuery.parameters]),
      options,
    )
    let failed = false
    try {
      while (true) {
        const { rows } = await this.#inner.executeQuery<R>(
          CompiledQuery.raw(`fetch forward ${chunkSize} from ${name}`),
          options,
        )
        if (rows.length === 0) {
          break
        }
        yield { rows }
        if (rows.length < chunkSize) {
          break
        }
      }
    } catch (error) {
      failed = true
      throw error
    } finally {
      try {
        await this.#inner.executeQuery(CompiledQuery.raw(`close ${name}`), options)
      } catch (closeError) {
        // After a failed FETCH the transaction is aborted and CLOSE fails too; the FETCH error is
        // the one the caller needs, and the rollback that follows closes the cursor anyway.
        if (!failed) {
          throw closeError
        }
      }
    }
  }
}
