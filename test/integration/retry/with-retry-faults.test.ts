// withRetry when connections die: a loopback TCP proxy between the pool and PostgreSQL cuts the
// connection that sends a given statement (before BEGIN, in the middle of the callback, while
// COMMIT or RELEASE is in flight), and another session kills a backend with pg_terminate_backend.
// The first kinds are retried; a commit in flight raises AmbiguousCommitError. Afterwards the pool
// works and has no client checked out or left behind.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { AmbiguousCommitError, CockroachDialect, withRetry } from '../../../src/index.js'
import type { RetryEvent, RetryStrategy } from '../../../src/index.js'
import { adminQuery, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { TcpProxy } from '../../harness/tcp-proxy.js'
import { waitFor } from '../../harness/wait-for.js'

interface DB {
  item: { id: number; label: string }
}

const isBegin = (text: string) => /^(begin|start transaction)\b/i.test(text)
const isInsert = (text: string) => text.startsWith('insert into "item"')

for (const strategy of ['restart', 'savepoint'] as const satisfies readonly RetryStrategy[]) {
  describe(`withRetry with connections cut by a proxy (${strategy} strategy)`, () => {
    let database: TestDatabase
    let proxy: TcpProxy
    let pool: pg.Pool
    let db: Kysely<DB>
    let retries: RetryEvent[]
    let calls: number

    before(async () => {
      database = await createTestDatabase(postgresTarget, `with_retry_faults_${strategy}`)
      proxy = await TcpProxy.forUrl(database.url)
      pool = new pg.Pool({ connectionString: proxy.url(database.url), max: 4 })
      // A pooled idle client whose connection drops emits 'error' on the pool; the tests cut
      // only connections in use, but an unhandled 'error' event would end the process.
      pool.on('error', () => {})
      db = new Kysely<DB>({ dialect: new CockroachDialect({ pool }) })
      await db.schema
        .createTable('item')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('label', 'text')
        .execute()
    })

    afterEach(async () => {
      proxy.clearRules()
      // The pool still works, nothing is checked out, and every client it holds has a live
      // connection through the proxy (the cut ones were destroyed, not pooled again).
      const { rows } = await sql<{ ok: number }>`select 1 as ok`.execute(db)
      assert.deepEqual(rows, [{ ok: 1 }])
      assert.equal(pool.totalCount, pool.idleCount, 'a client is still checked out')
      assert.equal(pool.waitingCount, 0)
      assert.equal(proxy.openConnections, pool.totalCount, 'a broken client went back to the pool')
    })

    after(async () => {
      await db?.destroy()
      await proxy?.close()
      await database?.drop()
    })

    async function insertItem(id: number, options: { idempotent?: boolean } = {}): Promise<string> {
      retries = []
      calls = 0
      return await withRetry(
        db,
        async (trx) => {
          calls++
          await trx
            .insertInto('item')
            .values({ id, label: `item ${id}` })
            .execute()
          return 'committed'
        },
        { strategy, baseDelayMs: 1, onRetry: (event) => void retries.push(event), ...options },
      )
    }

    async function itemIds(): Promise<number[]> {
      return (await db.selectFrom('item').select('id').orderBy('id').execute()).map((r) => r.id)
    }

    it('retries when the connection is cut before BEGIN reaches the server', async () => {
      const cut = proxy.cutOn({ match: isBegin, when: 'before-send' })
      assert.equal(await insertItem(1), 'committed')
      assert.match(await cut, /^begin/)
      assert.equal(calls, 1, 'the callback had not started when BEGIN failed')
      assert.equal(retries.length, 1)
      assert.match(String(retries[0]!.error), /Connection terminated/)
      assert.deepEqual(await itemIds(), [1])
    })

    it('retries when the connection is cut in the middle of the callback', async () => {
      const cut = proxy.cutOn({ match: isInsert, when: 'before-send' })
      assert.equal(await insertItem(2), 'committed')
      await cut
      assert.equal(calls, 2)
      assert.equal(retries.length, 1)
      assert.deepEqual(await itemIds(), [1, 2])
    })

    it('raises AmbiguousCommitError when the connection is cut while COMMIT is in flight, and does not retry', async () => {
      // The proxy swallows COMMIT: the server never commits, but the client cannot know that.
      const cut = proxy.cutOn({ match: (text) => text === 'commit', when: 'before-send' })
      const error = await insertItem(3).then(
        () => assert.fail('expected AmbiguousCommitError'),
        (e: unknown) => e,
      )
      await cut
      assert.ok(error instanceof AmbiguousCommitError)
      assert.equal(error.statement, 'commit')
      assert.match(String((error.cause as Error).message), /Connection terminated/)
      assert.equal(calls, 1)
      assert.equal(retries.length, 0)
      assert.deepEqual(await itemIds(), [1, 2])
    })

    it('raises AmbiguousCommitError when the server committed but its answer was lost: a retry would have written twice', async () => {
      const cut = proxy.cutOn({ match: (text) => text === 'commit', when: 'after-server-reply' })
      await assert.rejects(insertItem(4), AmbiguousCommitError)
      await cut
      assert.equal(calls, 1)
      // The write is there: the outcome really was unknown to the client, not a failure.
      assert.deepEqual(await itemIds(), [1, 2, 4])
    })

    it('retries a commit in doubt when the callback is idempotent', async () => {
      const cut = proxy.cutOn({ match: (text) => text === 'commit', when: 'before-send' })
      assert.equal(await insertItem(5, { idempotent: true }), 'committed')
      await cut
      assert.equal(calls, 2)
      assert.deepEqual(await itemIds(), [1, 2, 4, 5])
    })

    if (strategy === 'savepoint') {
      it('raises AmbiguousCommitError naming RELEASE when the connection is cut while RELEASE is in flight', async () => {
        const cut = proxy.cutOn({ match: (text) => text === 'release savepoint cockroach_restart', when: 'before-send' })
        await assert.rejects(insertItem(6), (e: unknown) => {
          assert.ok(e instanceof AmbiguousCommitError)
          assert.equal(e.statement, 'release savepoint cockroach_restart')
          return true
        })
        await cut
        assert.equal(calls, 1)
      })
    }

    it('retries after another session terminates the backend with pg_terminate_backend', async () => {
      retries = []
      let killed = false
      const result = await withRetry(
        db,
        async (trx, { attempt }) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
          if (attempt === 1) {
            const pid = rows[0]!.pid
            await adminQuery(postgresTarget, 'select pg_terminate_backend($1)', [pid])
            // Wait until the backend is gone, so the next statement meets a dead session.
            await waitFor(
              async () => (await adminQuery(postgresTarget, 'select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 0,
              {
                what: `backend ${pid} to exit`,
              },
            )
            killed = true
          }
          await trx.insertInto('item').values({ id: 7, label: 'after terminate' }).execute()
          return attempt
        },
        { strategy, baseDelayMs: 1, onRetry: (event) => void retries.push(event) },
      )
      assert.equal(killed, true)
      assert.equal(result, 2)
      assert.equal(retries.length, 1)
      const error = retries[0]!.error as { code?: string; message: string }
      assert.ok(error.code === '57P01' || /Connection terminated|not queryable/.test(error.message), error.message)
      assert.ok((await itemIds()).includes(7))
    })
  })
}
