import pg from 'pg'
import { CompiledQuery } from 'kysely'
import type { PostgresPool } from 'kysely'
import type { CockroachDialectConfig } from '../dialect/cockroach-dialect-config.js'
import { INT8_MODES } from './int8-type-parsers.js'
import { parseConnectionString, readConnectionString } from './parse-connection-string.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { describeValue } from '../util/describe-value.js'
import { quoteLiteral } from '../util/sql-quoting.js'
import { DEFAULT_MAX_LIFETIME_MS } from '../cluster/cluster-options.js'

/** The `application_name` of connections in pools this dialect builds, unless configured. */
export const DEFAULT_APPLICATION_NAME = 'kysely-cockroachdb'

/**
 * Checks the connection settings of a dialect config (`pool` or `connectionString`/`poolConfig`,
 * `int8`, `applicationName`) when the dialect is created, so that a bad one fails there and not at
 * the first query.
 *
 * @internal
 */
export function validatePoolConfig(config: CockroachDialectConfig, checked: { readonly connectionStringParsed?: boolean } = {}): void {
  const hasPool = config.pool !== undefined
  const hasUrl = config.connectionString !== undefined
  if (hasPool && (hasUrl || config.poolConfig !== undefined)) {
    throw new QueryRefusedError(
      'CockroachDialect',
      'give either `pool` or `connectionString`/`poolConfig`, not both: a pool you built already has its connection settings',
      'drop one of them',
    )
  }
  if (!hasPool && !hasUrl && config.poolConfig === undefined && config.nodes === undefined) {
    throw new QueryRefusedError(
      'CockroachDialect',
      'no connection settings were given',
      "give `connectionString` (e.g. 'postgresql://root@localhost:26257/defaultdb?sslmode=disable') or a `pool` (a pg.Pool)",
    )
  }
  if (hasPool && typeof config.pool !== 'function' && typeof (config.pool as PostgresPool).connect !== 'function') {
    throw new QueryRefusedError(
      'CockroachDialect',
      '`pool` must be a pg.Pool or an async function returning one',
      'pass the pool the application built, or give connectionString instead',
    )
  }
  if (config.int8 !== undefined && !INT8_MODES.includes(config.int8)) {
    throw new QueryRefusedError(
      'CockroachDialect',
      `unknown int8 mode ${describeValue(config.int8)}`,
      `use one of: ${INT8_MODES.join(', ')}`,
    )
  }
  if (config.applicationName !== undefined) {
    if (typeof config.applicationName !== 'string' || /[\0-\x1f]/.test(config.applicationName)) {
      throw new QueryRefusedError(
        'CockroachDialect',
        'applicationName must be a string without control characters',
        "give a printable name such as 'billing-worker'",
      )
    }
  }
  // A cluster's connection string (several hosts, or with `nodes`) was parsed node by node by
  // src/cluster/cluster-nodes.ts already.
  if (config.connectionString !== undefined && checked.connectionStringParsed !== true) {
    // Parse now so a bad URL fails at construction, not at the first query.
    readConnectionString(config.connectionString, 'CockroachDialect')
  }
}

/**
 * The pool factory the driver calls on its first query: the user's (a factory, or a pool wrapped
 * in one), or one building a `pg.Pool` from `connectionString`, `poolConfig` and
 * `applicationName`.
 *
 * @internal
 */
export function poolFactory(config: CockroachDialectConfig): () => Promise<PostgresPool> {
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
      // A lifetime cap by default, as CockroachDB advises for every pool (/docs/stable/connection-pooling,
      // "Set the maximum lifetime of connections"): behind a load balancer, the only way connections
      // move to a node that restarted. pg-pool's maxLifetimeSeconds (pg-pool >= 3.5.0; pg 8.11.0, the
      // peer floor, requires ^3.6.0) is one value for every client, so on one host there is no
      // jitter; `cluster: {}` selects the cluster pool, which has it (docs/clusters.md).
      maxLifetimeSeconds: DEFAULT_MAX_LIFETIME_MS / 1000,
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

/**
 * The driver's `onCreateConnection`: the user's hook, preceded by `set application_name` on a pool
 * the user built when `applicationName` is given.
 *
 * @internal
 */
export function createConnectionHook(config: CockroachDialectConfig): CockroachDialectConfig['onCreateConnection'] {
  const { onCreateConnection, applicationName, pool } = config
  // A pool the dialect builds gets application_name as a startup parameter; a pool the user
  // built keeps its own unless applicationName is given explicitly.
  const setApplicationName = pool !== undefined && applicationName !== undefined
  return setApplicationName
    ? async (connection, options) => {
        await connection.executeQuery(CompiledQuery.raw(`set application_name = ${quoteLiteral(applicationName)}`))
        await onCreateConnection?.(connection, options)
      }
    : onCreateConnection
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
