// Where the integration tests run: the throwaway PostgreSQL that `npm test` starts (PG_URL), and
// CockroachDB when COCKROACH_URL is set. Each test file works in databases of its own.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { Kysely } from 'kysely'
import type { KyselyConfig } from 'kysely'
import { CockroachDialect } from '../../src/index.js'
import type { CockroachDialectConfig } from '../../src/index.js'
import { queryOnce } from './query-once.js'

export interface Target {
  readonly name: 'postgres' | 'cockroachdb'
  /** URL of the server's default database, for creating and dropping test databases. */
  readonly adminUrl: string
  readonly isCockroach: boolean
}

function requireEnv(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts the servers.`)
  }
  return value
}

export const postgresTarget: Target = Object.freeze({
  name: 'postgres',
  get adminUrl() {
    return requireEnv('PG_URL')
  },
  isCockroach: false,
})

export const cockroachTarget: Target | undefined = process.env.COCKROACH_URL
  ? Object.freeze({ name: 'cockroachdb', adminUrl: process.env.COCKROACH_URL, isCockroach: true })
  : undefined

/**
 * For `describe(..., { skip: cockroachSkip })`: false when CockroachDB is available, else the reason,
 * which node:test prints next to the skipped suite.
 */
export const cockroachSkip: false | string = cockroachTarget
  ? false
  : process.env.COCKROACH_SKIP_REASON || 'CockroachDB suite skipped: COCKROACH_URL is not set'

/** PostgreSQL always, CockroachDB when available: for tests both servers must pass. */
export const allTargets: readonly Target[] = cockroachTarget ? [postgresTarget, cockroachTarget] : [postgresTarget]

export interface TestDatabase {
  readonly target: Target
  readonly name: string
  /** Connection string of the new database. */
  readonly url: string
  /** Drops the database (closing nothing: destroy your Kysely/pools first). */
  drop(): Promise<void>
}

/** Creates an empty database named after `label` with a random suffix. */
export async function createTestDatabase(target: Target, label: string): Promise<TestDatabase> {
  const name = `t_${label
    .replace(/[^a-z0-9]+/gi, '_')
    .toLowerCase()
    .slice(0, 40)}_${randomBytes(4).toString('hex')}`
  await adminQuery(target, `create database ${name}`)
  const url = new URL(target.adminUrl)
  url.pathname = `/${name}`
  return Object.freeze({
    target,
    name,
    url: url.toString(),
    drop: async () => {
      if (target.isCockroach) {
        await adminQuery(target, `drop database if exists ${name} cascade`)
      } else {
        await adminQuery(target, `drop database if exists ${name} with (force)`)
      }
    },
  })
}

/** Runs one statement on the server's default database. */
export async function adminQuery(target: Target, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  return await queryOnce(target.adminUrl, text, values)
}

/** A Kysely instance on CockroachDialect for `database`, with pg-cursor for streaming. */
export function createKysely<DB>(
  database: TestDatabase,
  dialectConfig: Partial<CockroachDialectConfig> = {},
  kyselyConfig: Omit<KyselyConfig, 'dialect'> = {},
): Kysely<DB> {
  return new Kysely<DB>({
    ...kyselyConfig,
    dialect: new CockroachDialect({
      connectionString: database.url,
      cursor: Cursor,
      ...dialectConfig,
    }),
  })
}
