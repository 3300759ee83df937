// The statements readAt() and the query helpers send, recorded by a driver that answers every query
// with no rows: what reaches the server, in order, and that refused values send nothing at all.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, PostgresAdapter, PostgresIntrospector } from 'kysely'
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult } from 'kysely'
import {
  asOfSystemTime,
  CockroachQueryCompiler,
  followerReadTimestamp,
  readAt,
  upsertInto,
  withMaxStaleness,
  withMinTimestamp,
} from '../src/index.js'
import type { ReadAtValue } from '../src/index.js'

interface DB {
  account: { id: number; balance: string }
}

function recordingKysely(sent: string[]): Kysely<DB> {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query.sql)
      return { rows: [] }
    },
    // eslint-disable-next-line require-yield -- never streamed here
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
      throw new Error('not streamed in these tests')
    },
  }
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {
      sent.push('begin')
    },
    commitTransaction: async () => {
      sent.push('commit')
    },
    rollbackTransaction: async () => {
      sent.push('rollback')
    },
    releaseConnection: async () => {},
    destroy: async () => {},
  }
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new CockroachQueryCompiler(),
    },
  })
}

describe('readAt()', () => {
  const values: ReadonlyArray<readonly [string, ReadAtValue, string]> = [
    ['followerReadTimestamp()', followerReadTimestamp(), 'follower_read_timestamp()'],
    ['an interval', '-10s', "'-10s'"],
    ['interval parts', { minutes: 2 }, "'-2m'"],
    ['a Date', new Date('2024-05-01T12:00:00.250Z'), "'2024-05-01 12:00:00.250+00:00'"],
    ['a bigint', 1714564800250000000n, '1714564800250000000'],
  ]
  for (const [label, value, literal] of values) {
    it(`with ${label}: BEGIN, then SET TRANSACTION AS OF SYSTEM TIME first, then the callback`, async () => {
      const sent: string[] = []
      const db = recordingKysely(sent)
      const result = await readAt(db, value, async (trx) => {
        await trx.selectFrom('account').select('balance').where('id', '=', 1).execute()
        return 'done'
      })
      assert.equal(result, 'done')
      assert.deepEqual(sent, [
        'begin',
        `set transaction as of system time ${literal}`,
        'select "balance" from "account" where "id" = $1',
        'commit',
      ])
    })
  }

  it('rolls back when the callback throws, and rethrows its error', async () => {
    const sent: string[] = []
    const db = recordingKysely(sent)
    await assert.rejects(
      readAt(db, '-5s', async () => {
        throw new Error('report failed')
      }),
      /report failed/,
    )
    assert.deepEqual(sent, ['begin', "set transaction as of system time '-5s'", 'rollback'])
  })

  it('refuses bounded staleness and bad values before BEGIN', async () => {
    const sent: string[] = []
    const db = recordingKysely(sent)
    const callback = async () => 'never'
    await assert.rejects(readAt(db, withMaxStaleness('10s') as never, callback), /bounded staleness .* not in transactions/)
    await assert.rejects(readAt(db, withMinTimestamp(new Date()) as never, callback), /bounded staleness/)
    await assert.rejects(readAt(db, '10s' as never, callback), /an interval must be negative/)
    await assert.rejects(readAt(db, new Date(Number.NaN), callback), /the Date is invalid/)
    await assert.rejects(readAt(db, "-1s'; commit; --" as never, callback), /not an interval this package accepts/)
    await assert.rejects(readAt(db, '-1s', 'not a function' as never), /third argument must be an async function/)
    assert.deepEqual(sent, [])
  })
})

describe('refused queries send nothing', () => {
  it('AS OF SYSTEM TIME with FOR UPDATE, and UPSERT with ON CONFLICT, fail at compile time', async () => {
    const sent: string[] = []
    const db = recordingKysely(sent)
    await assert.rejects(
      db.selectFrom('account').selectAll().$call(asOfSystemTime('-1s')).forUpdate().execute(),
      /AS OF SYSTEM TIME cannot be combined with FOR UPDATE/,
    )
    await assert.rejects(
      upsertInto(db, 'account')
        .values({ id: 1, balance: '1' })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute(),
      /UPSERT does not support onConflict/,
    )
    assert.deepEqual(sent, [])
  })

  it('sends the UPSERT and the AS OF SYSTEM TIME query as compiled', async () => {
    const sent: string[] = []
    const db = recordingKysely(sent)
    await upsertInto(db, 'account').values({ id: 1, balance: '1' }).execute()
    await db.selectFrom('account').selectAll().where('id', '=', 1).$call(asOfSystemTime({ seconds: 30 })).execute()
    assert.deepEqual(sent, [
      'upsert into "account" ("id", "balance") values ($1, $2)',
      `select * from "account" as of system time '-30s' where "id" = $1`,
    ])
  })
})
