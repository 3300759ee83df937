// asOfSystemTime() on a query that runs inside a transaction is refused before anything is sent,
// without a server: the pure decision (does this compiled query carry a statement-level AS OF SYSTEM
// TIME), and each way to be in a transaction (db.transaction, startTransaction, withRetry, readAt) on
// a recorder that proves the statement never left (on PostgreSQL:
// test/integration/sql/as-of-system-time-in-transaction.test.ts).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CamelCasePlugin, Kysely, sql, WithSchemaPlugin } from 'kysely'
import type { KyselyPlugin } from 'kysely'
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
import { recordingKysely } from '../../harness/recording-kysely.js'

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
        db
          .selectFrom('account')
          .selectAll()
          .modifyEnd(sql`-- as of system time '-1s'`)
          .compile(),
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

describe('asOfSystemTime() in a transaction, scripted connection', () => {
  const historical = (db: Kysely<DB>) => db.selectFrom('account').select('balance').where('id', '=', 1).$call(asOfSystemTime('-10s'))

  it('readAt(): refused, nothing but the transaction statements sent', async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent, { cockroachConnection: true })
    await assert.rejects(
      readAt(db, '-10s', (trx) => historical(trx).execute()),
      REFUSED,
    )
    assert.deepEqual(sent, ['begin', "set transaction as of system time '-10s'", 'rollback'])
  })

  it('db.transaction(), startTransaction() with a savepoint, withRetry(), and stream() in a transaction', async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent, { cockroachConnection: true })
    await assert.rejects(
      db.transaction().execute((trx) => historical(trx).execute()),
      REFUSED,
    )
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
    await assert.rejects(
      withRetry(db, (t) => historical(t).execute(), { maxAttempts: 3 }),
      REFUSED,
    )
    assert.ok(!sent.some((s) => /as of system time/.test(s)), sent.join('\n'))
    // Outside a transaction the same query is sent as it is.
    await historical(db).execute()
    assert.match(sent.at(-1)!, /as of system time '-10s'/)
  })
})
