import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely'
import { refuseAsOfSystemTimeInTransaction } from './as-of-system-time-in-transaction.js'
import { readSqlCursor } from './sql-cursor.js'

type ExecuteOptions = Parameters<DatabaseConnection['executeQuery']>[1]
type ControlConnectionProvider = Parameters<NonNullable<DatabaseConnection['cancelQuery']>>[0]

/**
 * The connection {@link CockroachDriver} hands to Kysely: Kysely's own Postgres connection, plus
 * knowledge of whether a transaction is open on it.
 *
 * Streaming needs that knowledge. Outside a transaction `stream()` reads a wire-protocol portal
 * with pg-cursor, as Kysely's `PostgresDialect` does. Inside an explicit transaction CockroachDB
 * refuses any other statement while such a portal is open ("multiple active portals not
 * supported", SQLSTATE 0A000, cockroach#40195), so there `stream()` reads a SQL cursor instead
 * (see {@link readSqlCursor}): no portal outlives a statement, pg-cursor is not needed, and a
 * ROLLBACK that races an aborted stream's cleanup is not refused.
 *
 * Kysely itself runs one statement at a time on a transaction's connection and holds it for the
 * whole stream, so statements between rows need {@link streamWithSqlCursor}.
 *
 * @internal
 */
export class CockroachConnection implements DatabaseConnection {
  readonly #inner: DatabaseConnection
  #inTransaction = false

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

  executeQuery<R>(compiledQuery: CompiledQuery, options?: ExecuteOptions): Promise<QueryResult<R>> {
    refuseAsOfSystemTimeInTransaction(compiledQuery, this.#inTransaction)
    return this.#inner.executeQuery<R>(compiledQuery, options)
  }

  streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize: number,
    options?: ExecuteOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    refuseAsOfSystemTimeInTransaction(compiledQuery, this.#inTransaction)
    if (this.#inTransaction) {
      return readSqlCursor<R>((query) => this.#inner.executeQuery(query, options), compiledQuery, chunkSize)
    }
    return this.#inner.streamQuery<R>(compiledQuery, chunkSize, options)
  }
}
