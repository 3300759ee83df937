// withRetry's resolveAmbiguousCommits on PostgreSQL, with a TCP proxy that breaks the connection
// around COMMIT: after the server's reply (the server committed, the client never hears it), before
// COMMIT reaches the server (it never commits), and the race that breaks a plain read: COMMIT held
// in the proxy until the fence has started waiting, then delivered.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { Kysely } from 'kysely'
import { AmbiguousCommitError, CockroachDialect, withRetry } from '../../../src/index.js'
import type { RetryStrategy, WithRetryOptions } from '../../../src/index.js'
import { pollUntil } from '../../harness/cluster.js'
import { adminQuery, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { TcpProxy } from '../../harness/tcp-proxy.js'

interface DB {
  item: { id: number; label: string }
  account: { id: number; balance: number }
  kysely_cockroachdb_commit_marker: { id: string; created_at: Date }
}

const isCommit = (text: string) => text === 'commit'
// COMMIT_RESOLUTION_ROUNDS=20 runs every case 20 times in a row (the issue's bar).
const ROUNDS = Number(process.env.COMMIT_RESOLUTION_ROUNDS ?? 1)

for (let round = 1; round <= ROUNDS; round++)
  for (const strategy of ['restart', 'savepoint'] as const satisfies readonly RetryStrategy[]) {
    // A timeout on every case: a fence that never settles fails the case instead of hanging the run.
    describe(`resolveAmbiguousCommits (${strategy} strategy)${ROUNDS > 1 ? ` round ${round}` : ''}`, { timeout: 120_000 }, () => {
      let database: TestDatabase
      let proxy: TcpProxy
      let db: Kysely<DB>
      let calls: number
      let nextId = 1

      before(async () => {
        database = await createTestDatabase(postgresTarget, `commit_resolution_${strategy}`)
        proxy = await TcpProxy.forUrl(database.url)
        db = new Kysely<DB>({
          dialect: new CockroachDialect({ connectionString: proxy.url(database.url), applicationName: `commit-resolution-${strategy}` }),
        })
        await db.schema
          .createTable('item')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('label', 'text')
          .execute()
        await db.schema
          .createTable('account')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('balance', 'integer', (c) => c.notNull())
          .execute()
      })

      afterEach(() => proxy.clearRules())

      after(async () => {
        await db?.destroy()
        await proxy?.close()
        await database?.drop()
      })

      async function insertItem(id: number, options: WithRetryOptions = {}): Promise<string> {
        calls = 0
        return await withRetry(
          db,
          async (trx) => {
            calls++
            await trx
              .insertInto('item')
              .values({ id, label: `item ${id}` })
              .execute()
            return `inserted ${id}`
          },
          { strategy, baseDelayMs: 1, resolveAmbiguousCommits: true, ...options },
        )
      }

      const count = async (id: number) =>
        Number(
          (
            await db
              .selectFrom('item')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('id', '=', id)
              .executeTakeFirstOrThrow()
          ).n,
        )
      const markers = async () =>
        Number(
          (
            await db
              .selectFrom('kysely_cockroachdb_commit_marker')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        )

      it('creates the marker table and leaves one marker per committed transaction', async () => {
        const id = nextId++
        assert.equal(await insertItem(id), `inserted ${id}`)
        assert.equal(await markers(), 1)
        assert.equal(await count(id), 1)
      })

      it('cut after the server committed: returns the result without running the callback again', async () => {
        const id = nextId++
        const cut = proxy.cutOn({ match: isCommit, when: 'after-server-reply' })
        assert.equal(await insertItem(id), `inserted ${id}`)
        await cut
        assert.equal(calls, 1)
        assert.equal(await count(id), 1)
      })

      it('cut after the server committed, resolution off: AmbiguousCommitError', async () => {
        const id = nextId++
        const cut = proxy.cutOn({ match: isCommit, when: 'after-server-reply' })
        await assert.rejects(insertItem(id, { resolveAmbiguousCommits: false }), (error: unknown) => {
          assert.ok(error instanceof AmbiguousCommitError)
          assert.equal(error.resolution, 'off')
          return true
        })
        await cut
        assert.equal(calls, 1)
        assert.equal(await count(id), 1)
      })

      it('cut before COMMIT reached the server: settled as not committed, retried once, applied once', async () => {
        const id = nextId++
        const before = await markers()
        const cut = proxy.cutOn({ match: isCommit, when: 'before-send' })
        assert.equal(await insertItem(id), `inserted ${id}`)
        await cut
        assert.equal(calls, 2)
        assert.equal(await count(id), 1)
        // Attempt 2's marker only: the fence rolls its insert back.
        assert.equal(await markers(), before + 1)
      })

      it('cut before COMMIT reached the server, resolution off: AmbiguousCommitError, nothing applied', async () => {
        const id = nextId++
        const cut = proxy.cutOn({ match: isCommit, when: 'before-send' })
        await assert.rejects(insertItem(id, { resolveAmbiguousCommits: false }), AmbiguousCommitError)
        await cut
        assert.equal(calls, 1)
        assert.equal(await count(id), 0)
      })

      it(
        'COMMIT held until the fence waits, then delivered: applied exactly once (a plain read would have said "absent")',
        { timeout: 30_000 },
        async () => {
          const id = nextId++
          // Not idempotent: balance = balance + 1 applied twice would read 2, so a second run of the
          // callback shows in the value, not only in the call count.
          await db.insertInto('account').values({ id, balance: 0 }).execute()
          calls = 0
          const held = proxy.hold(isCommit)
          const running = withRetry(
            db,
            async (trx) => {
              calls++
              await trx
                .updateTable('account')
                .set((eb) => ({ balance: eb('balance', '+', 1) }))
                .where('id', '=', id)
                .execute()
              return `credited ${id}`
            },
            { strategy, baseDelayMs: 1, resolveAmbiguousCommits: true },
          )
          const session = await held
          // The client loses its connection while COMMIT is in flight; the server has not got it yet.
          session.cutClient()
          await pollUntil(
            async () =>
              (
                await adminQuery(
                  postgresTarget,
                  `select 1 from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and query like 'insert into "kysely_cockroachdb_commit_marker"%'`,
                  [database.name],
                )
              ).rowCount === 1,
            'the fence insert to wait on the original transaction',
          )
          const balance = async () =>
            (await db.selectFrom('account').select('balance').where('id', '=', id).executeTakeFirstOrThrow()).balance
          // Negative control: a plain read now sees the old balance, although the transaction is about to commit.
          assert.equal(await balance(), 0)
          session.release()
          assert.equal(await running, `credited ${id}`)
          assert.equal(calls, 1)
          assert.equal(await balance(), 1)
        },
      )

      it('a fence that cannot settle within resolveTimeoutMs: AmbiguousCommitError with resolution "timed out"', async () => {
        const id = nextId++
        const held = proxy.hold(isCommit)
        const running = insertItem(id, { resolveTimeoutMs: 1000 })
        const session = await held
        session.cutClient()
        await assert.rejects(running, (error: unknown) => {
          assert.ok(error instanceof AmbiguousCommitError)
          assert.equal(error.resolution, 'timed out')
          assert.match(error.message, /could not settle it within 1000 ms/)
          assert.match(error.message, /raise resolveTimeoutMs\.$/)
          return true
        })
        assert.equal(calls, 1)
        // The server side is still open with the transaction: end it (never committed).
        session.cut()
        await session.closed
        await pollUntil(async () => (await count(id)) === 0, 'the held transaction to be gone')
      })
    })
  }
