import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, KyselyCockroachError } from '../../../src/index.js'
import type { Int8Mode } from '../../../src/index.js'
import { adminQuery, allTargets, createKysely, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { waitFor } from '../../harness/wait-for.js'

interface DB {
  big: { id: string | bigint | number; amounts: Array<string | bigint | number | null> | null }
}

// 2^53 + 1: the first integer a JS number cannot hold.
const UNSAFE = '9007199254740993'

for (const target of allTargets) {
  describe(`int8 option on ${target.name}`, () => {
    let database: TestDatabase
    const opened: Kysely<DB>[] = []
    const open = (int8?: Int8Mode) => {
      const db = createKysely<DB>(database, int8 === undefined ? {} : { int8 })
      opened.push(db)
      return db
    }

    before(async () => {
      database = await createTestDatabase(target, 'int8')
      const db = open()
      await db.schema
        .createTable('big')
        .addColumn('id', 'int8', (c) => c.primaryKey())
        .addColumn('amounts', sql`int8[]`)
        .execute()
      await sql`insert into big (id, amounts) values (1, array[1, null, -5]::int8[]), (${sql.lit(UNSAFE)}, array[${sql.lit(UNSAFE)}]::int8[])`.execute(
        db,
      )
    })

    after(async () => {
      await Promise.all(opened.map((db) => db.destroy()))
      await database?.drop()
    })

    const select = (db: Kysely<DB>) => db.selectFrom('big').selectAll().orderBy('id').execute()

    it('returns exact strings by default and with int8: string', async () => {
      for (const db of [open(), open('string')]) {
        assert.deepEqual(await select(db), [
          { id: '1', amounts: ['1', null, '-5'] },
          { id: UNSAFE, amounts: [UNSAFE] },
        ])
      }
    })

    it('returns bigint values, arrays included, with int8: bigint, and binds bigint parameters', async () => {
      const db = open('bigint')
      assert.deepEqual(await select(db), [
        { id: 1n, amounts: [1n, null, -5n] },
        { id: BigInt(UNSAFE), amounts: [BigInt(UNSAFE)] },
      ])
      const row = await db.selectFrom('big').select('id').where('id', '=', BigInt(UNSAFE)).executeTakeFirstOrThrow()
      assert.equal(row.id, BigInt(UNSAFE))
      // count(*) is INT8 too.
      const { n } = await db
        .selectFrom('big')
        .select(sql<bigint>`count(*)`.as('n'))
        .executeTakeFirstOrThrow()
      assert.equal(n, 2n)
    })

    it('returns numbers with int8: number and fails loudly instead of rounding', async () => {
      const db = open('number')
      assert.deepEqual(await db.selectFrom('big').selectAll().where('id', '=', 1).execute(), [{ id: 1, amounts: [1, null, -5] }])
      await assert.rejects(select(db), (error: Error) => {
        assert.ok(error instanceof KyselyCockroachError && error.name === 'KyselyCockroachError', String(error))
        assert.match(error.message, /^CockroachDialect: the INT8 value 9007199254740993 cannot be represented exactly/)
        assert.match(error.message, /int8: 'bigint'/)
        return true
      })
      // The failed parse does not poison the connection.
      assert.equal((await db.selectFrom('big').select('id').where('id', '=', 1).executeTakeFirstOrThrow()).id, 1)
    })

    it('streams with the same int8 parsing', async () => {
      const db = open('bigint')
      const ids: unknown[] = []
      for await (const row of db.selectFrom('big').select('id').orderBy('id').stream()) ids.push(row.id)
      assert.deepEqual(ids, [1n, BigInt(UNSAFE)])
    })

    it("leaves node-postgres' global type parsers alone", async () => {
      await select(open('bigint'))
      await select(open('number')).catch(() => undefined)
      const { rows } = await adminQuery(target, `select ${UNSAFE}::int8 as v`)
      assert.equal(rows[0].v, UNSAFE)
    })
  })

  describe(`application_name on ${target.name}`, () => {
    let database: TestDatabase
    before(async () => {
      database = await createTestDatabase(target, 'appname')
    })
    after(async () => {
      await database?.drop()
    })

    async function applicationName(db: Kysely<unknown>): Promise<string> {
      const { rows } = await sql<{ name: string }>`select current_setting('application_name') as name`.execute(db)
      await db.destroy()
      return rows[0]!.name
    }

    it('defaults to kysely-cockroachdb, and takes the config or the URL', async () => {
      assert.equal(await applicationName(createKysely(database)), 'kysely-cockroachdb')
      assert.equal(await applicationName(createKysely(database, { applicationName: 'billing' })), 'billing')
      const url = new URL(database.url)
      url.searchParams.set('application_name', 'from-url')
      assert.equal(await applicationName(createKysely(database, { connectionString: url.toString() })), 'from-url')
    })

    it("sets it on a user's pool only when asked, quoting it safely", async () => {
      let connected = 0
      let removed = 0
      const own = () => {
        const pool = new pg.Pool({ connectionString: database.url, application_name: 'their-pool' })
        pool.on('connect', () => void connected++)
        pool.on('remove', () => void removed++)
        return pool
      }
      const untouched = new Kysely<unknown>({ dialect: new CockroachDialect({ pool: own() }) })
      const named = new Kysely<unknown>({ dialect: new CockroachDialect({ pool: own(), applicationName: "o'brien" }) })
      // Destroyed here: a pool left open keeps idle sessions that the forced DROP DATABASE of the
      // teardown ends, and a user's pool has no 'error' listener (seen as an uncaught 57P01).
      try {
        assert.equal(await applicationName(untouched), 'their-pool')
        assert.equal(await applicationName(named), "o'brien")
      } finally {
        await Promise.all([untouched.destroy(), named.destroy()])
        // pg.Pool#end() resolves once it has told its clients to end, before their sessions close
        // (pg-pool's _remove emits 'remove' from client.end's callback): wait for every 'remove'.
        await waitFor(() => removed === connected, { what: "the user pools' clients to end" })
      }
    })
  })
}

/** Waits until the server lists backend `pid` no more: it has ended and closed its socket. */
async function backendGone(pid: number): Promise<void> {
  await waitFor(async () => (await adminQuery(postgresTarget, 'select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 0, {
    what: `backend ${pid} to exit`,
  })
}

describe('idle pooled connections ended by the server (PostgreSQL)', () => {
  it('do not crash the process, and the pool opens a new connection', async () => {
    const database = await createTestDatabase(postgresTarget, 'idle_drop')
    const db = createKysely<DB>(database)
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
      // The connection is idle in the pool now; the server ends it as a rolling restart would.
      await adminQuery(postgresTarget, 'select pg_terminate_backend($1)', [rows[0]!.pid])
      await backendGone(rows[0]!.pid)
      const after = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
      assert.notEqual(after.rows[0]!.pid, rows[0]!.pid)
    } finally {
      await db.destroy()
      await database.drop()
    }
  })
})

describe('broken connections (PostgreSQL)', () => {
  let database: TestDatabase
  let pool: pg.Pool
  const clients: pg.PoolClient[] = []
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'broken')
    pool = new pg.Pool({ connectionString: database.url, max: 2 })
    // The pool's clients, from its public 'connect' event, to wait for one's 'end'.
    pool.on('connect', (client) => void clients.push(client))
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool }) })
    await db.schema
      .createTable('big')
      .addColumn('id', 'int8', (c) => c.primaryKey())
      .addColumn('amounts', sql`int8[]`)
      .execute()
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  async function terminate(pid: number): Promise<void> {
    await adminQuery(postgresTarget, 'select pg_terminate_backend($1)', [pid])
  }

  /** Resolves when the pool's client of backend `pid` has seen its connection end ('end' event). */
  function clientEnded(pid: number): Promise<void> {
    const client = clients.find((c) => (c as unknown as { processID: number }).processID === pid)
    assert.ok(client, `no client of the pool is connected to backend ${pid}`)
    return new Promise((resolve) => client.once('end', () => resolve()))
  }

  it('surfaces the error that broke a transaction, not the failed ROLLBACK, and destroys the connection', async () => {
    const error = await db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
        await trx.insertInto('big').values({ id: '1', amounts: null }).execute()
        // The server ends the session while a statement runs: that statement gets 57P01, and the
        // ROLLBACK Kysely sends next fails with "not queryable", which Kysely would throw instead.
        const sleeping = sql`select pg_sleep(30)`.execute(trx)
        sleeping.catch(() => undefined) // it rejects while the test awaits the terminate below
        await waitFor(
          async () =>
            (
              await adminQuery(
                postgresTarget,
                "select 1 from pg_stat_activity where pid = $1 and state = 'active' and query like 'select pg_sleep%'",
                [rows[0]!.pid],
              )
            ).rowCount === 1,
          { what: 'pg_sleep to run' },
        )
        await terminate(rows[0]!.pid)
        await sleeping
      })
      .then(
        () => assert.fail('the transaction should fail'),
        (e: unknown) => e,
      )
    assert.match(String(error), /terminating connection due to administrator command/)
    assert.equal((error as { code?: string }).code, '57P01')
    assert.equal(pool.totalCount, 0, 'the broken client was destroyed, not pooled')
    const rows = await db.selectFrom('big').selectAll().execute()
    assert.deepEqual(rows, [], 'nothing from the broken transaction was committed')
  })

  it('names the cause when a query runs on a connection that dropped while idle', async () => {
    const error = await db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
        const ended = clientEnded(rows[0]!.pid)
        await terminate(rows[0]!.pid)
        await ended
        await trx.insertInto('big').values({ id: '2', amounts: null }).execute()
      })
      .then(
        () => assert.fail('the transaction should fail'),
        (e: unknown) => e,
      )
    assert.match(String(error), /not queryable/)
    assert.match(String((error as Error).cause), /terminating connection due to administrator command/)
    assert.equal(pool.totalCount, 0)
  })

  it('does not crash the process when a checked-out idle connection drops', async () => {
    await db.connection().execute(async (conn) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn)
      const ended = clientEnded(rows[0]!.pid)
      await terminate(rows[0]!.pid)
      await ended
      await assert.rejects(sql`select 1`.execute(conn), /not queryable|Connection terminated|terminating/)
    })
    assert.equal(pool.totalCount, 0)
    assert.equal((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0]!.one, 1)
    assert.equal(pool.totalCount, 1)
    assert.equal(pool.idleCount, 1)
  })
})
