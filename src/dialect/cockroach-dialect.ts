import pg from 'pg'
import { CompiledQuery } from 'kysely'
import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, PostgresPool, QueryCompiler } from 'kysely'
import { CockroachAdapter } from './cockroach-adapter.js'
import type { CockroachDialectConfig } from './cockroach-dialect-config.js'
import { CockroachDriver } from './cockroach-driver.js'
import { CockroachIntrospector } from './cockroach-introspector.js'
import { CockroachQueryCompiler } from './cockroach-query-compiler.js'
import { createInt8TypeOverrides, INT8_MODES } from '../connection/int8-type-parsers.js'
import type { PgTypeOverrides } from '../connection/int8-type-parsers.js'
import { parseConnectionString } from '../connection/parse-connection-string.js'
import { quoteLiteral } from '../util/sql-quoting.js'

/** The `application_name` of connections in pools this dialect builds, unless configured. */
export const DEFAULT_APPLICATION_NAME = 'kysely-cockroachdb'

/**
 * Kysely dialect for CockroachDB, on node-postgres.
 *
 * ```ts
 * import Cursor from 'pg-cursor'
 * import { Kysely } from 'kysely'
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * const db = new Kysely<DB>({
 *   dialect: new CockroachDialect({
 *     connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable',
 *     cursor: Cursor,
 *   }),
 * })
 * ```
 */
export class CockroachDialect implements Dialect {
  readonly #config: CockroachDialectConfig
  readonly #createPool: () => Promise<PostgresPool>
  readonly #types: PgTypeOverrides | undefined
  // Kysely creates a driver and then the adapter for each instance; the adapter renews migration
  // leases with connections configured like that driver's pool.
  #lastDriver: CockroachDriver | undefined

  constructor(config: CockroachDialectConfig) {
    if (typeof config !== 'object' || config === null) {
      throw new TypeError('CockroachDialect: expected a config object, e.g. { connectionString, cursor }')
    }
    this.#config = Object.freeze({ ...config })
    validateConfig(this.#config)
    this.#createPool = poolFactory(this.#config)
    this.#types = this.#config.int8 === undefined ? undefined : createInt8TypeOverrides(this.#config.int8)
  }

  createDriver(): Driver {
    const { cursor, copyFrom, onCreateConnection, onReserveConnection, applicationName, pool } = this.#config
    // A pool the dialect builds gets application_name as a startup parameter; a pool the user
    // built keeps its own unless applicationName is given explicitly.
    const setApplicationName = pool !== undefined && applicationName !== undefined
    return (this.#lastDriver = new CockroachDriver({
      createPool: this.#createPool,
      cursor,
      copyFrom,
      types: this.#types,
      onCreateConnection: setApplicationName
        ? async (connection, options) => {
            await connection.executeQuery(CompiledQuery.raw(`set application_name = ${quoteLiteral(applicationName)}`))
            await onCreateConnection?.(connection, options)
          }
        : onCreateConnection,
      onReserveConnection,
    }))
  }

  createQueryCompiler(): QueryCompiler {
    return new CockroachQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    const driver = this.#lastDriver
    return new CockroachAdapter(this.#config.migrationLock, driver === undefined ? this.#createPool : () => driver.pool())
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new CockroachIntrospector(db, this.#config.introspection)
  }
}

function validateConfig(config: CockroachDialectConfig): void {
  const hasPool = config.pool !== undefined
  const hasUrl = config.connectionString !== undefined
  if (hasPool && (hasUrl || config.poolConfig !== undefined)) {
    throw new TypeError(
      'CockroachDialect: give either `pool` or `connectionString`/`poolConfig`, not both: a pool you built ' +
        'already has its connection settings.',
    )
  }
  if (!hasPool && !hasUrl && config.poolConfig === undefined) {
    throw new TypeError(
      "CockroachDialect: give `connectionString` (e.g. 'postgresql://root@localhost:26257/defaultdb?sslmode=disable') " +
        'or a `pool` (a pg.Pool).',
    )
  }
  if (hasPool && typeof config.pool !== 'function' && typeof (config.pool as PostgresPool).connect !== 'function') {
    throw new TypeError('CockroachDialect: `pool` must be a pg.Pool or an async function returning one.')
  }
  if (config.int8 !== undefined && !INT8_MODES.includes(config.int8)) {
    throw new TypeError(
      `CockroachDialect: unknown int8 mode '${String(config.int8)}'. Use one of: ${INT8_MODES.join(', ')}.`,
    )
  }
  if (config.applicationName !== undefined) {
    if (typeof config.applicationName !== 'string' || /[\0-\x1f]/.test(config.applicationName)) {
      throw new TypeError('CockroachDialect: applicationName must be a string without control characters.')
    }
  }
  if (config.connectionString !== undefined) {
    // Parse now so a bad URL fails at construction, not at the first query.
    parseConnectionString(config.connectionString)
  }
}

function poolFactory(config: CockroachDialectConfig): () => Promise<PostgresPool> {
  const { pool } = config
  if (typeof pool === 'function') {
    return pool
  }
  if (pool !== undefined) {
    return async () => pool
  }
  const parsed = config.connectionString === undefined ? undefined : parseConnectionString(config.connectionString)
  return async () => {
    const { sslmode: _sslmode, ...fromUrl } = parsed ?? { ssl: undefined }
    const options = {
      ...stripUndefined(fromUrl),
      application_name: parsed?.application_name ?? config.applicationName ?? DEFAULT_APPLICATION_NAME,
      ...config.poolConfig,
    }
    if (config.applicationName !== undefined) {
      options.application_name = config.applicationName
    }
    const pool = new pg.Pool(options)
    // pg-pool emits `error` on the pool when the server ends an idle connection (57P01 during a
    // CockroachDB rolling restart or node drain, a load balancer timeout) and has already dropped
    // that client; unheard, the event would crash the process. Nobody else can reach this pool to
    // listen, and the next query simply opens a new connection.
    pool.on('error', () => undefined)
    return pool as unknown as PostgresPool
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
