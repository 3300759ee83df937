// The marker table created by several processes at once (review of issue 12, finding 2): each
// CockroachDialect below has a pool of its own, as separate processes would. On PostgreSQL racing
// CREATE TABLE IF NOT EXISTS fails the losers with 23505 (pg_type_typname_nsp_index), 42710 or
// 42P07; withRetry must take that as "another process created it" and carry on.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, withRetry } from '../../../src/index.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

describe('marker table creation racing across processes', { timeout: 120_000 }, () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase(postgresTarget, 'marker_table_race')
  })
  after(async () => {
    await database?.drop()
  })

  it('eight pools start at once on a database without the table, fifteen times: none fails', async () => {
    const failures: string[] = []
    for (let round = 0; round < 15; round++) {
      const dbs = Array.from(
        { length: 8 },
        () => new Kysely<unknown>({ dialect: new CockroachDialect({ connectionString: database.url }) }),
      )
      try {
        await sql`drop table if exists kysely_cockroachdb_commit_marker`.execute(dbs[0] as Kysely<unknown>)
        const results = await Promise.allSettled(dbs.map((db) => withRetry(db, async () => 1, { resolveAmbiguousCommits: true })))
        for (const result of results)
          if (result.status === 'rejected') failures.push(String((result.reason as Error).message).slice(0, 200))
      } finally {
        await Promise.all(dbs.map((db) => db.destroy()))
      }
    }
    assert.deepEqual(failures, [])
  })
})
