// Run by the streaming workload in a fresh process per measurement, so that its peak RSS belongs to
// one stream and nothing else:
//
//   node .build/bench/stream-rss-child.js <database-url> <rows> <kysely|pg-cursor> <chunk-size>
//
// Streams the first <rows> rows of stream_rows and prints one line of JSON:
// { rows, baselineRssKiB, peakRssKiB } (peak = the kernel's maxrss of this process).
import pg from 'pg'
import Cursor from 'pg-cursor'
import { cockroachKysely } from './support.js'
import type { StreamRow, StreamDB } from './workloads/streaming.js'
import { STREAM_COLUMNS } from './workloads/streaming.js'

async function main(): Promise<void> {
  const [url, rowsArg, mode, chunkArg] = process.argv.slice(2)
  const limit = Number(rowsArg)
  const chunkSize = Number(chunkArg)
  if (!url || !Number.isInteger(limit) || !Number.isInteger(chunkSize) || (mode !== 'kysely' && mode !== 'pg-cursor')) {
    throw new Error('usage: stream-rss-child.js <database-url> <rows> <kysely|pg-cursor> <chunk-size>')
  }
  let count = 0
  let checksum = 0
  const consume = (row: StreamRow) => {
    count++
    checksum += row.score
  }
  if (mode === 'kysely') {
    const db = cockroachKysely<StreamDB>(url, 1)
    try {
      // Connect before taking the baseline, so the baseline includes the pool and the driver.
      await db.selectFrom('stream_rows').select('id').limit(1).execute()
      const baselineRssKiB = process.resourceUsage().maxRSS
      for await (const row of db.selectFrom('stream_rows').select(STREAM_COLUMNS).where('id', '<=', limit).stream(chunkSize)) {
        consume(row)
      }
      report(count, checksum, baselineRssKiB)
    } finally {
      await db.destroy()
    }
  } else {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query('select id from stream_rows limit 1')
      const baselineRssKiB = process.resourceUsage().maxRSS
      const text = `select ${STREAM_COLUMNS.map((c) => `"${c}"`).join(', ')} from "stream_rows" where "id" <= $1`
      const cursor = client.query(new Cursor<StreamRow>(text, [limit]))
      for (;;) {
        const rows = await cursor.read(chunkSize)
        if (rows.length === 0) break
        for (const row of rows) consume(row)
      }
      await cursor.close()
      report(count, checksum, baselineRssKiB)
    } finally {
      await client.end()
    }
  }
}

function report(rows: number, checksum: number, baselineRssKiB: number): void {
  console.log(JSON.stringify({ rows, checksum, baselineRssKiB, peakRssKiB: process.resourceUsage().maxRSS }))
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error)
  process.exit(1)
})
