// review-14 #8: numeric takes Infinity, -Infinity and NaN as insertInto does (PostgreSQL 14+
// numeric and CockroachDB DECIMAL both store them); json/jsonb refuse them (not JSON text).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CellRefusal, columnTypeFromCatalog, encodeArrayCell } from '../../../src/bulk-writes/column-encoding.js'
import { csvField } from '../../../src/bulk-writes/csv-encoding.js'

const builtin = (type: string) =>
  columnTypeFromCatalog({ type, typeSchema: 'pg_catalog', category: 'N', element: null, elementSchema: null })

describe('non-finite numbers', () => {
  it('numeric: sent as pg sends them (Infinity, -Infinity, NaN)', () => {
    const numeric = builtin('numeric')
    for (const value of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      assert.equal(encodeArrayCell(numeric, value), value)
      assert.equal(csvField(numeric, value), `"${String(value)}"`)
    }
  })
  it('json and jsonb: refused, with the fix', () => {
    for (const type of ['json', 'jsonb']) {
      for (const value of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
        const refusal = encodeArrayCell(builtin(type), value)
        assert.ok(refusal instanceof CellRefusal)
        assert.match(refusal.problem, /is not JSON/)
        assert.ok(csvField(builtin(type), value) instanceof CellRefusal)
      }
    }
  })
})
