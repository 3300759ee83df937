// The defects review-14 found in the bulk helpers, each reproduced against the throwaway
// PostgreSQL: keyset loops under CamelCasePlugin, keys JS cannot round-trip (microsecond
// timestamps, int8 parsed as numbers), a `set` that moves the key, upsertMany rows without the
// conflict columns, unknown tables and columns, a failing row source, an aborted signal,
// non-finite numerics and jsonb, and where a server data error happened.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { CamelCasePlugin, Kysely, sql } from 'kysely'
import type { Generated, LogEvent } from 'kysely'
import {
  CockroachDialect,
  copyInto,
  deleteInBatches,
  insertMany,
  isBulkWriteError,
  isQueryRefusedError,
  updateInBatches,
  upsertMany,
} from '../../../src/index.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  cc: { user_id: number; full_name: string }
  tk: { k: Date | string; v: number }
  big8: { id: number; v: number }
  item: { id: number; name: string; qty: number | null }
  serial_pk: { id: Generated<number>; name: string }
  named: { id: number; name: string | null; v: number | null }
  num: { id: number; n: number | string | null; doc: unknown }
}
type Camel = { cc: { userId: number; fullName: string } }

describe('bulk writes: the review-14 defects (PostgreSQL)', () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<DB>
  let log: LogEvent[] = []

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'bulk_review_fixes')
    pool = new pg.Pool({ connectionString: database.url, max: 4 })
    pool.on('error', () => {})
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool, copyFrom }), log: (event) => void log.push(event) })
    await sql`create table cc (user_id int primary key, full_name text)`.execute(db)
    await sql`create table tk (k timestamptz primary key, v int)`.execute(db)
    await sql`create table big8 (id int8 primary key, v int)`.execute(db)
    await sql`create table item (id int primary key, name text not null, qty int)`.execute(db)
    await sql`create table serial_pk (id serial primary key, name text)`.execute(db)
    await sql`create table named (id int primary key, name text unique, v int)`.execute(db)
    await sql`create table num (id int primary key, n numeric, doc jsonb)`.execute(db)
  })

  beforeEach(async () => {
    await sql`truncate cc, tk, big8, item, serial_pk, named, num`.execute(db)
    log = []
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  const sent = () => log.map((event) => event.query.sql)

  it('#2 deleteInBatches and updateInBatches walk the whole table under CamelCasePlugin', async () => {
    const camel = db.withPlugin(new CamelCasePlugin()) as unknown as Kysely<Camel>
    await insertMany(
      camel,
      'cc',
      Array.from({ length: 25 }, (_, i) => ({ userId: i + 1, fullName: 'n' })),
    )
    const updated = await updateInBatches(camel, 'cc', { set: { fullName: 'zz' }, where: (eb) => eb('userId', '>', 0) }, { batchSize: 10 })
    assert.deepEqual([updated.rows, updated.batches], [25, 3])
    const { rows } = await sql<{ full_name: string; n: string }>`select full_name, count(*) as n from cc group by 1`.execute(db)
    assert.deepEqual(rows, [{ full_name: 'zz', n: '25' }])
    const byKey = await updateInBatches(
      camel,
      'cc',
      { set: { fullName: 'k' }, where: (eb) => eb('userId', '>', 0) },
      { batchSize: 10, key: ['userId'] },
    )
    assert.equal(byKey.rows, 25)
    const deleted = await deleteInBatches(camel, 'cc', (eb) => eb('userId', '>', 0), { batchSize: 10 })
    assert.deepEqual([deleted.rows, deleted.batches], [25, 3])
    const left = await sql<{ n: string }>`select count(*) as n from cc`.execute(db)
    assert.equal(left.rows[0]!.n, '0')
  })

  it('#3 updateInBatches visits each row once when the key is a microsecond timestamp or an int8 beyond 2^53 parsed as a number', async () => {
    await sql`insert into tk select '2020-01-01'::timestamptz + (g || ' microseconds')::interval, 0 from generate_series(1, 50) g`.execute(
      db,
    )
    const result = await updateInBatches(
      db,
      'tk',
      { set: { v: sql`v + 1` as unknown as number }, where: (eb) => eb('v', '<', 100) },
      { batchSize: 10, maxBatches: 20 },
    )
    assert.deepEqual([result.rows, result.batches], [50, 5])
    const { rows } = await sql<{ v: number; n: string }>`select v, count(*) as n from tk group by v`.execute(db)
    assert.deepEqual(rows, [{ v: 1, n: '50' }])
    // A pool that parses int8 as a JS number (a common setting) rounds keys above 2^53.
    const numbers = new pg.Pool({
      connectionString: database.url,
      max: 2,
      types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format)) },
    })
    numbers.on('error', () => {})
    const ndb = new Kysely<DB>({ dialect: new CockroachDialect({ pool: numbers }) })
    try {
      await sql`insert into big8 select (2::numeric ^ 60)::int8 + g, 0 from generate_series(1, 30) g`.execute(db)
      const wide = await updateInBatches(
        ndb,
        'big8',
        { set: { v: sql`v + 1` as unknown as number }, where: (eb) => eb('v', '<', 100) },
        { batchSize: 7, maxBatches: 20 },
      )
      assert.deepEqual([wide.rows, wide.batches], [30, 5])
      const counted = await sql<{ v: number; n: string }>`select v, count(*) as n from big8 group by v`.execute(db)
      assert.deepEqual(counted.rows, [{ v: 1, n: '30' }])
      const gone = await deleteInBatches(ndb, 'big8', (eb) => eb('v', '=', 1), { batchSize: 7 })
      assert.equal(gone.rows, 30)
    } finally {
      await ndb.destroy()
    }
  })

  it('#4 updateInBatches refuses a set that changes a key column, before sending anything', async () => {
    await insertMany(db, 'item', [
      { id: 1, name: 'a', qty: 1 },
      { id: 2, name: 'b', qty: 2 },
    ])
    log = []
    await assert.rejects(
      updateInBatches(db, 'item', { set: { id: sql`id + 1000` as unknown as number }, where: (eb) => eb('id', '>', 0) }),
      (error: unknown) => {
        assert.ok(isQueryRefusedError(error), String(error))
        assert.match(error.message, /^updateInBatches: change\.set changes the key column "id"/)
        return true
      },
    )
    assert.ok(!sent().some((text) => /^(begin|start transaction|with "batch")/i.test(text)), sent().join('\n'))
    const camel = db.withPlugin(new CamelCasePlugin()) as unknown as Kysely<Camel>
    await assert.rejects(
      updateInBatches(camel, 'cc', { set: { userId: 5 }, where: (eb) => eb('fullName', '=', 'x') }, { key: ['userId'] }),
      (error: unknown) => isQueryRefusedError(error) && /"userId"/.test(error.message),
    )
    const { rows } = await sql<{ ids: string }>`select string_agg(id::text, ',' order by id) as ids from item`.execute(db)
    assert.equal(rows[0]!.ids, '1,2')
  })

  it('#5 upsertMany refuses rows that leave out a conflict column (a serial key, conflictColumns)', async () => {
    await assert.rejects(upsertMany(db, 'serial_pk', [{ name: 'a' }, { name: 'b' }]), (error: unknown) => {
      assert.ok(isQueryRefusedError(error), String(error))
      assert.match(error.message, /^upsertMany: the rows have no "id"/)
      assert.match(error.message, /insertMany/)
      return true
    })
    await assert.rejects(upsertMany(db, 'named', [{ id: 1, v: 1 }], { conflictColumns: ['name'] }), (error: unknown) => {
      assert.ok(isQueryRefusedError(error), String(error))
      assert.match(error.message, /^upsertMany: the rows have no "name"/)
      return true
    })
    const { rows } = await sql<{ n: string }>`select (select count(*) from serial_pk) + (select count(*) from named) as n`.execute(db)
    assert.equal(rows[0]!.n, '0')
    const ok = await upsertMany(db, 'named', [{ id: 1, name: 'x', v: 1 }], { conflictColumns: ['name'] })
    assert.equal(ok.rows, 1)
  })

  it('#6 an unknown table or column is a QueryRefusedError before any transaction starts', async () => {
    for (const call of [
      () => insertMany(db as unknown as Kysely<{ nope: { id: number } }>, 'nope', [{ id: 1 }]),
      () => upsertMany(db as unknown as Kysely<{ nope: { id: number } }>, 'nope', [{ id: 1 }]),
      () => copyInto(db as unknown as Kysely<{ nope: { id: number } }>, 'nope', [{ id: 1 }]),
      () => deleteInBatches(db as unknown as Kysely<{ nope: { id: number } }>, 'nope', (eb) => eb('id', '>', 0)),
    ]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(isQueryRefusedError(error), String(error))
        assert.match(error.message, /: the table "nope" does not exist/)
        return true
      })
    }
    log = []
    const rows = [{ id: 1, name: 'a', bogus: 1 }] as unknown as { id: number; name: string }[]
    for (const call of [() => insertMany(db, 'item', rows), () => copyInto(db, 'item', rows)]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(isQueryRefusedError(error), String(error))
        assert.match(error.message, /"bogus" is not a column of "item"/)
        return true
      })
    }
    assert.ok(!sent().some((text) => /^(begin|start transaction)/i.test(text)), sent().join('\n'))
  })

  it('#8 a row source that throws mid-load is a BulkWriteError with the committed count', async () => {
    async function* source() {
      for (let i = 1; i <= 2500; i++) yield { id: i, name: `n${i}`, qty: i }
      throw new Error('the feed broke')
    }
    for (const load of [
      () => insertMany(db, 'item', source(), { batchSize: 1000 }),
      () => copyInto(db, 'item', source(), { chunkRows: 1000 }),
    ]) {
      await sql`truncate item`.execute(db)
      await assert.rejects(load(), (error: unknown) => {
        assert.ok(isBulkWriteError(error), String(error))
        assert.equal(error.committed.rows, 2000)
        assert.equal((error.cause as Error).message, 'the feed broke')
        assert.match(error.message, /reading the rows failed after 2000 rows in 2 batches were committed: the feed broke/)
        return true
      })
    }
  })

  it('#8 an already aborted signal rejects at once, with no query and no connection', async () => {
    const reason = new Error('stopped before it started')
    const signal = AbortSignal.abort(reason)
    const before = pool.totalCount
    for (const call of [
      () => insertMany(db, 'item', [{ id: 1, name: 'a', qty: 1 }], { signal }),
      () => upsertMany(db, 'item', [{ id: 1, name: 'a', qty: 1 }], { signal }),
      () => copyInto(db, 'item', [{ id: 1, name: 'a', qty: 1 }], { signal }),
      () => deleteInBatches(db, 'item', (eb) => eb('id', '>', 0), { signal }),
      () => updateInBatches(db, 'item', { set: { qty: 0 }, where: (eb) => eb('id', '>', 0) }, { signal }),
    ]) {
      log = []
      await assert.rejects(call(), (error: unknown) => error === reason)
      assert.deepEqual(sent(), [])
    }
    assert.equal(pool.totalCount, before)
  })

  it('#8 numeric takes Infinity, -Infinity and NaN as insertInto does; jsonb refuses them', async () => {
    const rows = [
      { id: 1, n: Number.POSITIVE_INFINITY, doc: null },
      { id: 2, n: Number.NEGATIVE_INFINITY, doc: null },
      { id: 3, n: Number.NaN, doc: null },
    ]
    await insertMany(db, 'num', rows)
    await copyInto(
      db,
      'num',
      rows.map((row) => ({ ...row, id: row.id + 10 })),
    )
    const { rows: stored } = await sql<{ id: number; n: string }>`select id, n::text as n from num order by id`.execute(db)
    assert.deepEqual(
      stored.map((row) => row.n),
      ['Infinity', '-Infinity', 'NaN', 'Infinity', '-Infinity', 'NaN'],
    )
    await assert.rejects(insertMany(db, 'num', [{ id: 20, n: 1, doc: Number.NaN }]), (error: unknown) => {
      assert.ok(isQueryRefusedError(error), String(error))
      assert.match(error.message, /row 0, column "doc": NaN is not JSON/)
      return true
    })
  })

  it("#7 a server data error names its row (COPY) and column; a loop's error names no input rows", async () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `n${i}`, qty: (i === 12 ? 'abc' : i) as unknown as number }))
    await assert.rejects(copyInto(db, 'item', rows, { chunkRows: 1000 }), (error: unknown) => {
      assert.ok(isBulkWriteError(error), String(error))
      assert.match(error.message, /^copyInto: batch 1 \(rows 0-19\) failed: .*\(at row 12, column "qty"\)/)
      return true
    })
    const nulls = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, name: (i === 3 ? null : 'x') as unknown as string, qty: 1 }))
    await assert.rejects(insertMany(db, 'item', nulls), (error: unknown) => {
      assert.ok(isBulkWriteError(error), String(error))
      assert.match(error.message, /\(at column "name"\)/)
      return true
    })
    await insertMany(db, 'item', [{ id: 1, name: 'a', qty: 0 }])
    await assert.rejects(
      deleteInBatches(db, 'item', (eb) => eb(sql<number>`1 / qty`, '=', 1)),
      (error: unknown) => {
        assert.ok(isBulkWriteError(error), String(error))
        assert.doesNotMatch(error.message, /rows 0-|from row 0/)
        assert.match(error.message, /^deleteInBatches: batch 1 failed: .*run it again/)
        return true
      },
    )
  })
})
