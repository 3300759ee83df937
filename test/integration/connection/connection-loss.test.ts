// Every way this package sends a statement, under connection loss: each path of the table below
// has its connection cut while a statement of it is in flight, once by the network (the TCP proxy
// destroys both sockets) and once by the server (pg_terminate_backend from another session; see
// test/harness/connection-cut.ts). For each: the caller gets a connection error (or, where the
// path recovers by design, its result, and the row says why), nothing hangs (each test has a 10 s
// `timeout` of its own: a hang fails it, no timing is asserted), the pooled client that was cut is
// destroyed, and the pool is back to its counts from before the cut.
//
// A new way of running a statement is one row in PATHS.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { inspect } from 'node:util'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { Kysely, sql } from 'kysely'
import type { SelectQueryBuilder } from 'kysely'
import { AmbiguousCommitError, CockroachDialect, isConnectionError, readAt, streamWithSqlCursor, withRetry } from '../../../src/index.js'
import type { RetryEvent } from '../../../src/index.js'
import { runCodegenCommand } from '../../../src/codegen/codegen-command.js'
import { CUT_METHODS, PoolWatch, assertPoolSettled, cutSession } from '../../harness/connection-cut.js'
import type { CutMethod } from '../../harness/connection-cut.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { TcpProxy } from '../../harness/tcp-proxy.js'
import { loadMigrationModule } from '../../fixtures/migrations/kysely-migration.js'

const { Migrator } = await loadMigrationModule()

interface DB {
  item: { id: number; label: string }
}

const ITEMS = 100
const CHUNK = 10
// The statements a row cuts carry this comment, so the proxy can tell them from the rest.
const MARK = '/* cut here */'
const isMarked = (text: string) => text.includes(MARK)
const marked = <O>(query: SelectQueryBuilder<DB, 'item', O>) => query.modifyEnd(sql.raw(MARK))
// The lease renewal (MigrationLockTable.renew); acquiring and releasing set is_locked too.
const isLeaseRenewal = (text: string) => /^update .* set lease_expires_at = now\(\)/.test(text)
// The column query of CockroachIntrospector (also what codegen runs).
const isColumnIntrospection = (text: string) => text.includes('pg_catalog.pg_attribute')

interface PathContext {
  /** Runs through the proxy on a pool of one client. */
  readonly db: Kysely<DB>
  /** The database's URL through the proxy, for paths that open connections of their own. */
  readonly url: string
  readonly proxy: TcpProxy
  readonly method: CutMethod
  /** Cuts the connection that sends the next statement matching `match`, while it waits for the reply. */
  readonly cutAt: (match: (sql: string) => boolean) => Promise<void>
  /** Cuts, now, the open connection that has sent a statement matching `match` (e.g. between two chunks). */
  readonly cutNow: (match: (sql: string) => boolean) => Promise<void>
}

interface Path {
  readonly name: string
  /**
   * Whose connection is cut: a client of the test's pool, which must be destroyed, or a session the
   * path opens (and must close) itself.
   */
  readonly session: 'pool' | 'own'
  readonly run: (context: PathContext) => Promise<unknown>
  /** What the caller gets. Default: an error that isConnectionError() recognises. */
  readonly expect?:
    | { readonly error: (error: unknown, context: PathContext) => void }
    | { readonly recovers: string; readonly result: (result: unknown, context: PathContext) => void }
}

/** Reads a stream of the marked query, cutting its connection once the first chunk has arrived. */
async function readCuttingAfterFirstChunk(rows: AsyncIterable<unknown>, cutNow: PathContext['cutNow']): Promise<number> {
  let read = 0
  for await (const _ of rows) {
    if (++read === CHUNK) await cutNow(isMarked)
  }
  return read
}

const PATHS: readonly Path[] = [
  {
    name: 'executeQuery',
    session: 'pool',
    run: async ({ db, cutAt }) => {
      void cutAt(isMarked)
      return await marked(db.selectFrom('item').select('id')).execute()
    },
  },
  {
    name: 'db.connection() (a pinned connection)',
    session: 'pool',
    run: ({ db, cutAt }) =>
      db.connection().execute(async (connection) => {
        void cutAt(isMarked)
        return await marked(connection.selectFrom('item').select('id')).execute()
      }),
  },
  {
    name: 'startTransaction(), then rollback() after the failure',
    session: 'pool',
    run: async ({ db, cutAt }) => {
      const trx = await db.startTransaction().execute()
      try {
        void cutAt(isMarked)
        return await marked(trx.selectFrom('item').select('id')).execute()
      } catch (error) {
        // The ROLLBACK cannot reach the server either; it must not replace the error or hang.
        await trx.rollback().execute()
        throw error
      }
    },
  },
  {
    name: 'stream() outside a transaction (pg-cursor portal)',
    session: 'pool',
    run: ({ db, cutNow }) => readCuttingAfterFirstChunk(marked(db.selectFrom('item').select('id')).stream(CHUNK), cutNow),
  },
  {
    name: 'stream() inside a transaction (SQL cursor)',
    session: 'pool',
    run: ({ db, cutNow }) =>
      db.transaction().execute((trx) => readCuttingAfterFirstChunk(marked(trx.selectFrom('item').select('id')).stream(CHUNK), cutNow)),
  },
  {
    name: 'streamWithSqlCursor',
    session: 'pool',
    run: ({ db, cutNow }) =>
      db.transaction().execute((trx) => {
        const rows = streamWithSqlCursor(trx, marked(trx.selectFrom('item').select('id')), { chunkSize: CHUNK })
        return readCuttingAfterFirstChunk(rows, cutNow)
      }),
  },
  {
    name: 'withRetry, cut before COMMIT',
    session: 'pool',
    run: async ({ db, cutAt }) => {
      void cutAt(isMarked)
      const retries: RetryEvent[] = []
      const rows = await withRetry(db, (trx) => marked(trx.selectFrom('item').select('id')).execute(), {
        baseDelayMs: 1,
        onRetry: (event) => void retries.push(event),
      })
      return { rows, retries }
    },
    expect: {
      recovers: 'withRetry runs the callback again on a new connection: nothing was committed before COMMIT was sent',
      result: (result) => {
        const { rows, retries } = result as { rows: unknown[]; retries: RetryEvent[] }
        assert.equal(rows.length, ITEMS)
        assert.equal(retries.length, 1)
        assert.ok(isConnectionError(retries[0]!.error), String(retries[0]!.error))
      },
    },
  },
  {
    name: 'withRetry, cut while COMMIT is in flight',
    session: 'pool',
    run: async ({ db, cutAt }) => {
      void cutAt((text) => text === 'commit')
      return await withRetry(db, (trx) => trx.selectFrom('item').select('id').execute(), { baseDelayMs: 1 })
    },
    expect: {
      error: (error) => {
        // The outcome of a COMMIT in flight is unknown: not retried, the connection error is the
        // cause (the classifiers stop at AmbiguousCommitError on purpose, so look at the cause).
        assert.ok(error instanceof AmbiguousCommitError, String(error))
        assert.ok(isConnectionError(error.cause), String(error.cause))
      },
    },
  },
  {
    name: 'readAt',
    session: 'pool',
    // Cut at its SET TRANSACTION AS OF SYSTEM TIME, which never reaches the server (PostgreSQL
    // would refuse the statement itself).
    run: async ({ db, cutAt }) => {
      void cutAt((text) => text.startsWith('set transaction as of system time'))
      return await readAt(db, '-1s', (trx) => trx.selectFrom('item').select('id').execute())
    },
  },
  {
    name: "Migrator, a migration's statement",
    session: 'pool',
    run: async ({ db, cutAt, method }) => {
      const migrator = new Migrator({
        db,
        migrationTableName: `mig_statement_${method}`,
        migrationLockTableName: `mig_statement_${method}_lock`,
        provider: {
          getMigrations: async () => ({
            m1: {
              up: async (trx: Kysely<unknown>) => {
                void cutAt(isMarked)
                await sql`select 1 ${sql.raw(MARK)}`.execute(trx)
              },
            },
          }),
        },
      })
      const { error } = await migrator.migrateToLatest()
      if (error !== undefined) throw error as Error
    },
  },
  {
    name: 'migration lease renewal',
    session: 'own',
    run: async ({ db, cutAt, proxy, method }) => {
      // The migration runs until a renewal was cut and the next one went out.
      const renewedAfterCut = cutAt(isLeaseRenewal).then(() => proxy.nextSent(isLeaseRenewal))
      const migrator = new Migrator({
        db,
        migrationTableName: `mig_lease_${method}`,
        migrationLockTableName: `mig_lease_${method}_lock`,
        provider: { getMigrations: async () => ({ m1: { up: () => renewedAfterCut.then(() => undefined) } }) },
      })
      const result = await migrator.migrateToLatest()
      if (result.error !== undefined) throw result.error as Error
      return result
    },
    expect: {
      recovers:
        'a failed renewal is not a lost lease (MigrationLease): the next renewal, on a new session, extends it and the migration completes',
      result: (result) => {
        const { results } = result as { results?: ReadonlyArray<{ status: string }> }
        assert.deepEqual(
          results?.map((r) => r.status),
          ['Success'],
        )
      },
    },
  },
  {
    name: 'introspection (db.introspection.getTables())',
    session: 'pool',
    run: async ({ db, cutAt }) => {
      void cutAt(isColumnIntrospection)
      return await db.introspection.getTables()
    },
  },
  {
    name: 'codegen command',
    session: 'own',
    run: async ({ url, cutAt }) => {
      void cutAt(isColumnIntrospection)
      let stdout = ''
      let stderr = ''
      const code = await runCodegenCommand(['codegen', '--url', url, '--print', '--log-level=silent'], {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
      })
      if (code !== 0) throw Object.assign(new Error(stderr.trim()), { exitCode: code })
      return stdout
    },
    expect: {
      // The command reports the error's message on stderr and exits with 1; pg's error objects
      // stay inside, so the message is what can be checked.
      error: (error, { method }) => {
        assert.equal((error as { exitCode?: number }).exitCode, 1)
        const message = (error as Error).message
        assert.match(message, /^kysely-cockroachdb codegen: /)
        const reason = message.slice('kysely-cockroachdb codegen: '.length)
        if (method === 'proxy') {
          assert.ok(isConnectionError({ message: reason }), message)
        } else {
          // 57P01's message: isConnectionError recognises it by its SQLSTATE, which stderr does not show.
          assert.match(reason, /terminating connection due to administrator command|Connection terminated/)
        }
      },
    },
  },
]

describe('connection loss on every I/O path (PostgreSQL)', () => {
  let database: TestDatabase
  let proxy: TcpProxy
  // Left open by a test that failed (a hang holds its client forever): closed, unawaited, at the end.
  const leftOpen = new Set<Kysely<DB>>()

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'connection_loss')
    proxy = await TcpProxy.forUrl(database.url)
    const db = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: database.url }) })
    await db.schema
      .createTable('item')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('label', 'text')
      .execute()
    await sql`insert into item (id, label) select g, 'item ' || g::text from generate_series(1, ${sql.lit(ITEMS)}) as g`.execute(db)
    await db.destroy()
  })

  afterEach(() => proxy.clearRules())

  after(async () => {
    // Destroying the sockets first ends what a hung test left behind.
    await proxy?.close()
    for (const db of leftOpen) void db.destroy().catch(() => undefined)
    await database?.drop()
  })

  /** A pool of one client through the proxy, for one test: a hang in one test cannot starve the next. */
  function open(): { db: Kysely<DB>; watch: PoolWatch } {
    // One client: the counts before and after a cut are exact, and a broken client pooled again
    // would be the one every later query gets.
    const pool = new pg.Pool({ connectionString: proxy.url(database.url), max: 1 })
    // An idle pooled client whose connection drops emits 'error' on the pool.
    pool.on('error', () => {})
    // A renewal session gives up after renewIntervalMs (its query_timeout, MigrationLeaseSession):
    // a second is ample for the cut to reach it first, and two renewals fit the test's timeout.
    const migrationLock = { leaseDurationMs: 10_000, renewIntervalMs: 1000 }
    const db = new Kysely<DB>({ dialect: new CockroachDialect({ pool, cursor: Cursor, migrationLock }) })
    leftOpen.add(db)
    return { db, watch: new PoolWatch(pool) }
  }

  const probe = (db: Kysely<DB>) => async () => {
    const { rows } = await sql<{ ok: number }>`select 1 as ok`.execute(db)
    assert.deepEqual(rows, [{ ok: 1 }])
  }

  for (const path of PATHS) {
    for (const method of CUT_METHODS) {
      const outcome = path.expect !== undefined && 'recovers' in path.expect ? `recovers: ${path.expect.recovers}` : 'connection error'
      it(
        `${path.name}, cut by ${method === 'proxy' ? 'the network' : 'pg_terminate_backend'}: ${outcome}`,
        { timeout: 10_000 },
        async () => {
          const { db, watch } = open()
          await probe(db)()
          const baseline = watch.counts()
          const otherConnections = proxy.openConnections - baseline.total
          const cuts: Array<Promise<number>> = []
          const cut = (session: Parameters<typeof cutSession>[1]) => {
            const pid = cutSession(postgresTarget, session, method)
            cuts.push(pid)
            return pid.then(() => undefined)
          }
          const context: PathContext = {
            db,
            url: proxy.url(database.url),
            proxy,
            method,
            cutAt: (match) => {
              const done = proxy.hold(match).then(cut)
              // Rejections surface through `cuts`.
              done.catch(() => undefined)
              return done
            },
            cutNow: async (match) => {
              const sessions = proxy.sessionsThatSent(match)
              assert.equal(sessions.length, 1, 'exactly one open connection sent the statement to cut')
              await cut(sessions[0]!)
            },
          }

          const settled = await path.run(context).then(
            (result: unknown) => ({ ok: true as const, result }),
            (error: unknown) => ({ ok: false as const, error }),
          )
          assert.equal(cuts.length, 1, 'the path was cut once')
          const pid = await cuts[0]!

          if (path.expect !== undefined && 'recovers' in path.expect) {
            assert.ok(settled.ok, `expected the path to recover, it failed: ${settled.ok ? '' : String(settled.error)}`)
            path.expect.result(settled.result, context)
          } else {
            assert.ok(!settled.ok, `expected a connection error, the path returned ${settled.ok ? JSON.stringify(settled.result) : ''}`)
            if (path.expect !== undefined) {
              path.expect.error(settled.error, context)
            } else {
              assert.ok(isConnectionError(settled.error), `not a connection error: ${inspect(settled.error)}`)
            }
          }
          if (path.session === 'pool') {
            await watch.removed(pid)
          }
          await assertPoolSettled(watch, proxy, baseline, probe(db), otherConnections)
          await db.destroy()
          leftOpen.delete(db)
        },
      )
    }
  }
})
