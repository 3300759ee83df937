// How insertMany, upsertMany, copyInto, deleteInBatches and updateInBatches batch, refuse, split,
// abort and report, against the throwaway PostgreSQL. Statements are captured through Kysely's log.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { CamelCasePlugin, Kysely, sql, WithSchemaPlugin } from 'kysely'
import type { LogEvent } from 'kysely'
import {
  CockroachDialect,
  SqlState,
  copyInto,
  deleteInBatches,
  insertMany,
  isBulkWriteError,
  isQueryRefusedError,
  updateInBatches,
  upsertMany,
} from '../../../src/index.js'
import type { BulkProgress, CopyFromFunction } from '../../../src/index.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface Item {
  id: number
  name: string
  qty: number | null
  note: string | null
}
interface Ev {
  a: number
  b: number
  flag: string
}
interface DB {
  item: Item
  ev: Ev
  wide: Record<string, number>
  'other.thing': { thingId: number; createdBy: string }
  other_thing: { thing_id: number; created_by: string }
}

describe('bulk writes: batching, refusals, splits, abort, loops (PostgreSQL)', () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<DB>
  let log: LogEvent[] = []

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'bulk_behaviour')
    pool = new pg.Pool({ connectionString: database.url, max: 4 })
    // pool.end() resolves before the server has let go of the sessions, and the teardown's forced
    // DROP DATABASE then ends them: without a listener that 'error' would end the process.
    pool.on('error', () => {})
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool, copyFrom }), log: (event) => void log.push(event) })
    await sql`create table item (id int primary key, name text not null, qty int default 7, note text)`.execute(db)
    await sql`create table ev (a int, b int, flag text, primary key (a, b))`.execute(db)
    const columns = Array.from({ length: 70 }, (_, i) => `c${i} int${i === 0 ? ' primary key' : ''}`).join(', ')
    await sql`create table wide (${sql.raw(columns)})`.execute(db)
    await sql`create schema other`.execute(db)
    await sql`create table other.thing (thing_id int primary key, created_by text)`.execute(db)
  })

  beforeEach(async () => {
    await sql`truncate item, ev, wide, other.thing`.execute(db)
    log = []
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  const statements = () => log.map((event) => event.query.sql).filter((text) => !/^(begin|commit|rollback|start transaction)/i.test(text))
  const count = async (table: string) =>
    Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]!.n)
  const poolSettled = () => {
    assert.equal(pool.totalCount, pool.idleCount, 'a client is still checked out')
    assert.equal(pool.waitingCount, 0)
  }

  it('sends one array per column, and rows missing a key get its default (one statement per key set)', async () => {
    await insertMany(db, 'item', [
      { id: 1, name: 'a', qty: 1 },
      { id: 2, name: 'b' },
      { id: 3, name: 'c', qty: 3 },
      { id: 4, name: 'd', qty: undefined },
    ])
    const sent = statements().filter((text) => text.startsWith('insert'))
    assert.equal(sent.length, 2)
    assert.match(
      sent[0]!,
      /^insert into "item" \("id", "name", "qty"\) select u\.c1, u\.c2, u\.c3 from unnest\(\$1::int4\[\], \$2::text\[\], \$3::int4\[\]\) as u\(c1, c2, c3\)$/,
    )
    assert.match(sent[1]!, /^insert into "item" \("id", "name"\) select/)
    const rows = await db.selectFrom('item').select(['id', 'qty']).orderBy('id').execute()
    assert.deepEqual(rows, [
      { id: 1, qty: 1 },
      { id: 2, qty: 7 },
      { id: 3, qty: 3 },
      { id: 4, qty: 7 },
    ])
  })

  it("sends a key set with a Kysely expression cell through insertInto().values(), and form: 'values' everything", async () => {
    await insertMany(db, 'item', [
      { id: 1, name: sql<string>`upper('x')` },
      { id: 2, name: 'y' },
    ])
    await insertMany(db, 'item', [{ id: 3, name: 'z' }], { form: 'values' })
    const sent = statements().filter((text) => text.startsWith('insert'))
    assert.deepEqual(
      sent.map((text) => /values/.test(text)),
      [true, true],
    )
    assert.deepEqual(
      (await db.selectFrom('item').select('name').orderBy('id').execute()).map((r) => r.name),
      ['X', 'y', 'z'],
    )
  })

  it('documents the 65,535-parameter limit: raw pg with 65,536 parameters gets 08P01', async () => {
    const client = await pool.connect()
    try {
      const placeholders = Array.from({ length: 65_536 }, (_, i) => `$${i + 1}::int`).join(', ')
      await assert.rejects(
        client.query(
          `select array[${placeholders}]`,
          Array.from({ length: 65_536 }, () => 1),
        ),
        (error: { code?: string }) => error.code === SqlState.ProtocolViolation,
      )
      assert.deepEqual((await client.query('select 1 as ok')).rows, [{ ok: 1 }], 'the connection stays usable')
    } finally {
      client.release()
    }
  })

  it('loads 70 columns x 5,000 rows in 1,000-row batches, in the array form and through VALUES, at most 65,535 parameters a statement', async () => {
    const rows = Array.from({ length: 5000 }, (_, r) =>
      Object.fromEntries(Array.from({ length: 70 }, (_, c) => [`c${c}`, c === 0 ? r : r + c])),
    )
    await insertMany(db, 'wide', rows, { batchSize: 1000 })
    const arrayStatements = log.filter((event) => event.query.sql.startsWith('insert'))
    assert.equal(arrayStatements.length, 5)
    assert.ok(arrayStatements.every((event) => event.query.parameters.length === 70))
    assert.equal(await count('wide'), 5000)
    await sql`truncate wide`.execute(db)
    log = []
    await insertMany(db, 'wide', rows, { batchSize: 1000, form: 'values' })
    const valuesStatements = log.filter((event) => event.query.sql.startsWith('insert'))
    assert.ok(valuesStatements.every((event) => event.query.parameters.length <= 65_535))
    assert.deepEqual([...new Set(valuesStatements.map((event) => event.query.parameters.length))].sort(), [64 * 70, 936 * 70].sort())
    assert.equal(await count('wide'), 5000)
    const sum = await sql<{ s: string }>`select sum(c69)::text as s from wide`.execute(db)
    assert.equal(sum.rows[0]!.s, String((4999 * 5000) / 2 + 69 * 5000))
  })

  it('refuses bad input before sending anything, with messages that name the row and the fix', async () => {
    const refusals: [() => Promise<unknown>, string][] = [
      [
        () => insertMany(db, '' as 'item', [{ id: 1, name: 'a' }]),
        'insertMany: the table must be a non-empty string such as "account". Pass the table name as the second argument.',
      ],
      [
        () => insertMany(db, 'item', [{ id: 1, name: 'a' }], { batchSize: 0 }),
        'insertMany: batchSize must be an integer from 1 to 1000000, got 0. Pass e.g. { batchSize: 1000 }.',
      ],
      [
        () =>
          insertMany(db, 'item', [
            { id: 1, name: 'a' },
            { id: 2 ** 53, name: 'b' },
          ]),
        'insertMany: row 1, column "id": 9007199254740992 is not a safe integer for the int4 column. Pass integers beyond 2^53 as bigint or as a string of digits.',
      ],
      [
        () =>
          upsertMany(db, 'item', [
            { id: 1, name: 'a', qty: 1 },
            { id: 2, name: 'b' },
          ]),
        'upsertMany: row 1 has the keys (id, name) but row 0 has (id, name, qty). UPSERT overwrites the columns it lists and keeps the others, ' +
          'so rows with different keys are ambiguous. Give every row the same keys (null clears a value), or call upsertMany once per key set.',
      ],
      [
        () =>
          copyInto(db, 'item', [
            { id: 1, name: 'a', qty: 1 },
            { id: 2, name: 'b', qty: undefined },
          ]),
        'copyInto: row 1 has no value for "qty". COPY cannot apply a column default to single rows. Give every row every column (null for NULL), ' +
          'leave "qty" out of columns so its default applies to all rows, or use insertMany.',
      ],
      [
        () => insertMany(db, 'item', [{ id: 1, name: 'a' }], { types: { name: 'text; drop table item' } }),
        'insertMany: the type "text; drop table item" given for "name" is not a type name it can use. Write a name such as \'int8\', \'text[]\', ' +
          "'numeric(10,2)' or 'public.mood' (no spaces: 'float8', not 'double precision').",
      ],
      [
        () => deleteInBatches(db, 'item', (eb) => eb('id', '>', 0), { batchSize: -1 }),
        'deleteInBatches: batchSize must be an integer from 1 to 1000000, got -1. Pass e.g. { batchSize: 1000 }.',
      ],
    ]
    for (const [call, message] of refusals) {
      await assert.rejects(call(), (error: Error) => {
        assert.ok(isQueryRefusedError(error), String(error))
        assert.equal(error.message, message)
        return true
      })
    }
    const written = log.filter((event) => !/^\s*select/.test(event.query.sql))
    assert.deepEqual(written, [], 'nothing but catalog queries reached the server')
    await db.transaction().execute(async (trx) => {
      await assert.rejects(
        deleteInBatches(trx as unknown as Kysely<DB>, 'item', (eb) => eb('id', '>', 0)),
        (error: Error) =>
          error.message ===
          'deleteInBatches: db is a transaction. Batched deletes commit each batch on its own so that no transaction grows too large. ' +
            'Pass the Kysely instance; to change the rows inside one transaction, use db.deleteFrom(table).where(...) in it.',
      )
    })
  })

  it('splits a batch the server finds too large (53400) in half until it fits; a single row that still fails is a BulkWriteError', async () => {
    await sql`create function item_budget() returns trigger language plpgsql as $$
      begin
        if (select count(*) from n) > current_setting('bulk.budget')::int then
          raise exception 'the transaction is locking too many rows and exceeded its lock-tracking memory budget' using errcode = '53400';
        end if;
        return null;
      end $$`.execute(db)
    await sql`create trigger item_budget after insert on item referencing new table as n for each statement execute function item_budget()`.execute(
      db,
    )
    try {
      await sql`alter database ${sql.id(database.name)} set bulk.budget = '300'`.execute(db)
      // New sessions see the setting: run on fresh connections.
      const fresh = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: database.url, copyFrom }) })
      try {
        const rows = Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `n${i}` }))
        const result = await insertMany(fresh, 'item', rows, { batchSize: 1000 })
        assert.equal(await count('item'), 2000)
        assert.ok(result.splits >= 4, `splits: ${result.splits}`)
        assert.deepEqual([result.rows, result.batches > 2], [2000, true])
        await sql`truncate item`.execute(db)
        const copied = await copyInto(
          fresh,
          'item',
          rows.map((row) => ({ ...row, qty: 1, note: null })),
          { chunkRows: 2000 },
        )
        assert.equal(await count('item'), 2000)
        assert.ok(copied.splits >= 3)
      } finally {
        await fresh.destroy()
      }
      await sql`truncate item`.execute(db)
      await sql`alter database ${sql.id(database.name)} set bulk.budget = '0'`.execute(db)
      const none = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: database.url }) })
      try {
        await assert.rejects(
          insertMany(none, 'item', [
            { id: 1, name: 'a' },
            { id: 2, name: 'b' },
          ]),
          (error: unknown) => {
            assert.ok(isBulkWriteError(error))
            assert.equal(error.failedRows, 1)
            assert.deepEqual([error.committed.rows, error.committed.splits], [0, 1])
            assert.equal((error.cause as { code?: string }).code, SqlState.ConfigurationLimitExceeded)
            assert.match(error.message, /^insertMany: batch 1 \(rows 0-0\) failed: the transaction is locking too many rows/)
            return true
          },
        )
      } finally {
        await none.destroy()
      }
    } finally {
      await sql`drop trigger item_budget on item`.execute(db)
      await sql`drop function item_budget`.execute(db)
    }
  })

  it('stops when aborted from onBatch: the loaded batches stay, no later batch starts, no connection leaks', async () => {
    const controller = new AbortController()
    const reason = new Error('enough')
    const seen: BulkProgress[] = []
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `n${i}` }))
    await assert.rejects(
      insertMany(db, 'item', rows, {
        batchSize: 1000,
        signal: controller.signal,
        onBatch: (progress) => {
          seen.push(progress)
          if (progress.batches === 3) controller.abort(reason)
        },
      }),
      (error) => error === reason,
    )
    assert.deepEqual(
      seen.map((p) => p.rows),
      [1000, 2000, 3000],
    )
    assert.equal(await count('item'), 3000)
    assert.equal(log.filter((event) => event.query.sql.startsWith('insert')).length, 3, 'no statement after the abort')
    poolSettled()
  })

  it('aborting mid-COPY rolls that chunk back (CopyFail) and keeps the committed ones', async () => {
    const controller = new AbortController()
    let writes = 0
    // pg-copy-streams' from, with the abort fired during the second chunk's first write.
    const spying: CopyFromFunction = (text) => {
      const stream = copyFrom(text)
      const write = stream.write.bind(stream) as (chunk: string) => boolean
      ;(stream as unknown as { write: (chunk: string) => boolean }).write = (chunk: string) => {
        const ok = write(chunk)
        if (++writes === 2) controller.abort(new Error('stop copying'))
        return ok
      }
      return stream
    }
    const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `n${i}`, qty: i, note: null }))
    await assert.rejects(copyInto(db, 'item', rows, { chunkRows: 1000, signal: controller.signal, copyFrom: spying }), /stop copying/)
    assert.equal(await count('item'), 1000)
    poolSettled()
    const { rows: ok } = await sql<{ ok: number }>`select 1 as ok`.execute(db)
    assert.deepEqual(ok, [{ ok: 1 }])
  })

  it("runs every batch in the caller's transaction, and a failure rolls all of them back", async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => ({ id: i, name: `n${i}` }))
    await db.transaction().execute(async (trx) => {
      await insertMany(trx, 'item', rows)
      await copyInto(
        trx,
        'item',
        rows.map((row) => ({ id: row.id + 10_000, name: row.name, qty: 1, note: 'c' })),
      )
    })
    assert.equal(await count('item'), 5000)
    await sql`truncate item`.execute(db)
    const duplicate = [...rows, { id: 5, name: 'again' }]
    await assert.rejects(
      db.transaction().execute((trx) => insertMany(trx, 'item', duplicate, { batchSize: 1000 })),
      (error: unknown) => {
        assert.ok(isBulkWriteError(error))
        assert.equal(
          error.message.replace(/: duplicate key.*?\. Run/, ': <23505>. Run'),
          'insertMany: batch 3 (rows 2000-2500) failed inside the transaction you passed; that transaction is now aborted: <23505>. ' +
            'Run the whole load in withRetry(db, (trx) => insertMany(trx, ...)) to retry it, or pass the Kysely instance so each batch commits and retries on its own.',
        )
        return true
      },
    )
    assert.equal(await count('item'), 0)
  })

  it('reads async iterables once, one batch at a time, into copyInto and insertMany', async () => {
    async function* generate(count: number, offset: number) {
      for (let i = 0; i < count; i++) yield { id: offset + i, name: `s${i}`, qty: i % 10, note: null }
    }
    const copied = await copyInto(db, 'item', generate(200_000, 0))
    const inserted = await insertMany(db, 'item', generate(50_000, 1_000_000), { batchSize: 5000 })
    assert.deepEqual([copied.rows, copied.batches, inserted.rows, inserted.batches], [200_000, 20, 50_000, 10])
    assert.equal(await count('item'), 250_000)
  })

  it('applies CamelCasePlugin to columns and results, and WithSchemaPlugin to the table (copyInto and the catalog query too)', async () => {
    const camel = db.withPlugin(new CamelCasePlugin())
    await insertMany(camel, 'other.thing', [{ thingId: 1, createdBy: 'me' }])
    await copyInto(camel, 'other.thing', [{ thingId: 2, createdBy: 'you' }])
    const result = await upsertMany(camel, 'other.thing', [{ thingId: 2, createdBy: 'them' }], { returning: ['thingId', 'createdBy'] })
    assert.deepEqual(result.returned, [{ thingId: 2, createdBy: 'them' }])
    const schema = db.withPlugin(new WithSchemaPlugin('other')) as unknown as Kysely<{ thing: { thing_id: number; created_by: string } }>
    await insertMany(schema, 'thing', [{ thing_id: 3, created_by: 'schema' }])
    await copyInto(schema, 'thing', [{ thing_id: 4, created_by: 'copy' }])
    assert.ok(
      log.some((event) =>
        event.query.sql.startsWith('insert into "other"."thing" ("thing_id", "created_by") select u.c1, u.c2 from unnest('),
      ),
    )
    const rows = await sql<{ thing_id: number; created_by: string }>`select * from other.thing order by thing_id`.execute(db)
    assert.deepEqual(rows.rows, [
      { thing_id: 1, created_by: 'me' },
      { thing_id: 2, created_by: 'them' },
      { thing_id: 3, created_by: 'schema' },
      { thing_id: 4, created_by: 'copy' },
    ])
  })

  it('deleteInBatches removes exactly the matching rows, walking a composite key; updateInBatches changes exactly them', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ a: i % 100, b: Math.floor(i / 100), flag: 'keep' }))
    await insertMany(db, 'ev', rows)
    const seen: BulkProgress[] = []
    const updated = await updateInBatches(
      db,
      'ev',
      { set: { flag: 'gone' }, where: (eb) => eb(sql`(a + b) % 3`, '=', 0) },
      { batchSize: 500 },
    )
    const marked = rows.filter((r) => (r.a + r.b) % 3 === 0).length
    assert.equal(updated.rows, marked)
    const deleted = await deleteInBatches(db, 'ev', (eb) => eb('flag', '=', 'gone'), { batchSize: 500, onBatch: (p) => void seen.push(p) })
    assert.equal(deleted.rows, marked)
    assert.equal(deleted.batches, Math.ceil(marked / 500))
    assert.deepEqual(seen.map((p) => p.rows).at(-1), marked)
    const left = await db.selectFrom('ev').select(['a', 'b', 'flag']).execute()
    assert.equal(left.length, 10_000 - marked)
    assert.ok(left.every((r) => (r.a + r.b) % 3 !== 0 && r.flag === 'keep'))
    const again = await deleteInBatches(db, 'ev', (eb) => eb('flag', '=', 'gone'))
    assert.deepEqual([again.rows, again.batches], [0, 0])
    const limited = await deleteInBatches(db, 'ev', (eb) => eb('a', '<', 50), { batchSize: 100, maxBatches: 3 })
    assert.deepEqual([limited.rows, limited.batches], [300, 3])
  })
})
