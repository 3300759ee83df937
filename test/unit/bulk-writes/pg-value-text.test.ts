// pgValueText / pgArrayLiteral against pg's own prepareValue (pg 8.23.1 exports it as pg.utils):
// the copy must send exactly what insertInto().values() sends for the same value.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { pgArrayLiteral, pgValueText } from '../../../src/bulk-writes/pg-value-text.js'

const { prepareValue } = (pg as unknown as { utils: { prepareValue: (value: unknown) => unknown } }).utils

const samples: unknown[] = [
  'plain',
  'quote " and \' and \\ back\tTab\nNL\r\nCRLF ✓ 𝄞 \\. NULL {},',
  '',
  0,
  -1.5,
  1e21,
  123456789012345678901234567890n,
  true,
  false,
  new Date('2024-02-29T12:34:56.789Z'),
  new Date(-62198755200000), // a year-0 date: pg writes BC years
  { a: 'x"y\\z', n: [1, { b: null }] },
  { toPostgres: () => 'custom' },
  [1, null, [2, 3], 'a"b', 'c\\d', Buffer.from([0, 0x5c, 0x22]), new Date(0)],
  [],
  [[]],
]

describe('pgValueText', () => {
  it("gives the text pg's prepareValue sends, for every kind of value", () => {
    for (const value of samples) {
      assert.equal(pgValueText(value), prepareValue(value), `for ${String(value)}`)
    }
  })

  it('writes Buffers and other ArrayBuffer views as bytea hex', () => {
    assert.equal(pgValueText(Buffer.from([0, 1, 255])), '\\x0001ff')
    assert.equal(pgValueText(new Uint8Array([0x5c, 0x22])), '\\x5c22')
    assert.equal(pgValueText(Buffer.alloc(0)), '\\x')
  })

  it('builds the array literal pg builds', () => {
    const array = ['NULL', '', null, 'a,b', '{x}', ['n"e', ['s']], Buffer.from('hi')]
    assert.equal(pgArrayLiteral(array), prepareValue(array))
    assert.equal(pgArrayLiteral(array), '{"NULL","",NULL,"a,b","{x}",{"n\\"e",{"s"}},\\\\x6869}')
  })

  it('follows pg.defaults.parseInputDatesAsUTC', () => {
    const defaults = pg.defaults as { parseInputDatesAsUTC?: boolean }
    const before = defaults.parseInputDatesAsUTC
    try {
      defaults.parseInputDatesAsUTC = true
      const date = new Date('2024-02-29T12:34:56.789Z')
      assert.equal(pgValueText(date), '2024-02-29T12:34:56.789+00:00')
      assert.equal(pgValueText(date), prepareValue(date))
    } finally {
      defaults.parseInputDatesAsUTC = before
    }
  })
})
