import { PostgresDriver } from 'kysely'
import type {
  DatabaseConnection,
  PostgresCursor,
  PostgresCursorConstructor,
  PostgresPool,
  QueryCompiler,
  TransactionSettings,
} from 'kysely'
import { CockroachConnection } from './cockroach-connection.js'
import { CockroachPool } from './cockroach-pool.js'
import { isConnectionError } from './error-classifiers.js'
import type { PgTypeOverrides } from './int8-type-parsers.js'

// `[number]`, not `[0]`: kysely 0.28's acquireConnection takes no parameter (an empty tuple has no
// element 0, and the shipped .d.ts failed to type-check there), 0.29's takes `options?`.
type DriverOptions = Parameters<PostgresDriver['acquireConnection']>[number]
type CompileQuery = QueryCompiler['compileQuery']
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
  readonly types?: PgTypeOverrides
  readonly onCreateConnection?: (connection: DatabaseConnection) => Promise<void>
  readonly onReserveConnection?: (connection: DatabaseConnection) => Promise<void>
}

/**
 * Kysely's `PostgresDriver` (pooling, transactions, savepoints, stack traces) with CockroachDB's
 * needs on top:
 *
 * - `stream()` inside a transaction reads through a SQL cursor, because CockroachDB forbids other
 *   statements while a wire-protocol portal is open in a transaction (see {@link CockroachConnection});
 * - a `ROLLBACK` that fails because the connection is already gone does not replace the error that
 *   broke the transaction (the server discards an uncommitted transaction with its session);
 * - connections that saw a connection-level error are destroyed instead of pooled again;
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
  readonly #pool: () => Promise<PostgresPool>

  constructor(config: CockroachDriverConfig) {
    const { createPool, types } = config
    let created: Promise<PostgresPool> | undefined
    // Memoized, so `init` and `pool()` (the migration lock's renewal sessions) share one pool.
    const pool = () => (created ??= createPool().then((inner) => new CockroachPool(inner, types)))
    super(
      Object.freeze({
        pool,
        cursor: withTypes(config.cursor, types),
        onCreateConnection: config.onCreateConnection,
        onReserveConnection: config.onReserveConnection,
      }),
    )
    this.#pool = pool
  }

  /** The pool this driver takes connections from (created on first use). */
  async pool(): Promise<PostgresPool> {
    return await this.#pool()
  }

  override async acquireConnection(options?: DriverOptions): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection(options)
    let connection = this.#connections.get(inner)
    if (connection === undefined) {
      connection = new CockroachConnection(inner)
      this.#connections.set(inner, connection)
    }
    return connection
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await super.beginTransaction(unwrap(connection), settings)
    setInTransaction(connection, true)
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(unwrap(connection))
    } finally {
      setInTransaction(connection, false)
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      // On failure Kysely's driver marks the connection for discarding before rethrowing.
      await super.rollbackTransaction(unwrap(connection) as InnerConnection)
    } catch (error) {
      if (!isConnectionError(error)) {
        throw error
      }
      // The connection is gone, so the server has already discarded the transaction. Kysely would
      // throw this error in place of the one that made the caller roll back; swallowing it keeps
      // the original error visible, and the connection is destroyed on release.
    } finally {
      setInTransaction(connection, false)
    }
  }

  override async savepoint(connection: DatabaseConnection, name: string, compileQuery: CompileQuery): Promise<void> {
    await super.savepoint(unwrap(connection), name, compileQuery)
  }

  override async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: CompileQuery,
  ): Promise<void> {
    await super.rollbackToSavepoint(unwrap(connection), name, compileQuery)
  }

  override async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: CompileQuery,
  ): Promise<void> {
    await super.releaseSavepoint(unwrap(connection), name, compileQuery)
  }

  override async releaseConnection(connection: DatabaseConnection): Promise<void> {
    setInTransaction(connection, false)
    await super.releaseConnection(unwrap(connection) as InnerConnection)
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof CockroachConnection ? connection.inner : connection
}

function setInTransaction(connection: DatabaseConnection, value: boolean): void {
  if (connection instanceof CockroachConnection) {
    connection.inTransaction = value
  }
}

// pg-cursor takes per-cursor type parsers as its third constructor argument.
function withTypes(
  cursor: PostgresCursorConstructor | undefined,
  types: PgTypeOverrides | undefined,
): PostgresCursorConstructor | undefined {
  if (cursor === undefined || types === undefined) {
    return cursor
  }
  const Base = cursor as unknown as new (sql: string, parameters: unknown[], config: object) => PostgresCursor<unknown>
  return class extends Base {
    constructor(sql: string, parameters: unknown[]) {
      super(sql, parameters, { types })
    }
  } as unknown as PostgresCursorConstructor
}
