// The bulk helpers against a real CockroachDB (GitHub Actions; skipped without COCKROACH_URL):
// UPSERT in the array form (`upsert into ... select ... from unnest(...)`), COPY ... WITH CSV
// (round trip, atomic per chunk inside BEGIN/COMMIT), retries injected by the server
// (inject_retry_errors_enabled with the savepoint strategy, see with-retry-cockroach.test.ts for
// its semantics), and the keyset delete. It also prints the server's answer to 65,536 parameters,
// which design-14 §8 lists as not confirmed in source.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { Kysely, sql } from 'kysely'
import type { LogEvent } from 'kysely'
import { CockroachDialect, copyInto, deleteInBatches, insertMany, upsertMany } from '../../../src/index.js'
import type { CopyFromFunction } from '../../../src/index.js'
import { cockroachSkip, cockroachTarget, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface Doc {
  id: string
  body: unknown
  tags: (string | null)[] | null
  nums: string[] | null
  blobs: Buffer[] | null
  mood: string | null
  data: Buffer | null
  at: Date | null
}
interface DB {
  doc: Doc
  ev: { a: number; b: number; flag: string }
}

const TRICKY = 'quote " and \' and \\ back\tTab\nNL\r\nCRLF ✓ 𝄞 \\. NULL {},'

describe('bulk writes on CockroachDB', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<DB>
  let log: LogEvent[] = []

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'bulk_writes')
    pool = new pg.Pool({ connectionString: database.url, max: 1 })
    pool.on('error', () => {})
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool, copyFrom }), log: (event) => void log.push(event) })
    await sql`create type mood as enum ('it''s ok', 'a,b', 'plain')`.execute(db)
    await sql`create table doc (id uuid primary key, body jsonb, tags text[], nums int8[], blobs bytea[], mood mood, data bytea, at timestamptz)`.execute(
      db,
    )
    await sql`create table ev (a int, b int, flag text, primary key (a, b))`.execute(db)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  const docs = (variant: number): Doc[] => [
    {
      id: '0b8c4e4e-3f5e-4d3a-9b0c-2f1f5d3a4b6c',
      body: variant ? { v: 2 } : { a: 'x"y\\z', n: [1, { b: null }] },
      tags: ['a"b', 'c\\d', null, 'NULL', '', TRICKY],
      nums: ['9007199254740993', '-1'],
      blobs: [Buffer.from([0, 0x5c, 0x22]), Buffer.alloc(0)],
      mood: "it's ok",
      data: Buffer.from([0, 1, 255]),
      at: new Date('2024-02-29T12:34:56.789Z'),
    },
    {
      id: '00000000-0000-0000-0000-000000000001',
      body: [1, 'two'],
      tags: [],
      nums: null,
      blobs: null,
      mood: 'a,b',
      data: Buffer.alloc(0),
      at: null,
    },
    { id: '00000000-0000-0000-0000-000000000002', body: null, tags: null, nums: [], blobs: [], mood: null, data: null, at: null },
  ]

  const readBack = async () =>
    (await sql<Doc>`select id::text as id, body, tags, nums, blobs, mood::text as mood, data, at from doc order by id`.execute(db)).rows

  const sorted = (list: Doc[]) => [...list].sort((x, y) => (x.id < y.id ? -1 : 1))

  it('upsertMany sends UPSERT in the array form, and round-trips jsonb, arrays, bytea[] and enums', async () => {
    await sql`truncate doc`.execute(db)
    log = []
    const inserted = await upsertMany(db, 'doc', docs(0))
    assert.equal(inserted.rows, 3)
    const upsert = log.map((event) => event.query.sql).filter((text) => text.startsWith('upsert'))
    assert.equal(upsert.length, 1)
    assert.match(
      upsert[0]!,
      /^upsert into "doc" \("id", "body", "tags", "nums", "blobs", "mood", "data", "at"\) select u\.c1, u\.c2::jsonb, u\.c3::text\[\], /,
    )
    assert.match(upsert[0]!, /from unnest\(\$1::uuid\[\], \$2::text\[\], /)
    assert.deepStrictEqual(await readBack(), sorted(docs(0)))
    await upsertMany(db, 'doc', docs(1))
    assert.deepStrictEqual(await readBack(), sorted(docs(1)))
  })

  it('insertMany and copyInto round-trip the same values', async () => {
    await sql`truncate doc`.execute(db)
    await insertMany(db, 'doc', docs(0))
    assert.deepStrictEqual(await readBack(), sorted(docs(0)))
    await sql`truncate doc`.execute(db)
    const copied = await copyInto(db, 'doc', docs(0), { chunkRows: 2 })
    assert.deepEqual([copied.rows, copied.batches], [3, 2])
    assert.deepStrictEqual(await readBack(), sorted(docs(0)))
  })

  it('COPY inside BEGIN/COMMIT is atomic: a chunk aborted after its first write leaves nothing', async () => {
    await sql`truncate ev`.execute(db)
    const controller = new AbortController()
    const aborting: CopyFromFunction = (text) => {
      const stream = copyFrom(text)
      const write = stream.write.bind(stream) as (chunk: string) => boolean
      ;(stream as unknown as { write: (chunk: string) => boolean }).write = (chunk: string) => {
        const ok = write(chunk)
        controller.abort(new Error('stop'))
        return ok
      }
      return stream
    }
    const rows = Array.from({ length: 5000 }, (_, i) => ({ a: i, b: 0, flag: 'x'.repeat(300) }))
    await assert.rejects(copyInto(db, 'ev', rows, { chunkRows: 5000, signal: controller.signal, copyFrom: aborting }), /stop/)
    const { rows: counted } = await sql<{ n: string }>`select count(*) as n from ev`.execute(db)
    assert.equal(counted[0]!.n, '0')
  })

  it('retries every batch through injected retry errors (savepoint strategy) and loads each row once', async () => {
    await sql`truncate ev`.execute(db)
    await sql`set inject_retry_errors_enabled = true`.execute(db)
    try {
      const rows = Array.from({ length: 5000 }, (_, i) => ({ a: i, b: 1, flag: 'r' }))
      const result = await insertMany(db, 'ev', rows, { retry: { strategy: 'savepoint', baseDelayMs: 1 } })
      assert.equal(result.rows, 5000)
      assert.ok(result.retries >= 5, `retries: ${result.retries}`)
    } finally {
      await sql`set inject_retry_errors_enabled = false`.execute(db)
    }
    const { rows: counted } = await sql<{ n: string }>`select count(distinct a) as n from ev`.execute(db)
    assert.equal(counted[0]!.n, '5000')
  })

  it('deleteInBatches walks the composite key and removes exactly the matching rows', async () => {
    await sql`truncate ev`.execute(db)
    await insertMany(
      db,
      'ev',
      Array.from({ length: 3000 }, (_, i) => ({ a: i % 30, b: Math.floor(i / 30), flag: i % 3 === 0 ? 'gone' : 'keep' })),
    )
    const result = await deleteInBatches(db, 'ev', (eb) => eb('flag', '=', 'gone'), { batchSize: 250 })
    assert.equal(result.rows, 1000)
    const { rows: left } = await sql<{
      n: string
      gone: string
    }>`select count(*) as n, count(*) filter (where flag = 'gone') as gone from ev`.execute(db)
    assert.deepEqual(left[0], { n: '2000', gone: '0' })
  })

  it("records the server's answer to a Bind of 65,536 parameters", async () => {
    const client = await pool.connect()
    try {
      const placeholders = Array.from({ length: 65_536 }, (_, i) => `$${i + 1}::int`).join(', ')
      const error = await client
        .query(
          `select array[${placeholders}]`,
          Array.from({ length: 65_536 }, () => 1),
        )
        .then(
          () => undefined,
          (e: { code?: string; message?: string }) => e,
        )
      console.log(`[cockroachdb] 65,536 parameters: ${error === undefined ? 'accepted' : `${String(error.code)} ${String(error.message)}`}`)
      assert.notEqual(error, undefined)
    } finally {
      client.release(true)
    }
  })
})
