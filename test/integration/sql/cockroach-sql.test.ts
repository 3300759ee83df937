// CockroachDB SQL end to end. The ON CONFLICT forms and row locks run on every server (PostgreSQL
// executes them too); UPSERT, AS OF SYSTEM TIME, bounded staleness, follower reads, readAt() and
// the hints run on CockroachDB only: PostgreSQL cannot parse them, and their exact SQL is covered by
// query-compiler.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { Generated, Kysely } from 'kysely'
import {
  asOfSystemTime,
  explain,
  followerReadTimestamp,
  getSqlState,
  indexHint,
  joinHint,
  readAt,
  upsertInto,
  withMaxStaleness,
  withMinTimestamp,
} from '../../../src/index.js'
import { allTargets, cockroachSkip, cockroachTarget, createKysely, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { waitFor } from '../../harness/wait-for.js'

interface DB {
  account: { id: number; name: string; balance: string; note: Generated<string | null> }
  transfer: { id: number; accountId: number; amount: string }
}

async function createSchema(db: Kysely<DB>): Promise<void> {
  await db.schema
    .createTable('account')
    .addColumn('id', 'int8', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('balance', 'int8', (c) => c.notNull())
    .addColumn('note', 'text')
    .execute()
  await db.schema
    .createTable('transfer')
    .addColumn('id', 'int8', (c) => c.primaryKey())
    .addColumn('accountId', 'int8', (c) => c.notNull())
    .addColumn('amount', 'int8', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('transfer_account_idx').on('transfer').column('accountId').execute()
  await db.schema.createIndex('account_balance_idx').on('account').column('balance').execute()
}

for (const target of allTargets) {
  describe(`ON CONFLICT and row locks on ${target.name}`, () => {
    let database: TestDatabase
    let db: Kysely<DB>

    before(async () => {
      database = await createTestDatabase(target, 'sql_conflict')
      db = createKysely<DB>(database)
      await createSchema(db)
    })

    after(async () => {
      await db?.destroy()
      await database?.drop()
    })

    it('insert ... on conflict do update counts the inserted or updated row', async () => {
      const upsert = (balance: string) =>
        db
          .insertInto('account')
          .values({ id: 1, name: 'alice', balance })
          .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ balance: eb.ref('excluded.balance') })))
          .executeTakeFirstOrThrow()
      assert.equal((await upsert('10')).numInsertedOrUpdatedRows, 1n)
      assert.equal((await upsert('20')).numInsertedOrUpdatedRows, 1n)
      const row = await db.selectFrom('account').select(['name', 'balance']).where('id', '=', 1).executeTakeFirstOrThrow()
      assert.deepEqual(row, { name: 'alice', balance: '20' })
    })

    it('insert ... on conflict do nothing, by column and by constraint', async () => {
      const byColumn = await db
        .insertInto('account')
        .values({ id: 2, name: 'alice', balance: '5' })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirstOrThrow()
      assert.equal(byColumn.numInsertedOrUpdatedRows, 0n)
      const byConstraint = await db
        .insertInto('account')
        .values({ id: 1, name: 'bob', balance: '5' })
        .onConflict((oc) => oc.constraint('account_pkey').doNothing())
        .executeTakeFirstOrThrow()
      assert.equal(byConstraint.numInsertedOrUpdatedRows, 0n)
      const count = await db
        .selectFrom('account')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
      assert.equal(String(count.n), '1')
    })

    it('FOR UPDATE NOWAIT fails on a locked row and SKIP LOCKED skips it', async () => {
      await db.insertInto('account').values({ id: 3, name: 'carol', balance: '0' }).execute()
      await db.transaction().execute(async (holder) => {
        await holder.selectFrom('account').select('id').where('id', '=', 1).forUpdate().execute()
        const skipped = await db
          .transaction()
          .execute((other) =>
            other.selectFrom('account').select('id').where('id', 'in', [1, 3]).orderBy('id').forUpdate().skipLocked().execute(),
          )
        assert.deepEqual(
          skipped.map((row) => Number(row.id)),
          [3],
        )
        await assert.rejects(
          db.transaction().execute((other) => other.selectFrom('account').select('id').where('id', '=', 1).forUpdate().noWait().execute()),
          (error: unknown) => {
            // 55P03 lock_not_available on both servers.
            assert.equal(getSqlState(error), '55P03')
            return true
          },
        )
      })
    })
  })
}

describe('explain() on PostgreSQL: the forms both servers parse', () => {
  let database: TestDatabase
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'sql_explain')
    db = createKysely<DB>(database)
    await createSchema(db)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  // PostgreSQL also has `EXPLAIN [ANALYZE] statement` and `EXPLAIN (VERBOSE) statement`; its rows
  // are "QUERY PLAN", CockroachDB's `info`.
  it('plain, ANALYZE and (VERBOSE) run', async () => {
    const query = db.selectFrom('account').select('id').where('id', '=', 1)
    for (const rows of [
      await explain(query),
      await explain(query, { analyze: true }),
      await explain(query, { options: ['verbose'] }),
      await query.explain(undefined, sql`analyze`),
    ]) {
      assert.ok(rows.length > 0)
      assert.match(JSON.stringify(rows), /Scan/)
    }
  })
})

describe('CockroachDB SQL on CockroachDB', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'crdb_sql')
    db = createKysely<DB>(database)
    await createSchema(db)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  // The server's clock, as nanoseconds since the epoch: a read at this time sees everything
  // committed before this statement.
  async function serverNanos(): Promise<bigint> {
    const { rows } = await sql<{ ts: string }>`select cluster_logical_timestamp()::string as ts`.execute(db)
    return BigInt(rows[0]!.ts.split('.')[0]!)
  }

  /** Waits until the server's clock is at least `ms` past `since` (nanoseconds): the condition itself, not a local guess. */
  async function serverClockPassed(since: bigint, ms: number): Promise<void> {
    const target = since + BigInt(ms) * 1_000_000n
    await waitFor(async () => (await serverNanos()) >= target, { what: `the server clock to pass ${ms} ms`, timeoutMs: 60_000 + ms })
  }

  it('UPSERT inserts, then updates only the listed columns, counting every row', async () => {
    const inserted = await upsertInto(db, 'account')
      .values([
        { id: 10, name: 'dave', balance: '100', note: 'vip' },
        { id: 11, name: 'erin', balance: '50' },
      ])
      .executeTakeFirstOrThrow()
    assert.equal(inserted.numInsertedOrUpdatedRows, 2n)

    const upserted = await db
      .replaceInto('account')
      .values([
        { id: 10, name: 'dave', balance: '150' },
        { id: 12, name: 'frank', balance: '1' },
      ])
      .returning(['id', 'balance', 'note'])
      .execute()
    assert.deepEqual(
      upserted.map((row) => ({ ...row, id: Number(row.id) })).sort((a, b) => a.id - b.id),
      [
        { id: 10, balance: '150', note: 'vip' },
        { id: 12, balance: '1', note: null },
      ],
    )
    const count = await upsertInto(db, 'account').values({ id: 11, name: 'erin', balance: '55' }).executeTakeFirstOrThrow()
    assert.equal(count.numInsertedOrUpdatedRows, 1n)
    const erin = await db.selectFrom('account').select('balance').where('id', '=', 11).executeTakeFirstOrThrow()
    assert.equal(erin.balance, '55')
  })

  it('AS OF SYSTEM TIME reads a row as it was before an update (Date, bigint, interval)', async () => {
    await db.insertInto('account').values({ id: 20, name: 'grace', balance: '1' }).execute()
    const before = await serverNanos()
    // Rounded up to the next millisecond, the Date still lies between the insert and the update.
    await serverClockPassed(before, 5)
    const beforeDate = new Date(Number((before + 999_999n) / 1_000_000n))
    // An interval counts back from the time of its own statement, so it is computed from the
    // server's clock right before each read, aiming at the middle of the 8 s between the insert and
    // the update: it lands at least 3.5 s (4 s less rounding to whole seconds) inside that gap
    // however long the reads before it took, as long as one round trip takes less than 3.5 s.
    await serverClockPassed(before, 8000)
    const beforeUpdate = await serverNanos()
    await db.updateTable('account').set({ balance: '2' }).where('id', '=', 20).execute()
    const middle = before + (beforeUpdate - before) / 2n
    const secondsSinceMiddle = async () => Math.round(Number((await serverNanos()) - middle) / 1e9)

    const read = (value: Parameters<typeof asOfSystemTime>[0]) =>
      db.selectFrom('account').select('balance').where('id', '=', 20).$call(asOfSystemTime(value)).executeTakeFirstOrThrow()
    assert.equal((await read(before)).balance, '1')
    assert.equal((await read(beforeDate)).balance, '1')
    assert.equal((await read(`-${await secondsSinceMiddle()}s`)).balance, '1')
    assert.equal((await read({ seconds: await secondsSinceMiddle() })).balance, '1')
    const now = await db.selectFrom('account').select('balance').where('id', '=', 20).executeTakeFirstOrThrow()
    assert.equal(now.balance, '2')

    const joined = await db
      .selectFrom('account')
      .innerJoin(indexHint(db, 'transfer', 'transfer_account_idx').as('t'), 't.accountId', 'account.id')
      .select('account.id')
      .where('account.id', '=', 20)
      .$call(asOfSystemTime(before))
      .execute()
    assert.deepEqual(joined, [])
  })

  it('readAt() runs a read-only transaction at a past timestamp', async () => {
    await db.insertInto('account').values({ id: 30, name: 'heidi', balance: '7' }).execute()
    const at = await serverNanos()
    await db.updateTable('account').set({ balance: '8' }).where('id', '=', 30).execute()

    const seen = await readAt(db, at, async (trx) => {
      const first = await trx.selectFrom('account').select('balance').where('id', '=', 30).executeTakeFirstOrThrow()
      const second = await trx.selectFrom('account').select('balance').where('id', '=', 30).executeTakeFirstOrThrow()
      return [first.balance, second.balance]
    })
    assert.deepEqual(seen, ['7', '7'])

    await assert.rejects(
      readAt(db, at, (trx) => trx.updateTable('account').set({ balance: '9' }).where('id', '=', 30).execute()),
      /read-only|AS OF SYSTEM TIME/i,
    )
  })

  it('follower reads: follower_read_timestamp() on a query and in readAt()', async () => {
    await db.insertInto('account').values({ id: 40, name: 'ivan', balance: '3' }).execute()
    const inserted = await serverNanos()
    // follower_read_timestamp() lies 4.2 s in the past with the default settings (getFollowerReadLag,
    // cockroach pkg/ccl/kvccl/kvfollowerreadsccl/followerreads.go); the row and the table must exist
    // at that time, and waiting longer only makes them older. On a single node, the only replica serves the read.
    await serverClockPassed(inserted, 6000)
    const row = await db
      .selectFrom('account')
      .select('balance')
      .where('id', '=', 40)
      .$call(asOfSystemTime(followerReadTimestamp()))
      .executeTakeFirstOrThrow()
    assert.equal(row.balance, '3')
    const inTransaction = await readAt(db, followerReadTimestamp(), (trx) =>
      trx.selectFrom('account').select('balance').where('id', '=', 40).executeTakeFirstOrThrow(),
    )
    assert.equal(inTransaction.balance, '3')
  })

  it('bounded staleness: with_max_staleness and with_min_timestamp on a point lookup', async () => {
    await db.insertInto('account').values({ id: 50, name: 'judy', balance: '4' }).execute()
    const inserted = await serverNanos()
    // When the local resolved timestamp is older than the bound, the read runs at the bound itself
    // (docs/RFCS/20210519_bounded_staleness_reads.md, "set txn fixed timestamp to
    // min_timestamp_bound"), so the bound must lie after the insert even once truncated to the
    // millisecond a Date holds: the pause puts the insert at least that far back. Rounding up
    // instead could pass statement_timestamp(), which with_min_timestamp refuses
    // (pkg/ccl/logictestccl/testdata/logic_test/bounded_staleness).
    await serverClockPassed(inserted, 5)
    const after = new Date(Number((await serverNanos()) / 1_000_000n))
    const lookup = (value: Parameters<typeof asOfSystemTime>[0]) =>
      db.selectFrom('account').select('balance').where('id', '=', 50).$call(asOfSystemTime(value)).executeTakeFirst()
    // Bounded staleness reads the newest data the nearest replica can serve, at most a minute old:
    // the row may or may not be visible yet, but the read must succeed; on a single node the nearest
    // replica is the only one, so nearest_only holds as long as its closed timestamp trails by less
    // than the bound. It trails by kv.closed_timestamp.target_duration, 3 s by default (cockroach
    // pkg/kv/kvserver/closedts/setting.go), plus whatever a slow runner adds: a minute leaves room.
    const stale = await lookup(withMaxStaleness('1m', { nearestOnly: true }))
    assert.ok(stale === undefined || stale.balance === '4', JSON.stringify(stale))
    // Not older than a time after the insert: the row must be there (served by the leaseholder if
    // the replica's closed timestamp is not there yet, which nearest_only would forbid).
    const fresh = await lookup(withMinTimestamp(after))
    assert.equal(fresh?.balance, '4')
  })

  it('index hints pick the index, and NO_FULL_SCAN refuses a full scan', async () => {
    await db.insertInto('transfer').values({ id: 1, accountId: 10, amount: '5' }).execute()
    const hinted = await db
      .selectFrom(indexHint(db, 'transfer', { forceIndex: 'transfer_account_idx', direction: 'desc' }).as('t'))
      .select(['t.id', 't.accountId'])
      .where('t.accountId', '=', 10)
      .execute()
    assert.deepEqual(
      hinted.map((row) => Number(row.id)),
      [1],
    )

    const plan = await db
      .selectFrom(indexHint(db, 'transfer', 'transfer_account_idx'))
      .select('transfer.id')
      .explain()
    assert.match(JSON.stringify(plan), /transfer@transfer_account_idx/)

    for (const hint of [{ noIndexJoin: true }, { noZigzagJoin: true }, { avoidFullScan: true }] as const) {
      const rows = await db
        .selectFrom(indexHint(db, 'transfer', hint))
        .select('transfer.id')
        .where('transfer.id', '=', 1)
        .execute()
      assert.deepEqual(
        rows.map((row) => Number(row.id)),
        [1],
      )
    }
    await assert.rejects(
      db
        .selectFrom(indexHint(db, 'transfer', { noFullScan: true }))
        .selectAll()
        .where('amount', '=', '5')
        .execute(),
      /NO_FULL_SCAN/,
    )
  })

  it('join hints are executed as written', async () => {
    const hash = await db
      .selectFrom('account')
      .innerJoin(joinHint('hash', db, 'transfer'), 'transfer.accountId', 'account.id')
      .select(['account.name', 'transfer.amount'])
      .execute()
    assert.deepEqual(hash, [{ name: 'dave', amount: '5' }])
    const lookupPlan = await db
      .selectFrom('account')
      .innerJoin(joinHint('lookup', indexHint(db, 'transfer', 'transfer_account_idx').as('t')), 't.accountId', 'account.id')
      .select('t.amount')
      .explain()
    assert.match(JSON.stringify(plan(lookupPlan)), /lookup join/)
    const merge = await db
      .selectFrom('account')
      .leftJoin(joinHint('merge', db, 'transfer'), 'transfer.accountId', 'account.id')
      .select('account.id')
      .where('account.id', '=', 10)
      .execute()
    assert.deepEqual(
      merge.map((row) => Number(row.id)),
      [10],
    )
    // STRAIGHT (v24.1+, cockroach#116013) fixes the order only.
    const straight = await db
      .selectFrom('account')
      .innerJoin(joinHint('straight', db, 'transfer'), 'transfer.accountId', 'account.id')
      .select(['account.name', 'transfer.amount'])
      .where('transfer.id', '=', 1)
      .execute()
    assert.deepEqual(straight, [{ name: 'dave', amount: '5' }])
  })

  it('asOfSystemTime() inside readAt() or db.transaction() is refused before it is sent', async () => {
    const historical = (q: Kysely<DB>) => q.selectFrom('account').select('id').where('id', '=', 1).$call(asOfSystemTime('-1s'))
    const refused = { message: /^asOfSystemTime\(\): this query runs inside a transaction/ }
    await assert.rejects(
      readAt(db, '-1s', (trx) => historical(trx).execute()),
      refused,
    )
    await assert.rejects(
      db.transaction().execute((trx) => historical(trx).execute()),
      refused,
    )
  })

  it('explain(): every form runs and returns rows of info text', async () => {
    const query = db.selectFrom('account').select('id').where('id', '=', 10)
    const forms: Parameters<typeof explain>[1][] = [
      {},
      { options: ['verbose'] },
      { options: ['types'] },
      { options: ['opt'] },
      { options: ['opt', 'verbose'] },
      { options: ['distsql'] },
      { options: ['vec'] },
      { analyze: true },
      { analyze: true, options: ['distsql'] },
      { analyze: true, options: ['verbose'] },
    ]
    for (const form of forms) {
      const rows = await explain(query, form)
      assert.ok(rows.length > 0, JSON.stringify(form))
      for (const row of rows) assert.equal(typeof row.info, 'string', JSON.stringify(form))
    }
    const analyzed = await query.explain(undefined, sql`analyze`)
    assert.match(plan(analyzed), /execution time|actual row count/)
  })

  it('row locks under SERIALIZABLE behave as docs/sql.md says', async () => {
    // docs /docs/stable/select-for-update, "Lock behavior under SERIALIZABLE isolation"; logic test
    // pkg/sql/logictest/testdata/logic_test/select_for_share.
    await sql`create table lock_probe (id int8 primary key, a text, b text, family f1 (id, a), family f2 (b))`.execute(db)
    await sql`insert into lock_probe values (1, 'x', 'y')`.execute(db)
    await assert.rejects(
      db.transaction().execute((trx) => sql`select id from lock_probe for update skip locked`.execute(trx)),
      /SKIP LOCKED cannot be used for tables with multiple column families/,
    )
    // A writer on its own connection, bounded by lock_timeout so a held lock fails it (55P03) instead of hanging.
    const write = () =>
      db.connection().execute(async (conn) => {
        await sql`set lock_timeout = '1s'`.execute(conn)
        try {
          await sql`update lock_probe set a = 'w' where id = 1`.execute(conn)
        } finally {
          await sql`reset lock_timeout`.execute(conn)
        }
      })
    const share = (sharedLocking: boolean) =>
      db.connection().execute(async (conn) => {
        await sql`set enable_shared_locking_for_serializable = ${sql.raw(String(sharedLocking))}`.execute(conn)
        try {
          return await conn.transaction().execute(async (trx) => {
            await sql`select id from lock_probe where id = 1 for share`.execute(trx)
            // Whatever the writer did, this transaction only read: roll it back.
            return write().then(
              () => 'not blocked',
              (error: unknown) => getSqlState(error) ?? String(error),
            )
          })
        } finally {
          await sql`reset enable_shared_locking_for_serializable`.execute(conn)
        }
      })
    // Default (off): FOR SHARE takes no lock under SERIALIZABLE, the writer goes through.
    assert.equal(await share(false), 'not blocked')
    // On: a shared lock, the writer waits and times out.
    assert.equal(await share(true), '55P03')
  })

  it('DELETE and UPDATE with ORDER BY, LIMIT and RETURNING (the batch-delete shape)', async () => {
    await db
      .insertInto('transfer')
      .values([100, 101, 102, 103].map((id) => ({ id, accountId: 99, amount: String(id) })))
      .execute()
    // sql.y delete_stmt: ... opt_sort_clause opt_limit_clause returning_clause
    const updated = await db
      .updateTable('transfer')
      .set({ amount: '0' })
      .where('accountId', '=', 99)
      .orderBy('id', 'desc')
      .limit(1)
      .returning('id')
      .execute()
    assert.deepEqual(
      updated.map((row) => Number(row.id)),
      [103],
    )
    const deleted = await db.deleteFrom('transfer').where('accountId', '=', 99).orderBy('id').limit(2).returning('id').execute()
    assert.deepEqual(
      deleted.map((row) => Number(row.id)).sort((a, b) => a - b),
      [100, 101],
    )
  })
})

function plan(rows: readonly Record<string, unknown>[]): string {
  return rows.map((row) => Object.values(row).join(' ')).join('\n')
}
