import type { DatabaseConnection, PostgresCursorConstructor, PostgresPool } from 'kysely'
import type { PoolConfig } from 'pg'
import type { CockroachIntrospectorOptions } from './cockroach-introspector.js'
import type { CopyFromFunction } from '../bulk-writes/bulk-write-options.js'
import type { Int8Mode } from '../connection/int8-type-parsers.js'
import type { MigrationLeaseOptions } from '../migration/migration-lease-options.js'
import type { ClusterNodeAddress } from '../cluster/cluster-nodes.js'
import type { ClusterOptions } from '../cluster/cluster-options.js'

/**
 * Options for {@link CockroachDialect}. Give either `pool` or `connectionString` (optionally with
 * `poolConfig`).
 *
 * ```ts
 * import Cursor from 'pg-cursor'
 * import { Kysely } from 'kysely'
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * const db = new Kysely<DB>({
 *   dialect: new CockroachDialect({
 *     connectionString: process.env.DATABASE_URL, // e.g. postgresql://root@localhost:26257/defaultdb?sslmode=disable
 *     poolConfig: { max: 20 },
 *     cursor: Cursor,
 *     int8: 'bigint',
 *   }),
 * })
 * ```
 */
export interface CockroachDialectConfig {
  /**
   * A `pg.Pool`, or an async function that returns one (called once, on first use), as for Kysely's
   * `PostgresDialect`. Its connection settings are used as they are: `connectionString`,
   * `poolConfig` and `applicationName` (unless given explicitly) do not apply.
   */
  readonly pool?: PostgresPool | (() => Promise<PostgresPool>)
  /**
   * A `postgresql://`, `postgres://` or `cockroachdb://` URL. `sslmode` has libpq's meaning
   * (`disable`, `require`, `verify-ca`, `verify-full`); `sslrootcert`, `sslcert`/`sslkey`,
   * `options` (e.g. `--cluster=<routing-id>`), `application_name` and `connect_timeout` are
   * understood. See {@link parseConnectionString}.
   */
  readonly connectionString?: string
  /**
   * Extra `pg.Pool` options (`max`, `idleTimeoutMillis`, `statement_timeout`, ...) for the pool
   * built from `connectionString`. Connection settings given here win over the URL's.
   */
  readonly poolConfig?: Readonly<Omit<PoolConfig, 'connectionString' | 'types'>>
  /** The `pg-cursor` class. Needed for `stream()` outside transactions. */
  readonly cursor?: PostgresCursorConstructor
  /** pg-copy-streams' `from` (`import { from } from 'pg-copy-streams'`). Needed for {@link copyInto}. */
  readonly copyFrom?: CopyFromFunction
  /**
   * Called once for every new connection. On kysely 0.29 `options` holds the abort signal of the
   * operation that took the connection, as PostgresDialect passes it; kysely 0.28 passes none.
   */
  readonly onCreateConnection?: (connection: DatabaseConnection, options?: { readonly signal?: AbortSignal }) => Promise<void>
  /** Called every time a connection is taken from the pool; `options` as for `onCreateConnection`. */
  readonly onReserveConnection?: (connection: DatabaseConnection, options?: { readonly signal?: AbortSignal }) => Promise<void>
  /**
   * `application_name` of every connection (visible in CockroachDB's DB Console and
   * `SHOW SESSIONS`). Defaults to `kysely-cockroachdb` for pools this dialect builds.
   */
  readonly applicationName?: string
  /** How INT8 values are returned. Defaults to `'string'`. See {@link Int8Mode}. */
  readonly int8?: Int8Mode
  /**
   * Options of the introspector behind `db.introspection` (used by the Migrator and by
   * `kysely-cockroachdb codegen`), e.g. `{ includeHiddenColumns: true }` to list `rowid` and other
   * `NOT VISIBLE` columns.
   */
  readonly introspection?: CockroachIntrospectorOptions
  /**
   * The cluster's nodes, replacing the host of `connectionString` (which still gives the user,
   * password, database and TLS settings): `'n1'`, `'n1:26257'`, `'[::1]:26257'` or `{ host, port }`.
   * A connection string may list the nodes itself instead, as libpq does:
   * `postgresql://app@n1:26257,n2:26257,n3:26257/bank`. See docs/clusters.md.
   */
  readonly nodes?: ReadonlyArray<ClusterNodeAddress>
  /** How the pool spreads and recycles connections over the nodes. See {@link ClusterOptions}. */
  readonly cluster?: ClusterOptions
  /** Tuning of the migration lock lease used by Kysely's `Migrator`. */
  readonly migrationLock?: MigrationLeaseOptions
}
