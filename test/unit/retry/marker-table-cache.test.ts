// The marker table is set up once per Kysely and everything derived from it (review of issue 12,
// finding 4): db.withSchema(), withPlugin() and withoutPlugins() return new Kysely instances that
// share the dialect's adapter and connections. A recording driver stands in for the server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CamelCasePlugin, DefaultQueryCompiler, Kysely, PostgresAdapter, PostgresIntrospector } from 'kysely'
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely'
import { ensureMarkerTable } from '../../../src/retry/marker-table.js'

function recordingDialect(sent: string[]): Dialect {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query.sql)
      const rows = query.sql.startsWith('select version()') ? [{ version: 'PostgreSQL 16.4' }] : []
      return { rows: rows as R[] }
    },
    async *streamQuery() {
      yield { rows: [] }
    },
  }
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      return connection
    },
    async beginTransaction() {},
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {},
  }
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new DefaultQueryCompiler(),
  }
}

describe('ensureMarkerTable', () => {
  it('creates the table once for a Kysely and the instances derived from it', async () => {
    const sent: string[] = []
    const db = new Kysely<unknown>({ dialect: recordingDialect(sent) })
    await ensureMarkerTable(db)
    await ensureMarkerTable(db.withSchema('other'))
    await ensureMarkerTable(db.withPlugin(new CamelCasePlugin()))
    await ensureMarkerTable(db.withoutPlugins())
    await ensureMarkerTable(db)
    assert.equal(sent.filter((text) => text.startsWith('create table')).length, 1, sent.join('\n'))
    await db.destroy()
  })

  it('a separate Kysely sets it up again', async () => {
    const sent: string[] = []
    const dialect = recordingDialect(sent)
    const first = new Kysely<unknown>({ dialect })
    const second = new Kysely<unknown>({ dialect })
    await ensureMarkerTable(first)
    await ensureMarkerTable(second)
    assert.equal(sent.filter((text) => text.startsWith('create table')).length, 2)
  })
})
