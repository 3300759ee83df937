import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  arrayEncoder,
  CellRefusal,
  columnTypeFromCatalog,
  columnTypeFromName,
  encodeArrayCell,
} from '../../../src/bulk-writes/column-encoding.js'
import { csvEncoder, csvField, csvRecord, joinIntoPieces } from '../../../src/bulk-writes/csv-encoding.js'

const catalog = (
  type: string,
  typeSchema = 'pg_catalog',
  extra: Partial<{ category: string; element: string; elementSchema: string }> = {},
) =>
  columnTypeFromCatalog({
    type,
    typeSchema,
    category: extra.category ?? 'N',
    element: extra.element ?? null,
    elementSchema: extra.elementSchema ?? null,
  })

describe('column types', () => {
  it('sends built-in scalars as arrays of their own type, json as text cast in the select list', () => {
    assert.deepEqual([catalog('int8').parameter, catalog('int8').cast], ['int8', undefined])
    assert.deepEqual([catalog('varchar').parameter, catalog('varchar').kind], ['text', 'text'])
    assert.deepEqual([catalog('timestamptz').parameter, catalog('timestamptz').kind], ['timestamptz', 'datetime'])
    assert.deepEqual([catalog('jsonb').parameter, catalog('jsonb').cast], ['text', 'jsonb'])
    assert.deepEqual([catalog('bytea').parameter, catalog('bytea').kind], ['bytea', 'bytea'])
  })

  it('sends array columns as text literals cast to the array type, and enums cast to "schema"."name"', () => {
    const ints = catalog('_int8', 'pg_catalog', { category: 'A', element: 'int8', elementSchema: 'pg_catalog' })
    assert.deepEqual([ints.kind, ints.parameter, ints.cast], ['array', 'text', 'int8[]'])
    const moods = catalog('_mood', 'public', { category: 'A', element: 'mood', elementSchema: 'public' })
    assert.equal(moods.cast, '"public"."mood"[]')
    const mood = catalog('mood', 'public', { category: 'E' })
    assert.deepEqual([mood.kind, mood.parameter, mood.cast], ['other', 'text', '"public"."mood"'])
    assert.equal(catalog('we"ird', 'my schema').cast, '"my schema"."we""ird"')
    assert.deepEqual([catalog('inet').kind, catalog('inet').cast], ['other', 'inet'])
  })

  it('accepts type names of the types option and refuses anything else', () => {
    assert.equal(columnTypeFromName('bigint')?.parameter, 'int8')
    assert.equal(columnTypeFromName('INTEGER')?.parameter, 'int4')
    assert.equal(columnTypeFromName('numeric(10,2)')?.kind, 'numeric')
    assert.equal(columnTypeFromName('text[]')?.cast, 'text[]')
    assert.equal(columnTypeFromName('public.mood')?.cast, 'public.mood')
    assert.equal(columnTypeFromName('"Odd".mood')?.cast, '"Odd".mood')
    assert.equal(columnTypeFromName('jsonb')?.cast, 'jsonb')
    for (const bad of ['double precision', 'int8; drop table x', 'text[][]', '', 'a.b.c', "text'"]) {
      assert.equal(columnTypeFromName(bad), undefined, bad)
    }
  })
})

describe('array cells', () => {
  const int8 = catalog('int8')
  it('refuses values the column cannot take without a silent change', () => {
    assert.ok(encodeArrayCell(int8, 2 ** 53) instanceof CellRefusal)
    assert.ok(encodeArrayCell(int8, 1.5) instanceof CellRefusal)
    assert.equal(encodeArrayCell(int8, 2n ** 60n), 2n ** 60n)
    assert.equal(encodeArrayCell(int8, '9007199254740993'), '9007199254740993')
    assert.ok(encodeArrayCell(catalog('jsonb'), Number.NaN) instanceof CellRefusal)
    assert.ok(encodeArrayCell(catalog('timestamptz'), new Date(Number.NaN)) instanceof CellRefusal)
    assert.ok(encodeArrayCell(catalog('bytea'), 'not bytes') instanceof CellRefusal)
    assert.ok(
      encodeArrayCell(catalog('_int8', 'pg_catalog', { category: 'A', element: 'int8', elementSchema: 'pg_catalog' }), 5) instanceof
        CellRefusal,
    )
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.ok(encodeArrayCell(catalog('jsonb'), cyclic) instanceof CellRefusal)
    assert.ok(encodeArrayCell(catalog('jsonb'), 1n) instanceof CellRefusal)
  })

  it("gives json insertInto's meaning: strings are JSON text, other values JSON.stringify'd", () => {
    const jsonb = catalog('jsonb')
    assert.equal(encodeArrayCell(jsonb, '"abc"'), '"abc"')
    assert.equal(encodeArrayCell(jsonb, { a: [1, 'x\\"'] }), '{"a":[1,"x\\\\\\""]}')
    assert.equal(encodeArrayCell(jsonb, [1, 'two']), '[1,"two"]')
    assert.equal(encodeArrayCell(jsonb, 42), '42')
  })

  it('writes array cells as the literal pg would send, nested arrays included', () => {
    const ints = catalog('_int8', 'pg_catalog', { category: 'A', element: 'int8', elementSchema: 'pg_catalog' })
    assert.equal(
      encodeArrayCell(ints, [
        [1, 2],
        [3, null],
      ]),
      '{{"1","2"},{"3",NULL}}',
    )
    assert.equal(encodeArrayCell(ints, []), '{}')
    assert.deepEqual(encodeArrayCell(catalog('bytea'), new Uint8Array([1, 2])), Buffer.from([1, 2]))
  })
})

describe('CSV for COPY', () => {
  const text = catalog('text')
  it('quotes every non-null value, doubles quotes, and leaves NULL an unquoted empty field', () => {
    assert.equal(csvField(text, null), '')
    assert.equal(csvField(text, ''), '""')
    assert.equal(csvField(text, '\\.'), '"\\."')
    assert.equal(csvField(text, 'a"b,c\nd\r\ne\tf'), '"a""b,c\nd\r\ne\tf"')
    assert.equal(csvField(text, '𝄞 ✓ NULL'), '"𝄞 ✓ NULL"')
    assert.equal(csvField(catalog('bytea'), Buffer.from([0, 0x5c, 0x22])), '"\\x005c22"')
    assert.equal(csvField(catalog('bytea'), Buffer.alloc(0)), '"\\x"')
    assert.equal(csvField(catalog('jsonb'), { q: 'say "hi"\\' }), '"{""q"":""say \\""hi\\""\\\\""}"')
    assert.equal(csvField(catalog('int8'), 7), '7')
    assert.equal(csvField(catalog('int8'), 12n), '"12"')
    assert.equal(csvField(catalog('bool'), true), '"true"')
    assert.ok(csvField(catalog('int8'), 2 ** 60) instanceof CellRefusal)
  })

  it('builds records and joins them into pieces without splitting a record', () => {
    const types = [catalog('int8'), text]
    assert.equal(csvRecord({ id: 1, name: 'x' }, ['id', 'name'], types), '1,"x"\n')
    const refused = csvRecord({ id: 1.5, name: 'x' }, ['id', 'name'], types)
    assert.equal(typeof refused === 'object' && refused.column, 'id')
    assert.deepEqual(joinIntoPieces(['aaa\n', 'bbb\n', 'ccc\n'], 8), ['aaa\nbbb\n', 'ccc\n'])
    assert.deepEqual(joinIntoPieces(['a-long-record\n', 'b\n'], 4), ['a-long-record\n', 'b\n'])
  })
})

describe('per-column fast paths', () => {
  it('give what the general encoders give, for every kind and value', () => {
    const types = [
      catalog('int8'),
      catalog('float8'),
      catalog('numeric'),
      catalog('text'),
      catalog('bool'),
      catalog('uuid'),
      catalog('timestamptz'),
      catalog('bytea'),
      catalog('jsonb'),
      catalog('mood', 'public', { category: 'E' }),
      catalog('_int8', 'pg_catalog', { category: 'A', element: 'int8', elementSchema: 'pg_catalog' }),
    ]
    const values: unknown[] = [
      'text "q"',
      '',
      42,
      1.5,
      2 ** 60,
      Number.NaN,
      12n,
      true,
      new Date(0),
      new Date(Number.NaN),
      Buffer.from('x'),
      { a: 1 },
      [1, [2]],
    ]
    const same = (a: unknown, b: unknown) => (a instanceof CellRefusal ? b instanceof CellRefusal : assert.deepStrictEqual(a, b))
    for (const type of types) {
      const fastArray = arrayEncoder(type)
      const fastCsv = csvEncoder(type)
      for (const value of values) {
        same(fastArray(value), encodeArrayCell(type, value))
        same(fastCsv(value), csvField(type, value))
      }
    }
  })
})
