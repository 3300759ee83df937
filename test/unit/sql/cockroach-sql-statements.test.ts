// The statements readAt() and the query helpers send, recorded by a driver that answers every query
// with no rows: what reaches the server, in order, and that refused values send nothing at all.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import {
  asOfSystemTime,
  explain,
  followerReadTimestamp,
  readAt,
  upsertInto,
  withMaxStaleness,
  withMinTimestamp,
} from '../../../src/index.js'
import type { CockroachExplainOptions, ReadAtValue } from '../../../src/index.js'
import { recordingKysely } from '../../harness/recording-kysely.js'

interface DB {
  account: { id: number; balance: string }
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
      const db = recordingKysely<DB>(sent)
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
    const db = recordingKysely<DB>(sent)
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
    const db = recordingKysely<DB>(sent)
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
    const db = recordingKysely<DB>(sent)
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
    const db = recordingKysely<DB>(sent)
    await upsertInto(db, 'account').values({ id: 1, balance: '1' }).execute()
    await db
      .selectFrom('account')
      .selectAll()
      .where('id', '=', 1)
      .$call(asOfSystemTime({ seconds: 30 }))
      .execute()
    assert.deepEqual(sent, [
      'upsert into "account" ("id", "balance") values ($1, $2)',
      `select * from "account" as of system time '-30s' where "id" = $1`,
    ])
  })
})

// CockroachDB's EXPLAIN grammar (sql.y explain_stmt): EXPLAIN [ANALYZE] ['(' explain_option_list ')'],
// single-word options, ANALYZE before the list; the words as MakeExplain (pkg/sql/sem/tree/explain.go)
// reads them.
describe('explain()', () => {
  const SELECT = 'select * from "account" where "id" = $1'
  const query = (db: Kysely<DB>) => db.selectFrom('account').selectAll().where('id', '=', 1)

  it("maps Kysely's explain() forms that have a CockroachDB equivalent", async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent)
    await query(db).explain()
    await query(db).explain('text')
    await query(db).explain(undefined, sql`analyze`)
    await query(db).explain(undefined, sql`ANALYZE, verbose`)
    await query(db).explain(undefined, sql`verbose`)
    await query(db).explain('text', sql`analyze true, verbose false, costs off`)
    await db
      .updateTable('account')
      .set({ balance: '1' })
      .where('id', '=', 1)
      .explain(undefined, sql`analyze`)
    await db.deleteFrom('account').where('id', '=', 1).explain()
    await upsertInto(db, 'account')
      .values({ id: 1, balance: '1' })
      .explain(undefined, sql`opt, verbose`)
    assert.deepEqual(sent, [
      `explain ${SELECT}`,
      `explain ${SELECT}`,
      `explain analyze ${SELECT}`,
      `explain analyze (verbose) ${SELECT}`,
      `explain (verbose) ${SELECT}`,
      `explain analyze ${SELECT}`,
      'explain analyze update "account" set "balance" = $1 where "id" = $2',
      'explain delete from "account" where "id" = $1',
      'explain (opt, verbose) upsert into "account" ("id", "balance") values ($1, $2)',
    ])
  })

  it('refuses the PostgreSQL forms CockroachDB has no equivalent for, naming the CockroachDB form', async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent)
    await assert.rejects(query(db).explain('json'), {
      name: 'QueryRefusedError',
      message: /^explain\(\): CockroachDB has no EXPLAIN \(FORMAT JSON\)\. .*EXPLAIN \(DISTSQL, JSON\)/,
    })
    await assert.rejects(query(db).explain(undefined, sql`format json`), { message: /EXPLAIN \(DISTSQL, JSON\)/ })
    await assert.rejects(query(db).explain('yaml'), {
      name: 'QueryRefusedError',
      message: /^explain\(\): CockroachDB has no EXPLAIN FORMAT YAML/,
    })
    await assert.rejects(query(db).explain(undefined, sql`analyze, buffers`), {
      message:
        /^explain\(\): BUFFERS is a PostgreSQL EXPLAIN option\. Use what CockroachDB has: EXPLAIN \[ANALYZE\] .*EXPLAIN ANALYZE \(DISTSQL\)/,
    })
    await assert.rejects(query(db).explain(undefined, sql`settings = on`), {
      message: /"settings = on" is not a CockroachDB EXPLAIN option/,
    })
    await assert.rejects(query(db).explain(undefined, sql`${'verbose'}`), { message: /EXPLAIN options are single words/ })
    assert.deepEqual(sent, [])
  })

  const forms: ReadonlyArray<readonly [CockroachExplainOptions | undefined, string]> = [
    [undefined, 'explain'],
    [{}, 'explain'],
    [{ options: ['verbose'] }, 'explain (verbose)'],
    [{ options: ['types'] }, 'explain (types)'],
    [{ options: ['opt'] }, 'explain (opt)'],
    [{ options: ['opt', 'env'] }, 'explain (opt, env)'],
    [{ options: ['verbose', 'opt'] }, 'explain (opt, verbose)'],
    [{ options: ['distsql'] }, 'explain (distsql)'],
    [{ options: ['vec'] }, 'explain (vec)'],
    [{ analyze: true }, 'explain analyze'],
    [{ analyze: false, options: ['verbose'] }, 'explain (verbose)'],
    [{ analyze: true, options: ['distsql'] }, 'explain analyze (distsql)'],
    [{ analyze: true, options: ['debug'] }, 'explain analyze (debug)'],
    [{ analyze: true, options: ['verbose'] }, 'explain analyze (verbose)'],
  ]
  for (const [options, prefix] of forms) {
    it(`explain(query, ${JSON.stringify(options)}) sends ${prefix}`, async () => {
      const sent: string[] = []
      const db = recordingKysely<DB>(sent)
      const rows = await explain(query(db), options)
      assert.deepEqual(rows, [])
      assert.deepEqual(sent, [`${prefix} ${SELECT}`])
    })
  }

  it('refuses combinations CockroachDB refuses, and unknown options, before sending', async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent)
    const refused: ReadonlyArray<readonly [unknown, RegExp]> = [
      [{ options: ['opt', 'vec'] }, /^explain\(\): CockroachDB takes one EXPLAIN mode, got OPT and VEC\. Keep one of them\.$/],
      [{ analyze: true, options: ['opt'] }, /EXPLAIN ANALYZE cannot be used with OPT/],
      [{ analyze: true, options: ['vec'] }, /EXPLAIN ANALYZE cannot be used with VEC/],
      [{ options: ['debug'] }, /DEBUG only works with EXPLAIN ANALYZE/],
      [{ analyze: true, options: ['env'] }, /EXPLAIN ANALYZE has no ENV option/],
      [{ options: ['costs'] }, /COSTS is a PostgreSQL EXPLAIN option/],
      [{ options: ['verbose); drop table account; --'] }, /is not a CockroachDB EXPLAIN option here/],
      [{ options: 'verbose' }, /options\.options must be an array/],
      [{ analyze: 'yes' }, /analyze must be a boolean/],
      [{ format: 'json' }, /unknown option "format"/],
      [null, /options must be an object/],
    ]
    for (const [options, message] of refused) {
      await assert.rejects(explain(query(db), options as CockroachExplainOptions), { message }, JSON.stringify(options))
    }
    await assert.rejects(explain({} as never), {
      name: 'QueryRefusedError',
      message: /^explain\(\): the first argument must be a query builder/,
    })
    assert.deepEqual(sent, [])
  })
})
