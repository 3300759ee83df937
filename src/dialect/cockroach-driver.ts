import { CompiledQuery, PostgresDriver } from 'kysely'
import type { DatabaseConnection, PostgresCursorConstructor, PostgresPool, PostgresPoolClient, TransactionSettings } from 'kysely'
import { CockroachConnection } from './cockroach-connection.js'
import { cursorClass } from '../streaming/cockroach-cursor.js'
import { CockroachPool, CockroachPoolClient } from './cockroach-pool.js'
import { isOwnConnectionError, ownSqlState } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'
import type { PgTypeOverrides } from '../connection/int8-type-parsers.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'
import type { CopyFromFunction } from '../bulk-writes/bulk-write-options.js'
// Kysely's driver types these with its unexported PostgresConnection class.
type InnerConnection = Parameters<PostgresDriver['releaseConnection']>[0]

/**
 * What {@link CockroachDialect} resolves its configuration to for the driver. Build a driver
 * yourself only to subclass it; the dialect normally does this.
 *
 * ```ts
 * import pg from 'pg'
 * import { CockroachDriver } from 'kysely-cockroachdb'
 *
 * const driver = new CockroachDriver({ createPool: async () => new pg.Pool({ connectionString }) })
 * ```
 */
export interface CockroachDriverConfig {
  /** Creates the underlying `pg.Pool` (called once, by `init`). */
  readonly createPool: () => Promise<PostgresPool>
  readonly cursor?: PostgresCursorConstructor
  /** pg-copy-streams' `from`, for copyInto. */
  readonly copyFrom?: CopyFromFunction
  readonly types?: PgTypeOverrides
  // The options are kysely 0.29's AbortableOperationOptions, spelled out: kysely 0.28 has no such
  // type, and 0.28 calls the hooks without them.
  readonly onCreateConnection?: (connection: DatabaseConnection, options?: { readonly signal?: AbortSignal }) => Promise<void>
  readonly onReserveConnection?: (connection: DatabaseConnection, options?: { readonly signal?: AbortSignal }) => Promise<void>
}

/**
 * Kysely's `PostgresDriver` (pooling, transactions, savepoints, stack traces) with CockroachDB's
 * needs on top:
 *
 * - `stream()` inside a transaction reads through a SQL cursor, because CockroachDB forbids other
 *   statements while a wire-protocol portal is open in a transaction (see {@link CockroachConnection});
 * - transaction statements run on the connection Kysely was handed, so `log` sees them as on
 *   `PostgresDialect`;
 * - a `ROLLBACK` that fails because the connection is already gone, or with 25P01 because a failed
 *   `COMMIT` already ended the transaction, does not replace the error that made the caller roll
 *   back (see {@link rollbackFailure});
 * - connections that saw a connection-level error are destroyed instead of pooled again;
 * - Kysely 0.29's `inflightQueryAbortStrategy` works on CockroachDB (see {@link CockroachConnection});
 * - INT8 values are parsed per the dialect's `int8` option.
 *
 * ```ts
 * import { Kysely } from 'kysely'
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * // The dialect creates the driver; it is exported for subclassing and tests.
 * const db = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString }) })
 * ```
 */
export class CockroachDriver extends PostgresDriver {
  readonly #connections = new WeakMap<DatabaseConnection, CockroachConnection>()
  readonly #pool: () => Promise<CockroachPool>
  readonly #onCreateConnection: CockroachDriverConfig['onCreateConnection']
  readonly #onReserveConnection: CockroachDriverConfig['onReserveConnection']
  readonly #handOff: HandOff
  readonly #copyFrom: CopyFromFunction | undefined
  // The pool once created, so acquiring a connection (the hot path) awaits no memoized promise.
  #created: CockroachPool | undefined

  constructor(config: CockroachDriverConfig) {
    const { createPool, types } = config
    let created: Promise<CockroachPool> | undefined
    // Memoized, so `init` and `pool()` (the migration lock's renewal sessions) share one pool.
    const pool = () => (created ??= createPool().then((inner) => new CockroachPool(inner, types)))
    const handOff = new HandOff()
    super(
      Object.freeze({
        // PostgresDriver takes its clients from this pool; each is the one acquireConnection has just
        // taken from the real pool, so the driver knows which client each connection runs on.
        pool: async () => handOffPool(await pool(), handOff),
        cursor: cursorClass(config.cursor, types),
      }),
    )
    this.#pool = pool
    this.#handOff = handOff
    this.#onCreateConnection = config.onCreateConnection
    this.#onReserveConnection = config.onReserveConnection
    this.#copyFrom = config.copyFrom
  }

  /** The pool this driver takes connections from (created on first use). */
  async pool(): Promise<PostgresPool> {
    return await this.#pool()
  }

  // The parameters as a tuple: kysely 0.29 passes `options` (an abort signal), kysely 0.28 nothing;
  // `Parameters<...>[0]` would not compile against 0.28's declarations. Written out in place, so
  // the declaration names no type index.ts does not export (test/integration/package/packed-types.test.ts).
  override async acquireConnection(...args: Parameters<PostgresDriver['acquireConnection']>): Promise<DatabaseConnection> {
    // kysely 0.29 PostgresDriver hands its `options` to both hooks (postgres-driver.js,
    // acquireConnection), so these do too; on 0.28 there are none.
    const options = (args as readonly unknown[])[0] as { readonly signal?: AbortSignal } | undefined
    const pool = (this.#created ??= await this.#pool())
    const client = await pool.connect()
    this.#handOff.put(client)
    // kysely 0.28.19 and 0.29.9 PostgresDriver.acquireConnection call `pool.connect()` first, before
    // any await, so the client is taken before this call returns.
    const acquiring = super.acquireConnection(...args)
    if (this.#handOff.takeBack() !== undefined) {
      client.release()
      await acquiring
      throw new KyselyCockroachError(
        'CockroachDriver: PostgresDriver did not take the client it was handed. This is a bug: please report it.',
      )
    }
    const inner = await acquiring
    let connection = this.#connections.get(inner)
    try {
      if (connection === undefined) {
        connection = new CockroachConnection(inner, {
          client,
          controlQuery: (sql, stillWanted) => pool.controlQuery(sql, stillWanted),
          copyFrom: this.#copyFrom,
        })
        this.#connections.set(inner, connection)
        // Called with the connection Kysely is handed, not the inner one, as PostgresDriver calls
        // them with the connection it returns: statements they run are logged from the second
        // acquisition on, exactly as on PostgresDialect (Kysely instruments a connection after
        // acquireConnection returns it).
        // `if`, not `await hook?.()`: awaiting an absent hook still costs the hot path a tick.
        if (this.#onCreateConnection !== undefined) {
          await this.#onCreateConnection(connection, options)
        }
      }
      if (this.#onReserveConnection !== undefined) {
        await this.#onReserveConnection(connection, options)
      }
    } catch (error) {
      // A hook failed half-way: the session may be half set up, so it is not pooled again.
      this.#connections.delete(inner)
      client.discard()
      await super.releaseConnection(inner as InnerConnection)
      throw error
    }
    return connection
  }

  // The transaction statements run on the connection Kysely was handed, which Kysely instruments
  // for `log`; PostgresDriver sends them through `connection.executeQuery`.
  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await super.beginTransaction(connection, settings)
    setInTransaction(connection, true)
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection)
    } finally {
      setInTransaction(connection, false)
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!(connection instanceof CockroachConnection)) {
      await super.rollbackTransaction(connection as InnerConnection)
      return
    }
    try {
      // The statement kysely 0.28.19 and 0.29.9 PostgresDriver.rollbackTransaction sends. Kysely then
      // discards the connection through a private method of its own connection class, which this
      // one is not; the pool client does it here instead (test/integration/dialect/log-parity.test.ts compares the two).
      await connection.executeQuery(CompiledQuery.raw('rollback'))
    } catch (error) {
      const outcome = rollbackFailure(error)
      if (!outcome.keepConnection) {
        connection.discard()
      }
      if (outcome.rethrow) {
        throw error
      }
    } finally {
      setInTransaction(connection, false)
    }
  }

  override async releaseConnection(connection: DatabaseConnection): Promise<void> {
    setInTransaction(connection, false)
    await super.releaseConnection(unwrap(connection) as InnerConnection)
  }
}

/**
 * What a failed `ROLLBACK` means, decided from its error alone:
 *
 * - 25P01 "there is no transaction in progress": the session is idle, so the connection is fine and
 *   the error that made the caller roll back is the one to surface. CockroachDB answers so after a
 *   `COMMIT` that failed (a commit-time 40001 ends the transaction; pkg/sql/conn_executor_exec.go,
 *   execStmtInNoTxnState); PostgreSQL only warns.
 * - a lost connection: the server discards an uncommitted transaction with its session, so the
 *   original error is the one to surface; the connection is destroyed.
 * - anything else: the session is in an unknown state. Kysely throws the error and destroys the
 *   connection; so does this driver.
 *
 * @internal
 */
export function rollbackFailure(error: unknown): { readonly keepConnection: boolean; readonly rethrow: boolean } {
  if (ownSqlState(error) === SqlState.NoActiveSqlTransaction) {
    return { keepConnection: true, rethrow: false }
  }
  return { keepConnection: false, rethrow: !isOwnConnectionError(error) }
}

/**
 * Passes the client CockroachDriver.acquireConnection took from the pool to PostgresDriver, whose
 * connection class keeps its client private: this way the driver knows which pool client each
 * connection runs on (to discard it, and for its cancel key).
 */
class HandOff {
  #client: CockroachPoolClient | undefined

  put(client: CockroachPoolClient): void {
    if (this.#client !== undefined) {
      client.release()
      throw new KyselyCockroachError('CockroachDriver: a client hand-off to PostgresDriver is pending. This is a bug: please report it.')
    }
    this.#client = client
  }

  take(): CockroachPoolClient {
    const client = this.takeBack()
    if (client === undefined) {
      throw new KyselyCockroachError(
        'CockroachDriver: PostgresDriver asked for a client outside acquireConnection. This is a bug: please report it.',
      )
    }
    return client
  }

  takeBack(): CockroachPoolClient | undefined {
    const client = this.#client
    this.#client = undefined
    return client
  }
}

/** A `PostgresPool` whose `connect()` returns the client handed over. */
function handOffPool(pool: CockroachPool, handOff: HandOff): PostgresPool {
  return {
    connect: () => Promise.resolve<PostgresPoolClient>(handOff.take()),
    end: () => pool.end(),
    // Kysely 0.29 builds its control client from these (PostgresDriver.acquireConnection).
    get Client() {
      return pool.Client
    },
    get options() {
      return pool.options
    },
  } as PostgresPool
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof CockroachConnection ? connection.inner : connection
}

function setInTransaction(connection: DatabaseConnection, value: boolean): void {
  if (connection instanceof CockroachConnection) {
    connection.inTransaction = value
  }
}
