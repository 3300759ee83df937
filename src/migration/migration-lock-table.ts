import type { MigrationLockOptions } from 'kysely'
import { ownSqlState } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'
import { quoteIdentifier, quoteLiteral } from '../util/sql-quoting.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

/** Runs one statement and returns its rows; the adapter has one per session it uses. @internal */
export interface LeaseSqlRunner {
  query(sql: string, parameters: readonly unknown[]): Promise<ReadonlyArray<Readonly<Record<string, unknown>>>>
}

/** Who holds the lock row, by the server's clock. @internal */
export interface LeaseHolder {
  readonly owner: string | undefined
  readonly expiresAt: Date | undefined
  readonly serverNow: Date
}

/** Names of the columns the lease adds to Kysely's lock table (which only has `id` and `is_locked`). @internal */
export const LEASE_OWNER_COLUMN = 'lease_owner'
/** @internal */
export const LEASE_EXPIRES_AT_COLUMN = 'lease_expires_at'

/**
 * The SQL of the lease on Kysely's migration lock row. Every statement is a single-row, single
 * statement (implicit) transaction, and every expiry is computed with the server's `now()`, so
 * migrators on machines with skewed clocks agree on when a lease has run out.
 *
 * @internal
 */
export class MigrationLockTable {
  /** The table as written in SQL: schema-qualified, and database-qualified on CockroachDB. */
  readonly sql: string
  readonly rowId: string

  private constructor(sql: string, rowId: string) {
    this.sql = sql
    this.rowId = rowId
  }

  /**
   * Qualifies the lock table on the migration connection, so that other sessions (which do not
   * run the user's `onCreateConnection` hooks, and on CockroachDB may default to another
   * database) address the same table.
   */
  static async resolve(runner: LeaseSqlRunner, options: MigrationLockOptions): Promise<MigrationLockTable> {
    const [row] = await runner.query('select current_database() as database, current_schema() as schema, version() as version', [])
    const schema = options.lockTableSchema ?? row?.schema
    if (typeof schema !== 'string' || schema === '') {
      throw new KyselyCockroachError(
        `CockroachAdapter.acquireMigrationLock: cannot tell which schema the migration lock table '${options.lockTable}' ` +
          "is in: current_schema() is empty and the Migrator was given no migrationTableSchema. Set the connection's " +
          'search_path to an existing schema, or pass migrationTableSchema to the Migrator.',
      )
    }
    const parts = [schema, options.lockTable]
    // CockroachDB lets a session switch databases (SET database), PostgreSQL does not and rejects
    // three-part names for other databases, so only CockroachDB gets the database prefix.
    if (typeof row?.version === 'string' && row.version.startsWith('CockroachDB') && typeof row.database === 'string') {
      parts.unshift(row.database)
    }
    return new MigrationLockTable(parts.map(quoteIdentifier).join('.'), options.lockRowId)
  }

  /** Whether the lease columns exist (false on a lock table Kysely just created). */
  async hasLeaseColumns(runner: LeaseSqlRunner): Promise<boolean> {
    try {
      await runner.query(`select ${LEASE_OWNER_COLUMN}, ${LEASE_EXPIRES_AT_COLUMN} from ${this.sql} where false`, [])
      return true
    } catch (error) {
      if (ownSqlState(error) === SqlState.UndefinedColumn) {
        return false
      }
      throw error
    }
  }

  /**
   * The schema changes that add the lease columns, one per statement: CockroachDB runs each
   * schema change as a job and recommends one per transaction (docs: online-schema-changes),
   * and `IF NOT EXISTS` makes each safe to repeat when several migrators race to add them.
   */
  addLeaseColumnStatements(): readonly string[] {
    return [
      `alter table ${this.sql} add column if not exists ${LEASE_OWNER_COLUMN} varchar(255)`,
      `alter table ${this.sql} add column if not exists ${LEASE_EXPIRES_AT_COLUMN} timestamptz`,
    ]
  }

  /**
   * Takes the lease if nobody holds an unexpired one. Taking it again under the same owner id is
   * allowed, so that retrying after an ambiguous result cannot make a migrator wait for itself.
   * Returns whether this owner now holds the lease.
   */
  async tryAcquire(runner: LeaseSqlRunner, owner: string, leaseDurationMs: number): Promise<boolean> {
    const rows = await runner.query(
      `update ${this.sql} set is_locked = 1, ${LEASE_OWNER_COLUMN} = $1, ` +
        `${LEASE_EXPIRES_AT_COLUMN} = now() + $2::interval ` +
        `where id = $3 and (${LEASE_OWNER_COLUMN} is null or ${LEASE_EXPIRES_AT_COLUMN} is null ` +
        `or ${LEASE_EXPIRES_AT_COLUMN} <= now() or ${LEASE_OWNER_COLUMN} = $1) returning id`,
      [owner, toInterval(leaseDurationMs), this.rowId],
    )
    return rows.length === 1
  }

  /** Extends the lease if `owner` still holds it; false means it was lost. */
  async renew(runner: LeaseSqlRunner, owner: string, leaseDurationMs: number): Promise<boolean> {
    const rows = await runner.query(
      `update ${this.sql} set ${LEASE_EXPIRES_AT_COLUMN} = now() + $1::interval ` +
        `where id = $2 and ${LEASE_OWNER_COLUMN} = $3 returning id`,
      [toInterval(leaseDurationMs), this.rowId, owner],
    )
    return rows.length === 1
  }

  /** Clears the lease if `owner` still holds it; false means it was lost. */
  async release(runner: LeaseSqlRunner, owner: string): Promise<boolean> {
    const rows = await runner.query(
      `update ${this.sql} set is_locked = 0, ${LEASE_OWNER_COLUMN} = null, ${LEASE_EXPIRES_AT_COLUMN} = null ` +
        `where id = $1 and ${LEASE_OWNER_COLUMN} = $2 returning id`,
      [this.rowId, owner],
    )
    return rows.length === 1
  }

  /** The current holder, or `undefined` if the lock row does not exist. */
  async readHolder(runner: LeaseSqlRunner): Promise<LeaseHolder | undefined> {
    const [row] = await runner.query(
      `select ${LEASE_OWNER_COLUMN} as owner, ${LEASE_EXPIRES_AT_COLUMN} as expires_at, now() as server_now ` +
        `from ${this.sql} where id = $1`,
      [this.rowId],
    )
    if (row === undefined) {
      return undefined
    }
    return Object.freeze({
      owner: typeof row.owner === 'string' ? row.owner : undefined,
      expiresAt: toDate(row.expires_at),
      serverNow: toDate(row.server_now) ?? new Date(),
    })
  }

  /** The statement an operator can run to clear a stale lease by hand. */
  clearStatement(): string {
    return (
      `UPDATE ${this.sql} SET is_locked = 0, ${LEASE_OWNER_COLUMN} = NULL, ${LEASE_EXPIRES_AT_COLUMN} = NULL ` +
      `WHERE id = ${quoteLiteral(this.rowId)}`
    )
  }
}

// Both servers parse PostgreSQL's traditional interval syntax with a `milliseconds` unit
// (CockroachDB: pkg/util/duration/parse.go, unitMap), so whole milliseconds need no float maths.
function toInterval(ms: number): string {
  return `${ms} milliseconds`
}

// Global pg type parsers may turn timestamptz into strings; accept both.
function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) {
    return value
  }
  if (typeof value === 'string' || typeof value === 'number') {
    const date = new Date(value)
    return Number.isNaN(date.getTime()) ? undefined : date
  }
  return undefined
}
