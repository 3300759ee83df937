// Run by the bulk-stream workload in a fresh process per measurement, so that its peak RSS belongs
// to one load and nothing else:
//
//   node .build/bench/bulk-rss-child.js <database-url> <rows> <copyInto|insertMany|materialized>
//
// Loads <rows> rows into bulk_stream (truncated first): copyInto and insertMany read an async
// generator that makes the rows on the fly; `materialized` builds the whole array first and hands it
// to insertMany, for contrast. Prints one line of JSON: { rows, baselineRssKiB, peakRssKiB, ms }
// (peak = the kernel's maxrss of this process).
import { Kysely, sql } from 'kysely'
import { from as copyFrom } from 'pg-copy-streams'
import { CockroachDialect, copyInto, insertMany } from '../src/index.js'

export interface BulkStreamRow {
  id: number
  sku: string
  name: string
  quantity: number
  price: string
  created_at: Date
}
export interface BulkStreamDB {
  bulk_stream: BulkStreamRow
}

const BASE = Date.UTC(2024, 0, 1)
const makeRow = (i: number): BulkStreamRow => ({
  id: i + 1,
  sku: `SKU-${String(i + 1).padStart(7, '0')}`,
  name: `Item number ${i + 1}`,
  quantity: (i * 7) % 500,
  price: ((i % 10_000) / 100).toFixed(2),
  created_at: new Date(BASE + i * 1000),
})

async function* generate(count: number): AsyncGenerator<BulkStreamRow> {
  for (let i = 0; i < count; i++) yield makeRow(i)
}

async function main(): Promise<void> {
  const [url, rowsArg, mode] = process.argv.slice(2)
  const rows = Number(rowsArg)
  if (!url || !Number.isInteger(rows) || (mode !== 'copyInto' && mode !== 'insertMany' && mode !== 'materialized')) {
    throw new Error('usage: bulk-rss-child.js <database-url> <rows> <copyInto|insertMany|materialized>')
  }
  const db = new Kysely<BulkStreamDB>({ dialect: new CockroachDialect({ connectionString: url, poolConfig: { max: 1 }, copyFrom }) })
  try {
    await sql`truncate bulk_stream`.execute(db)
    // The baseline includes the pool, the driver and the loaded modules.
    const baselineRssKiB = process.resourceUsage().maxRSS
    const started = performance.now()
    let loaded: number
    if (mode === 'copyInto') {
      loaded = (await copyInto(db, 'bulk_stream', generate(rows))).rows
    } else if (mode === 'insertMany') {
      loaded = (await insertMany(db, 'bulk_stream', generate(rows))).rows
    } else {
      const all = Array.from({ length: rows }, (_, i) => makeRow(i))
      loaded = (await insertMany(db, 'bulk_stream', all)).rows
    }
    const ms = performance.now() - started
    const { rows: counted } = await sql<{ n: number }>`select count(*)::int as n from bulk_stream`.execute(db)
    if (counted[0]!.n !== rows || loaded !== rows) throw new Error(`bulk-rss-child (${mode}): expected ${rows} rows, got ${counted[0]!.n}`)
    console.log(JSON.stringify({ rows, baselineRssKiB, peakRssKiB: process.resourceUsage().maxRSS, ms }))
  } finally {
    await db.destroy()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error)
  process.exit(1)
})
