// The cluster pool and resolveAmbiguousCommits on a real CockroachDB (GitHub Actions; skipped
// without COCKROACH_URL). The CI node is a single node, so the multi-host URL names it twice; the
// fence cases hold a transaction open on one connection and insert its marker id from another.
// Written here, type-checked, not run locally (no CockroachDB on this machine).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, getSqlState, SqlState, withRetry } from '../../../src/index.js'
import { cockroachSkip, cockroachTarget, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  item: { id: number }
}

describe('clusters on CockroachDB', { skip: cockroachSkip, timeout: 180_000 }, () => {
  let database: TestDatabase
  let db: Kysely<DB>
  let dialect: CockroachDialect

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'cluster')
    const url = new URL(database.url)
    const hostPort = `${url.hostname}:${url.port || 26257}`
    const twice = database.url.replace(`@${url.host}`, `@${hostPort},${hostPort}`)
    dialect = new CockroachDialect({ connectionString: twice })
    db = new Kysely<DB>({ dialect })
    await db.schema
      .createTable('item')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute()
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  it('a multi-host URL naming the node twice works, with two entries in nodeStatus()', async () => {
    await Promise.all(Array.from({ length: 4 }, () => db.connection().execute((c) => sql`select pg_sleep(0.05)`.execute(c))))
    const status = dialect.nodeStatus()
    assert.equal(status.length, 2)
    assert.notEqual(status[0]!.node, status[1]!.node, 'duplicate nodes need distinct keys')
    assert.ok(status.every((n) => n.state === 'up' && n.total > 0))
  })

  it('creates the marker table with a row-level TTL and leaves one marker per transaction', async () => {
    await withRetry(db, (trx) => trx.insertInto('item').values({ id: 1 }).execute(), { resolveAmbiguousCommits: true })
    const { rows } = await sql<{
      create_statement: string
    }>`select create_statement from [show create table kysely_cockroachdb_commit_marker]`.execute(db)
    assert.match(rows[0]!.create_statement, /ttl_expire_after = '1 day'/)
    const markers = await sql<{ n: string }>`select count(*)::string as n from kysely_cockroachdb_commit_marker`.execute(db)
    assert.equal(markers.rows[0]!.n, '1')
  })

  it('the fence: 55P03 while the original is open, 23505 once it committed, inserted once it rolled back', async () => {
    const a = new pg.Client({ connectionString: database.url })
    const b = new pg.Client({ connectionString: database.url })
    await Promise.all([a.connect(), b.connect()])
    try {
      const insert = 'insert into kysely_cockroachdb_commit_marker ("id") values ($1)'
      for (const ending of ['commit', 'rollback'] as const) {
        const marker = crypto.randomUUID()
        await a.query('begin')
        await a.query(insert, [marker])
        await b.query(`set lock_timeout = '500ms'`)
        await assert.rejects(b.query(insert, [marker]), (error: unknown) => getSqlState(error) === SqlState.LockNotAvailable)
        await a.query(ending)
        await b.query(`reset lock_timeout`)
        if (ending === 'commit') {
          await assert.rejects(b.query(insert, [marker]), (error: unknown) => getSqlState(error) === SqlState.UniqueViolation)
        } else {
          await b.query(insert, [marker])
        }
      }
    } finally {
      await Promise.all([a.end(), b.end()])
    }
  })
})
