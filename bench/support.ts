// Connections for the benchmark workloads: a database of their own on the suite's throwaway server,
// and the three contenders built the same way (same pool size, same cursor class, unnamed statements).
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { CockroachDialect } from '../src/index.js'

export interface BenchDatabase {
  readonly url: string
  drop(): Promise<void>
}

/** Creates (or re-creates) database `name` on the server at `serverUrl`. */
export async function createBenchDatabase(serverUrl: string, name: string): Promise<BenchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    throw new Error(`benchmark database name must be a lower-case identifier, got ${JSON.stringify(name)}`)
  }
  await adminQuery(serverUrl, `drop database if exists ${name} with (force)`)
  await adminQuery(serverUrl, `create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => dropDatabase(serverUrl, name) }
}

/**
 * Drops without `with (force)`: pools resolve `end()` before their sessions are gone from the server,
 * and a forced drop would then fail those closing connections with an unhandled `error` event.
 */
async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(serverUrl, `drop database if exists ${name}`)
      return
    } catch (error) {
      // 55006 object_in_use: sessions of a just-closed pool are still on their way out.
      const inUse = (error as { code?: unknown }).code === '55006'
      if (!inUse || attempt >= 100) {
        throw error
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/**
 * A plain `pg.Pool`. Neither pg's `pool.query(text, values)` nor Kysely names its statements, so
 * every contender sends unnamed Parse/Bind/Execute messages for every query: the same work on the
 * server side, and the same number of round trips.
 */
export function rawPool(url: string, max: number): pg.Pool {
  return new pg.Pool({ connectionString: url, max })
}

/** Kysely on this package's `CockroachDialect`, with a pool of `max` connections. */
export function cockroachKysely<DB>(url: string, max: number): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new CockroachDialect({ connectionString: url, poolConfig: { max }, cursor: Cursor }),
  })
}

/**
 * Kysely on `CockroachDialect` with one host on the cluster pool (`cluster: {}` selects it): what a
 * single-host connection string would cost if it used the cluster pool (lifetime with jitter) rather
 * than pg.Pool.
 */
export function cockroachClusterKysely<DB>(url: string, max: number): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new CockroachDialect({ connectionString: url, poolConfig: { max }, cursor: Cursor, cluster: {} }),
  })
}

/** Kysely on its own `PostgresDialect`, with a pool of `max` connections. */
export function postgresKysely<DB>(url: string, max: number): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max }), cursor: Cursor }),
  })
}

/** The three contenders of the database workloads, closed together. */
export interface Contenders<DB> {
  readonly raw: pg.Pool
  readonly cockroach: Kysely<DB>
  readonly postgres: Kysely<DB>
  close(): Promise<void>
}

export function createContenders<DB>(url: string, poolSize: number): Contenders<DB> {
  const raw = rawPool(url, poolSize)
  const cockroach = cockroachKysely<DB>(url, poolSize)
  const postgres = postgresKysely<DB>(url, poolSize)
  return {
    raw,
    cockroach,
    postgres,
    close: async () => {
      await Promise.all([raw.end(), cockroach.destroy(), postgres.destroy()])
    },
  }
}
