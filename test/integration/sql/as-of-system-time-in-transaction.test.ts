// asOfSystemTime() on a query that runs inside a transaction is refused before anything is sent: the
// pure decision (does this compiled query carry a statement-level AS OF SYSTEM TIME), and each way to
// be in a transaction (db.transaction, startTransaction, withRetry, readAt) with a recorder that
// proves the statement never reached the server.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CamelCasePlugin, Kysely, sql, WithSchemaPlugin } from 'kysely'
import type { CompiledQuery, DatabaseConnection, Driver, KyselyPlugin, QueryResult } from 'kysely'
import pg from 'pg'
import {
  asOfSystemTime,
  CockroachDialect,
  followerReadTimestamp,
  readAt,
  streamWithSqlCursor,
  withMaxStaleness,
  withRetry,
} from '../../../src/index.js'
import { hasStatementAsOfSystemTime } from '../../../src/sql/as-of-system-time/as-of-system-time-in-transaction.js'
import { CockroachConnection } from '../../../src/dialect/cockroach-connection.js'
import { recordStatements } from '../../harness/concurrency.js'
import { kyselyOnDriver } from '../../harness/driver-dialect.js'
import type { SentStatement } from '../../harness/concurrency.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  account: { id: number; balance: string }
  accountNote: { accountId: number }
}

const REFUSED = { message: /^asOfSystemTime\(\): .*inside a transaction.*readAt\(/s }

function compilingDb(plugins: readonly KyselyPlugin[] = []): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
    plugins: [...plugins],
  })
}

describe('hasStatementAsOfSystemTime()', () => {
  for (const plugins of [[], [new CamelCasePlugin()], [new WithSchemaPlugin('app'), new CamelCasePlugin()]]) {
    const db = compilingDb(plugins)
    const label = plugins.map((p) => p.constructor.name).join(' + ') || 'no plugins'

    it(`finds the clause on the top-level SELECT (${label})`, () => {
      const values = ['-10s', followerReadTimestamp(), withMaxStaleness('5s'), new Date('2024-05-01T12:00:00Z'), 5n] as const
      for (const value of values) {
        const compiled = db.selectFrom('accountNote').selectAll().where('accountId', '=', 1).$call(asOfSystemTime(value)).compile()
        assert.equal(hasStatementAsOfSystemTime(compiled), true, compiled.sql)
      }
      const nested = db
        .selectFrom('account')
        .select('id')
        .where('id', 'in', (eb) => eb.selectFrom('accountNote').select('accountId').$call(asOfSystemTime('-1s')))
        .$call(asOfSystemTime('-1s'))
        .compile()
      assert.equal(hasStatementAsOfSystemTime(nested), true)
    })

    it(`does not flag queries without it (${label})`, () => {
      const queries = [
        db.selectFrom('account').selectAll().compile(),
        db.selectFrom('account').selectAll().modifyEnd(sql`-- as of system time '-1s'`).compile(),
        db.updateTable('account').set({ balance: '1' }).compile(),
        // readAt() sets the transaction's own timestamp with a raw statement: that is the fix, not the problem.
        sql`set transaction as of system time '-10s'`.compile(db),
        sql`select * from account as of system time '-10s'`.compile(db),
      ]
      for (const compiled of queries) {
        assert.equal(hasStatementAsOfSystemTime(compiled), false, compiled.sql)
      }
    })
  }
})

// A driver whose connections are CockroachConnections around a recorder: every path Kysely takes to
// run a transaction, without a server (readAt's SET TRANSACTION AS OF SYSTEM TIME is PostgreSQL-invalid).
function scriptedKysely(sent: string[]): Kysely<DB> {
  const inner: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query.sql)
      return { rows: [] }
    },
    // eslint-disable-next-line require-yield -- records and ends
    async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
      sent.push(query.sql)
    },
  }
  const connection = new CockroachConnection(inner, { client: undefined, controlQuery: async () => {} })
  const run = async (text: string) => void sent.push(text)
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {
      await run('begin')
      connection.inTransaction = true
    },
    commitTransaction: async () => run('commit'),
    rollbackTransaction: async () => run('rollback'),
    savepoint: async (_c, name) => run(`savepoint ${name}`),
    rollbackToSavepoint: async (_c, name) => run(`rollback to savepoint ${name}`),
    releaseSavepoint: async (_c, name) => run(`release savepoint ${name}`),
    releaseConnection: async () => {
      connection.inTransaction = false
    },
    destroy: async () => {},
  }
  return kyselyOnDriver<DB>(driver)
}

describe('asOfSystemTime() in a transaction, scripted connection', () => {
  const historical = (db: Kysely<DB>) => db.selectFrom('account').select('balance').where('id', '=', 1).$call(asOfSystemTime('-10s'))

  it('readAt(): refused, nothing but the transaction statements sent', async () => {
    const sent: string[] = []
    const db = scriptedKysely(sent)
    await assert.rejects(
      readAt(db, '-10s', (trx) => historical(trx).execute()),
      REFUSED,
    )
    assert.deepEqual(sent, ['begin', "set transaction as of system time '-10s'", 'rollback'])
  })

  it('db.transaction(), startTransaction() with a savepoint, withRetry(), and stream() in a transaction', async () => {
    const sent: string[] = []
    const db = scriptedKysely(sent)
    await assert.rejects(db.transaction().execute((trx) => historical(trx).execute()), REFUSED)
    const trx = await db.startTransaction().execute()
    const sp = await trx.savepoint('sp').execute()
    await assert.rejects(historical(sp).execute(), REFUSED)
    await assert.rejects(
      (async () => {
        for await (const row of historical(sp).stream()) void row
      })(),
      REFUSED,
    )
    // streamWithSqlCursor sends `declare ... cursor for <sql>` as raw SQL, which the connection's
    // guard cannot read: the helper checks the query itself.
    await assert.rejects(
      (async () => {
        for await (const row of streamWithSqlCursor(sp, historical(sp))) void row
      })(),
      REFUSED,
    )
    await sp.rollbackToSavepoint('sp').execute()
    await trx.rollback().execute()
    await assert.rejects(withRetry(db, (t) => historical(t).execute(), { maxAttempts: 3 }), REFUSED)
    assert.ok(!sent.some((s) => /as of system time/.test(s)), sent.join('\n'))
    // Outside a transaction the same query is sent as it is.
    await historical(db).execute()
    assert.match(sent.at(-1)!, /as of system time '-10s'/)
  })
})

describe('asOfSystemTime() in a transaction, on PostgreSQL', () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<DB>
  let sent: SentStatement[]
  const historical = (q: Kysely<DB>) => q.selectFrom('account').select('balance').where('id', '=', 1).$call(asOfSystemTime('-10s'))
  const reachedServer = () => sent.filter((s) => /as of system time/i.test(s.sql))

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'aost_in_trx')
    pool = new pg.Pool({ connectionString: database.url, max: 2 })
    pool.on('error', () => {})
    sent = recordStatements(pool)
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool }) })
    await db.schema.createTable('account').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('balance', 'text').execute()
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  it('db.transaction(): refused before it is sent; the transaction rolls back', async () => {
    sent.length = 0
    await assert.rejects(db.transaction().execute((trx) => historical(trx).execute()), REFUSED)
    assert.deepEqual(reachedServer(), [])
    assert.deepEqual(sent.map((s) => s.sql.toLowerCase()), ['begin', 'rollback'])
  })

  it('startTransaction() and a savepoint: refused, and the transaction stays usable', async () => {
    sent.length = 0
    const trx = await db.startTransaction().execute()
    try {
      await assert.rejects(historical(trx).execute(), REFUSED)
      const sp = await trx.savepoint('sp').execute()
      await assert.rejects(historical(sp).execute(), REFUSED)
      // Nothing failed on the server, so the transaction is not aborted.
      assert.deepEqual(await sp.selectFrom('account').select('id').execute(), [])
      await sp.releaseSavepoint('sp').execute()
    } finally {
      await trx.rollback().execute()
    }
    assert.deepEqual(reachedServer(), [])
  })

  it('stream() inside a transaction: refused before the cursor is declared', async () => {
    sent.length = 0
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        for await (const row of historical(trx).stream()) void row
      }),
      REFUSED,
    )
    assert.deepEqual(reachedServer(), [])
  })

  it('withRetry(): refused on the first attempt, not retried', async () => {
    sent.length = 0
    let attempts = 0
    await assert.rejects(
      withRetry(db, async (trx) => {
        attempts++
        return historical(trx).execute()
      }),
      REFUSED,
    )
    assert.equal(attempts, 1)
    assert.deepEqual(reachedServer(), [])
  })

  it('outside a transaction the query is sent (and PostgreSQL, which lacks the clause, refuses it)', async () => {
    sent.length = 0
    await assert.rejects(historical(db).execute(), /syntax error/)
    assert.equal(reachedServer().length, 1)
  })
})
