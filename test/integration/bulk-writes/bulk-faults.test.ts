// 100,000 rows arrive exactly once when a batch fails part-way: a 40001 raised by a trigger (once,
// counted by a sequence, which a rollback does not reset), a connection cut by the network or by
// pg_terminate_backend while a batch's statement is in flight (through test/harness/tcp-proxy.ts),
// and a COMMIT whose reply is lost. Afterwards the pool has nothing checked out and no broken client.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { Kysely, sql } from 'kysely'
import {
  AmbiguousCommitError,
  CockroachDialect,
  copyInto,
  deleteInBatches,
  insertMany,
  isBulkWriteError,
  upsertMany,
} from '../../../src/index.js'
import type { BulkProgress, BulkWriteOptions } from '../../../src/index.js'
import { CUT_METHODS, cutSession } from '../../harness/connection-cut.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { TcpProxy } from '../../harness/tcp-proxy.js'

interface Load {
  id: number
  sku: string
  name: string
  qty: number
  price: string
  at: Date
}
interface DB {
  load: Load
}

const ROWS = 100_000
const rows: Load[] = Array.from({ length: ROWS }, (_, i) => ({
  id: i + 1,
  sku: `SKU-${i + 1}`,
  name: `item "${i + 1}"\t\\`,
  qty: i % 500,
  price: ((i % 10_000) / 100).toFixed(2),
  at: new Date(Date.UTC(2024, 0, 1) + i * 1000),
}))

type Helper = 'insertMany' | 'upsertMany' | 'copyInto'
const HELPERS: readonly Helper[] = ['insertMany', 'upsertMany', 'copyInto']
const isStatementOf = (helper: Helper) => (text: string) =>
  helper === 'copyInto' ? text.startsWith('copy "load"') : text.startsWith('insert into "load"')

describe('bulk writes: 100,000 rows exactly once through retries and cuts (PostgreSQL)', () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let pool: pg.Pool
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'bulk_faults')
    proxy = await TcpProxy.forUrl(database.url)
    pool = new pg.Pool({ connectionString: proxy.url(database.url), max: 4 })
    pool.on('error', () => {})
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool, copyFrom }) })
    await sql`create table load (id int8 primary key, sku text, name text, qty int, price numeric(10, 2), at timestamptz)`.execute(db)
    await sql`create sequence fault_seq`.execute(db)
    await sql`create table fault_plan (armed bool)`.execute(db)
    // Raises 40001 once, in the statement that writes row 37,000: nextval is not rolled back.
    await sql`create function inject_40001() returns trigger language plpgsql as $$
      begin
        if (select armed from fault_plan) and exists (select 1 from n where id = 37000) and nextval('fault_seq') = 1 then
          raise exception 'restart transaction: injected' using errcode = '40001';
        end if;
        return null;
      end $$`.execute(db)
    await sql`create trigger inject after insert on load referencing new table as n for each statement execute function inject_40001()`.execute(
      db,
    )
    await sql`insert into fault_plan values (false)`.execute(db)
  })

  beforeEach(async () => {
    proxy.clearRules()
    await sql`truncate load`.execute(db)
    await sql`update fault_plan set armed = false`.execute(db)
    await sql`alter sequence fault_seq restart`.execute(db)
  })

  after(async () => {
    await db?.destroy()
    await proxy?.close()
    await database?.drop()
  })

  async function assertExactlyOnce(): Promise<void> {
    const { rows: counted } = await sql<{ n: string; distinct_ids: string; sum: string }>`
      select count(*) as n, count(distinct id) as distinct_ids, sum(id)::text as sum from load`.execute(db)
    assert.deepEqual(counted[0], { n: String(ROWS), distinct_ids: String(ROWS), sum: String((ROWS * (ROWS + 1)) / 2) })
  }

  async function assertPoolSettled(): Promise<void> {
    assert.equal(pool.totalCount, pool.idleCount, 'a client is still checked out')
    assert.equal(pool.waitingCount, 0, 'a caller still waits for a client')
    const { rows: ok } = await sql<{ ok: number }>`select 1 as ok`.execute(db)
    assert.deepEqual(ok, [{ ok: 1 }])
    while (proxy.openConnections !== pool.totalCount) await new Promise((resolve) => setTimeout(resolve, 10))
  }

  function load(helper: Helper, options: BulkWriteOptions<DB, 'load'> = {}): Promise<BulkProgress> {
    const retry = { baseDelayMs: 1, maxDelayMs: 5, ...options.retry }
    if (helper === 'copyInto') return copyInto(db, 'load', rows, { chunkRows: 10_000, ...options, retry })
    return (helper === 'insertMany' ? insertMany : upsertMany)(db, 'load', rows, { batchSize: 1000, ...options, retry })
  }

  for (const helper of HELPERS) {
    it(`${helper}: a batch that gets a 40001 is retried, and every row arrives once`, async () => {
      await sql`update fault_plan set armed = true`.execute(db)
      const result = await load(helper)
      assert.equal(result.retries, 1)
      assert.equal(result.rows, ROWS)
      const { rows: fired } = await sql<{ last_value: string }>`select last_value from fault_seq`.execute(db)
      assert.ok(Number(fired[0]!.last_value) >= 2, 'the trigger ran on the retry too')
      await assertExactlyOnce()
      await assertPoolSettled()
    })

    for (const method of CUT_METHODS) {
      it(`${helper}: a connection cut by ${method === 'proxy' ? 'the network' : 'pg_terminate_backend'} mid-load is retried, exactly once`, async () => {
        let seen = 0
        const target = helper === 'copyInto' ? 5 : 37
        const matches = isStatementOf(helper)
        const cut = proxy.hold((text) => matches(text) && ++seen === target).then((session) => cutSession(postgresTarget, session, method))
        const result = await load(helper)
        await cut
        assert.ok(result.retries >= 1, `retries: ${result.retries}`)
        await assertExactlyOnce()
        await assertPoolSettled()
      })
    }
  }

  it('insertMany: a COMMIT whose reply is lost ends the load with a BulkWriteError saying what is committed; upsertMany retries it', async () => {
    let commits = 0
    const cut = proxy.cutOn({ match: (text) => text === 'commit' && ++commits === 3, when: 'after-server-reply' })
    const few = rows.slice(0, 10_000)
    await assert.rejects(insertMany(db, 'load', few, { batchSize: 1000 }), (error: unknown) => {
      assert.ok(isBulkWriteError(error))
      assert.ok(error.cause instanceof AmbiguousCommitError)
      assert.deepEqual([error.committed.rows, error.committed.batches, error.failedRows], [2000, 2, 1000])
      assert.match(
        error.message,
        /^insertMany: batch 3 \(rows 2000-2999\) failed: the outcome of its COMMIT is unknown: "commit" failed while in flight/,
      )
      assert.match(error.message, /this batch may or may not have been/)
      // The fix for a bulk load, not withRetry's `idempotent: true` (which would write the batch twice).
      assert.doesNotMatch(error.message, /idempotent/)
      assert.match(
        error.message,
        /Check whether rows 2000-2999 are there .*continue from row 2000 or 3000; or load with upsertMany.*resolveAmbiguousCommits: true/,
      )
      return true
    })
    await cut
    const { rows: counted } = await sql<{ n: string }>`select count(*) as n from load`.execute(db)
    assert.equal(counted[0]!.n, '3000', 'the server committed the batch whose reply was lost')
    await assertPoolSettled()
    commits = 0
    const again = proxy.cutOn({ match: (text) => text === 'commit' && ++commits === 3, when: 'after-server-reply' })
    const result = await upsertMany(db, 'load', few, { batchSize: 1000, retry: { baseDelayMs: 1 } })
    await again
    assert.deepEqual([result.rows, result.retries], [10_000, 1])
    const { rows: total } = await sql<{ n: string }>`select count(*) as n from load`.execute(db)
    assert.equal(total[0]!.n, '10000')
    await assertPoolSettled()
  })

  it('insertMany with retry.resolveAmbiguousCommits: a COMMIT whose reply is lost is settled, and every row arrives once', async () => {
    let commits = 0
    const cut = proxy.cutOn({ match: (text) => text === 'commit' && ++commits === 3, when: 'after-server-reply' })
    const few = rows.slice(0, 10_000)
    const result = await insertMany(db, 'load', few, { batchSize: 1000, retry: { baseDelayMs: 1, resolveAmbiguousCommits: true } })
    await cut
    assert.deepEqual([result.rows, result.batches], [10_000, 10])
    const { rows: counted } = await sql<{ n: string; d: string }>`select count(*) as n, count(distinct id) as d from load`.execute(db)
    assert.deepEqual(counted[0], { n: '10000', d: '10000' })
    await assertPoolSettled()
  })

  it('deleteInBatches: a batch that gets a 40001 is retried, and exactly the matching rows are gone', async () => {
    await insertMany(db, 'load', rows.slice(0, 20_000))
    await sql`create function inject_delete() returns trigger language plpgsql as $$
      begin
        if nextval('fault_seq') = 3 then raise exception 'restart transaction: injected' using errcode = '40001'; end if;
        return null;
      end $$`.execute(db)
    await sql`create trigger inject_delete after delete on load for each statement execute function inject_delete()`.execute(db)
    try {
      const result = await deleteInBatches(db, 'load', (eb) => eb('qty', '<', 100), { batchSize: 1000, retry: { baseDelayMs: 1 } })
      const matching = rows.slice(0, 20_000).filter((row) => row.qty < 100).length
      assert.deepEqual([result.rows, result.retries], [matching, 1])
      const { rows: left } = await sql<{
        n: string
        low: string
      }>`select count(*) as n, count(*) filter (where qty < 100) as low from load`.execute(db)
      assert.deepEqual(left[0], { n: String(20_000 - matching), low: '0' })
    } finally {
      await sql`drop trigger inject_delete on load`.execute(db)
      await sql`drop function inject_delete`.execute(db)
    }
  })
})
