// The fence's own insert must never be what makes it answer "committed" (review of issue 12,
// finding 1): COMMIT is cut before it reaches the server (the transaction never commits), then the
// fence's insert is cut after the server's reply. Had the fence committed its own row, the next
// fence would meet that row (23505) and report "committed" for a transaction that never did: the
// callback's write lost while withRetry returns its result.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { Kysely } from 'kysely'
import { CockroachDialect, withRetry } from '../../../src/index.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { TcpProxy } from '../../harness/tcp-proxy.js'

interface DB {
  item: { id: number; label: string }
  kysely_cockroachdb_commit_marker: { id: string; created_at: Date }
}

const isMarkerInsert = (text: string) => text.startsWith('insert into "kysely_cockroachdb_commit_marker"')

describe('resolveAmbiguousCommits: the fence never counts its own row', { timeout: 60_000 }, () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'fence_own_row')
    proxy = await TcpProxy.forUrl(database.url)
    db = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: proxy.url(database.url), applicationName: 'fence-own-row' }) })
    await db.schema
      .createTable('item')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('label', 'text')
      .execute()
    // The marker table exists before the cuts (created on first use).
    await withRetry(db, async (trx) => void (await trx.insertInto('item').values({ id: 100, label: 'setup' }).execute()), {
      resolveAmbiguousCommits: true,
    })
  })

  afterEach(() => proxy.clearRules())

  after(async () => {
    await db?.destroy()
    await proxy?.close()
    await database?.drop()
  })

  it('COMMIT never arrives and the fence insert reply is lost: retried, applied once, no fence row kept', { timeout: 30_000 }, async () => {
    const markersBefore = Number(
      (
        await db
          .selectFrom('kysely_cockroachdb_commit_marker')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )
    let calls = 0
    const commitCut = proxy.cutOn({ match: (text) => text === 'commit', when: 'before-send' })
    // Armed as soon as COMMIT is cut: the next marker insert is the fence's.
    const fenceCut = commitCut.then(() => proxy.cutOn({ match: isMarkerInsert, when: 'after-server-reply' }))
    const result = await withRetry(
      db,
      async (trx) => {
        calls++
        await trx.insertInto('item').values({ id: 1, label: 'one' }).execute()
        return 'inserted 1'
      },
      { resolveAmbiguousCommits: true, baseDelayMs: 1 },
    )
    await commitCut
    await fenceCut
    const rows = await db.selectFrom('item').selectAll().where('id', '=', 1).execute()
    assert.equal(result, 'inserted 1')
    assert.equal(rows.length, 1, `withRetry returned success but the row is missing (calls=${calls})`)
    assert.equal(calls, 2)
    const markersAfter = Number(
      (
        await db
          .selectFrom('kysely_cockroachdb_commit_marker')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )
    // Only attempt 2's marker: the fences rolled back.
    assert.equal(markersAfter, markersBefore + 1)
  })
})
