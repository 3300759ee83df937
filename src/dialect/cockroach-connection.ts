import { CompiledQuery } from 'kysely'
import type { DatabaseConnection, QueryId, QueryResult } from 'kysely'
import type { PostgresCursor } from 'kysely'
import type { CockroachPoolClient } from './cockroach-pool.js'
import type { CopyFromFunction } from '../bulk-writes/bulk-write-options.js'
import { sendCancelRequest } from '../connection/pgwire-cancel.js'
import { refuseAsOfSystemTimeInTransaction } from '../sql/as-of-system-time/as-of-system-time-in-transaction.js'
import { readSqlCursor } from '../streaming/sql-cursor.js'
import { migrationRetryOf, retrySchemaChange } from '../migration/schema-change-retry.js'
import { quoteLiteral } from '../util/sql-quoting.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

// Spelled out rather than read off DatabaseConnection: kysely 0.28's executeQuery takes no options
// and its connections have no cancelQuery, so `Parameters<...>[1]` would not type-check against it.
// These are kysely 0.29's AbortableOperationOptions and ControlConnectionProvider.
interface ExecuteOptions {
  readonly signal?: AbortSignal | undefined
}
type ControlConnectionProvider = (consumer: (connection: DatabaseConnection) => Promise<void>) => Promise<void>

/** What the driver gives each connection besides Kysely's own: its pool client and a control path. */
export interface ConnectionControl {
  /** The pool client the connection runs on; `undefined` when the driver could not tell. */
  readonly client: CockroachPoolClient | undefined
  /** Runs a statement on a separate connection (see {@link CockroachPool.controlQuery}). */
  controlQuery(sql: string, stillWanted: () => boolean): Promise<void>
  /** pg-copy-streams' `from`, from the dialect's `copyFrom` option. */
  readonly copyFrom?: CopyFromFunction | undefined
}

// A CockroachDB session id is a uint128 (pkg/sql/clusterunique/id.go) that pkg/util/uint128 prints
// with hex.EncodeToString: 32 hex digits. Anything else is refused before it reaches SQL text.
const SESSION_ID = /^[0-9a-f]{32}$/

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
 * Kysely 0.29's `inflightQueryAbortStrategy` cancels through {@link cancelQuery} and
 * {@link killSession}. Kysely's own connection sends `pg_cancel_backend` / `pg_terminate_backend`,
 * which CockroachDB does not have (its pkg/sql/sem/builtins/pg_builtins.go defines `pg_backend_pid`
 * but neither; "unknown function: pg_terminate_backend()", cockroach#35897, cockroach#95160). This
 * one sends a wire-protocol cancel request, which PostgreSQL and CockroachDB (v22.1 and later) both
 * honour, and ends a CockroachDB session with `CANCEL SESSION`.
 *
 * @internal
 */
export class CockroachConnection implements DatabaseConnection {
  readonly #inner: DatabaseConnection
  readonly #control: ConnectionControl
  #inTransaction = false
  // The query running now, so that a cancel never hits the one after it (Kysely's connection
  // tracks its query id for the same reason).
  #running: QueryId | undefined
  // CockroachDB's id of this session, `null` on PostgreSQL, `undefined` until collected.
  #sessionId: string | null | undefined

  constructor(inner: DatabaseConnection, control: ConnectionControl) {
    this.#inner = inner
    this.#control = control
  }

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
    try {
      refuseAsOfSystemTimeInTransaction(compiledQuery, this.#inTransaction)
    } catch (error) {
      return Promise.reject(error)
    }
    // The Migrator's connection, outside a transaction: statements refused because another schema
    // change runs on the table are sent again (src/migration/schema-change-retry.ts).
    const migration = this.#inTransaction ? undefined : migrationRetryOf(this)
    if (migration !== undefined) {
      return retrySchemaChange(() => this.#send<R>(compiledQuery, options), migration)
    }
    return this.#send<R>(compiledQuery, options)
  }

  #send<R>(compiledQuery: CompiledQuery, options: ExecuteOptions | undefined): Promise<QueryResult<R>> {
    // Kysely passes options, and may then cancel this query through cancelQuery/killSession, only
    // for a query with a signal (kysely 0.29 QueryExecutorBase.executeQuery): the common case stays a
    // plain call, with no tracking on the hot path.
    if (options?.signal === undefined) {
      return this.#inner.executeQuery<R>(compiledQuery, options)
    }
    return this.#executeCancellable<R>(compiledQuery, options)
  }

  async #executeCancellable<R>(compiledQuery: CompiledQuery, options: ExecuteOptions): Promise<QueryResult<R>> {
    const running = compiledQuery.queryId
    this.#running = running
    try {
      return await this.#inner.executeQuery<R>(compiledQuery, options)
    } finally {
      if (this.#running === running) {
        this.#running = undefined
      }
    }
  }

  /** pg-copy-streams' `from` the dialect was configured with, for copyInto. */
  get copyFrom(): CopyFromFunction | undefined {
    return this.#control.copyFrom
  }

  /**
   * Hands a pg Submittable (pg-copy-streams' COPY stream) to this connection's pg client, the way
   * pg-cursor's cursors reach it (CockroachPoolClient.query passes non-string queries through), so
   * the COPY runs on the transaction's own connection, whose client has an 'error' listener (a
   * client without one would crash the process when its socket dies mid-COPY). `undefined` when the
   * driver does not know the client.
   */
  submit<T extends object>(submittable: T): T | undefined {
    const client = this.#control.client
    return client === undefined ? undefined : (client.query(submittable as unknown as PostgresCursor<never>) as unknown as T)
  }

  /** Destroys the underlying client when it is released (see {@link CockroachPoolClient.discard}). */
  discard(): void {
    this.#control.client?.discard()
  }

  /**
   * Kysely 0.29 calls this before a query that has a signal and an abort strategy. Keeps Kysely's
   * own session info (the PostgreSQL backend pid) and reads CockroachDB's session id, which
   * `CANCEL SESSION` takes. `current_setting(name, true)` answers on both servers without failing:
   * CockroachDB has `session_id` as a session variable (pkg/sql/vars.go; `current_setting` reads
   * those, planner.GetSessionVar), PostgreSQL returns NULL for a setting it does not know.
   */
  async collectSessionInfo(): Promise<void> {
    await this.#inner.collectSessionInfo?.()
    if (this.#sessionId !== undefined) {
      return
    }
    const { rows } = await this.#inner.executeQuery<{ session_id: string | null }>(
      CompiledQuery.raw(`select current_setting('session_id', true) as session_id`),
    )
    this.#sessionId = rows[0]?.session_id ?? null
  }

  /**
   * Cancels the running query with a wire-protocol cancel request (the key from the session's
   * BackendKeyData). Falls back to Kysely's own `pg_cancel_backend` when the pool's clients are not
   * node-postgres clients, which only works on PostgreSQL.
   */
  async cancelQuery(provider: ControlConnectionProvider): Promise<void> {
    const running = this.#running
    if (running === undefined) {
      return
    }
    const target = this.#control.client?.cancelTarget
    if (target === undefined) {
      await this.#inner.cancelQuery?.(provider)
      return
    }
    await sendCancelRequest(target, () => this.#running === running)
  }

  /**
   * Ends the session running the query: `CANCEL SESSION` on CockroachDB (pkg/sql/parser/sql.y,
   * `cancel_sessions_stmt`), Kysely's own `pg_terminate_backend` on PostgreSQL.
   */
  async killSession(provider: ControlConnectionProvider): Promise<void> {
    const running = this.#running
    if (running === undefined) {
      return
    }
    const sessionId = this.#sessionId
    if (sessionId === null || sessionId === undefined) {
      await this.#inner.killSession?.(provider)
      return
    }
    if (!SESSION_ID.test(sessionId)) {
      throw new QueryRefusedError(
        'CockroachDialect',
        `cannot end the session, its id ${JSON.stringify(sessionId.slice(0, 40))} is not the hex id CockroachDB prints`,
        "use inflightQueryAbortStrategy: 'cancel query' instead",
      )
    }
    const statement = `cancel session if exists ${quoteLiteral(sessionId)}`
    await this.#control.controlQuery(statement, () => this.#running === running)
  }

  streamQuery<R>(compiledQuery: CompiledQuery, chunkSize: number, options?: ExecuteOptions): AsyncIterableIterator<QueryResult<R>> {
    // readSqlCursor refuses a statement-level AS OF SYSTEM TIME itself; outside a transaction it is valid.
    if (this.#inTransaction) {
      return readSqlCursor<R>((query) => this.#inner.executeQuery(query, options), compiledQuery, chunkSize, 'stream()')
    }
    return this.#inner.streamQuery<R>(compiledQuery, chunkSize, options)
  }
}
