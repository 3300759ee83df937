// insertMany, upsertMany and copyInto write every type the package maps and read back exactly what
// was written, in each int8 mode; upsertMany updates and keeps the columns it does not list.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { from as copyFrom } from 'pg-copy-streams'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import { copyInto, insertMany, upsertMany } from '../../../src/index.js'
import type { Int8Mode } from '../../../src/index.js'
import { createKysely, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface Rt {
  id: unknown
  i4: number | null
  n: string | null
  n2: string | null
  t: string | null
  v: string | null
  b: Buffer | null
  j: unknown
  ia: unknown[] | null
  ia2: unknown[] | null
  ta: (string | null)[] | null
  ts: Date | null
  d: string | null
  u: string | null
  f: boolean | null
  m: string | null
  f8: number | null
}
interface DB {
  rt: Rt
}

const TRICKY = 'quote " and \' and \\ back\tTab\nNL\r\nCRLF unicode ✓ 𝄞 \\. NULL {},'
const MODES: readonly Int8Mode[] = ['string', 'number', 'bigint']

function int8(mode: Int8Mode, value: bigint): unknown {
  return mode === 'string' ? String(value) : mode === 'number' ? Number(value) : value
}

function rows(mode: Int8Mode, variant: 0 | 1): Rt[] {
  const big = mode === 'number' ? 2n ** 53n - 1n : 9_007_199_254_740_993n
  return [
    {
      id: int8(mode, 1n),
      i4: variant ? 7 : -2_147_483_648,
      n: variant ? '0.5' : '123456789012345678901234567890.123456789',
      n2: variant ? '1.00' : '12345678.90',
      t: variant ? 'changed' : TRICKY,
      v: variant ? 'abcde' : 'a"\\é',
      b: variant ? Buffer.from('x') : Buffer.from([0, 1, 2, 255, 0x5c, 0x22]),
      j: variant ? { changed: true } : { a: 'x"y\\z', n: [1, { b: null }], u: '𝄞' },
      ia: variant ? [int8(mode, 5n)] : [int8(mode, big), null, int8(mode, -1n)],
      ia2: variant
        ? []
        : [
            [int8(mode, 1n), int8(mode, 2n)],
            [int8(mode, 3n), int8(mode, 4n)],
          ],
      ta: variant ? ['z'] : ['a"b', 'c\\d', null, 'NULL', '', '{x,y}', TRICKY],
      ts: variant ? new Date(0) : new Date('2024-02-29T12:34:56.789Z'),
      d: variant ? '1999-12-31' : '2024-02-29',
      u: variant ? '00000000-0000-0000-0000-000000000000' : '0b8c4e4e-3f5e-4d3a-9b0c-2f1f5d3a4b6c',
      f: variant ? false : true,
      m: variant ? 'a,b' : "it's ok",
      f8: variant ? 1e308 : 0.1,
    },
    {
      id: int8(mode, big),
      i4: null,
      n: null,
      n2: null,
      t: '',
      v: null,
      b: Buffer.alloc(0),
      j: variant ? 42 : '"a JSON string"',
      ia: [],
      ia2: null,
      ta: [],
      ts: null,
      d: null,
      u: null,
      f: null,
      m: null,
      f8: null,
    },
    {
      id: int8(mode, 3n),
      i4: null,
      n: null,
      n2: null,
      t: null,
      v: null,
      b: null,
      j: variant ? null : [1, 'two', { three: 'x\\"y' }],
      ia: null,
      ia2: null,
      ta: null,
      ts: null,
      d: null,
      u: null,
      f: null,
      m: 'plain',
      f8: null,
    },
  ]
}

/** What reading a written row gives back: jsonb strings are JSON text on the way in. */
function expected(row: Rt): Rt {
  return { ...row, j: typeof row.j === 'string' ? JSON.parse(row.j) : row.j }
}

describe('bulk writes round-trip every type (PostgreSQL)', () => {
  let database: TestDatabase
  const dbs = new Map<Int8Mode, Kysely<DB>>()

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'bulk_round_trip')
    for (const mode of MODES) dbs.set(mode, createKysely<DB>(database, { int8: mode, copyFrom }))
    const db = dbs.get('string')!
    await sql`create type mood as enum ('it''s ok', 'a,b', 'plain')`.execute(db)
    await sql`create table rt (
      id int8 primary key, i4 int4, n numeric, n2 numeric(10, 2), t text, v varchar(5), b bytea, j jsonb,
      ia int8[], ia2 int8[], ta text[], ts timestamptz, d date, u uuid, f bool, m mood, f8 float8
    )`.execute(db)
  })

  after(async () => {
    for (const db of dbs.values()) await db.destroy()
    await database?.drop()
  })

  async function readBack(db: Kysely<DB>): Promise<Rt[]> {
    const result =
      await sql<Rt>`select id, i4, n, n2, t, v, b, j, ia, ia2, ta, ts, d::text as d, u, f, m::text as m, f8 from rt order by id`.execute(db)
    return result.rows
  }

  const sortById = (list: Rt[]) => [...list].sort((a, b) => (BigInt(a.id as string) < BigInt(b.id as string) ? -1 : 1))

  for (const mode of MODES) {
    it(`insertMany, int8 as ${mode}`, async () => {
      const db = dbs.get(mode)!
      await sql`truncate rt`.execute(db)
      const result = await insertMany(db, 'rt', rows(mode, 0), { batchSize: 2 })
      assert.deepEqual([result.rows, result.batches], [3, 2])
      assert.deepStrictEqual(await readBack(db), sortById(rows(mode, 0).map(expected)))
    })

    it(`upsertMany inserts, then updates, int8 as ${mode}`, async () => {
      const db = dbs.get(mode)!
      await sql`truncate rt`.execute(db)
      await upsertMany(db, 'rt', rows(mode, 0))
      assert.deepStrictEqual(await readBack(db), sortById(rows(mode, 0).map(expected)))
      const result = await upsertMany(db, 'rt', rows(mode, 1), { returning: ['id'] })
      assert.equal(result.returned.length, 3)
      assert.deepStrictEqual(await readBack(db), sortById(rows(mode, 1).map(expected)))
    })

    it(`copyInto, int8 as ${mode}`, async () => {
      const db = dbs.get(mode)!
      await sql`truncate rt`.execute(db)
      const result = await copyInto(db, 'rt', rows(mode, 0), { chunkRows: 2 })
      assert.deepEqual([result.rows, result.batches], [3, 2])
      assert.deepStrictEqual(await readBack(db), sortById(rows(mode, 0).map(expected)))
    })
  }

  it('upsertMany keeps the columns its rows do not list', async () => {
    const db = dbs.get('string')!
    await sql`truncate rt`.execute(db)
    await insertMany(db, 'rt', rows('string', 0))
    await upsertMany(db, 'rt', [
      { id: '1', t: 'only t' },
      { id: '3', t: 'and here' },
      { id: '4', t: 'new' },
    ])
    const after = await sql<{
      id: string
      t: string
      m: string | null
      i4: number | null
    }>`select id, t, m::text as m, i4 from rt order by id`.execute(db)
    assert.deepEqual(after.rows, [
      { id: '1', t: 'only t', m: "it's ok", i4: -2_147_483_648 },
      { id: '3', t: 'and here', m: 'plain', i4: null },
      { id: '4', t: 'new', m: null, i4: null },
      { id: '9007199254740993', t: '', m: null, i4: null },
    ])
  })

  it("an over-long varchar gets the server's own 22001, as with insertInto", async () => {
    const db = dbs.get('string')!
    await sql`truncate rt`.execute(db)
    await assert.rejects(insertMany(db, 'rt', [{ id: '1', v: 'toolong' }]), (error: Error) => {
      assert.equal((error.cause as { code?: string }).code, '22001')
      return error.name === 'BulkWriteError'
    })
  })
})
