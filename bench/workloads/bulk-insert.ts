// Workload 3: bulk insert of 100,000 rows in multi-row batches, the same batch size for everyone:
// raw pg (one multi-row INSERT per batch) vs Kysely on CockroachDialect (insertInto().values(batch)),
// with Kysely's PostgresDialect alongside for reference; and, in the same interleaved rounds, the
// bulk helpers: insertMany and upsertMany (one array per column), copyInto (COPY ... WITH CSV), and a
// hand-written raw-pg unnest statement that shows the helpers' own overhead over the same SQL.
import { Kysely } from 'kysely'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CockroachDialect, copyInto, insertMany, upsertMany } from '../../src/index.js'
import type { BenchContext, Workload, WorkloadResult } from '../bench-types.js'
import { formatNumber, formatRatioSummary, formatSummary, markdownTable, pairedRatio, runRounds, startTimer, summarize } from '../stats.js'
import { createBenchDatabase, createContenders } from '../support.js'

interface Item {
  id: number
  sku: string
  name: string
  quantity: number
  price: string
  created_at: Date
}

interface DB {
  items: Item
}

const COLUMNS = ['id', 'sku', 'name', 'quantity', 'price', 'created_at'] as const
/** 1,000 rows x 6 columns = 6,000 parameters per statement, far below the protocol's 65,535. */
const BATCH_SIZE = 1_000

function makeRows(count: number): Item[] {
  const base = Date.UTC(2024, 0, 1)
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    sku: `SKU-${String(i + 1).padStart(7, '0')}`,
    name: `Item number ${i + 1}`,
    quantity: (i * 7) % 500,
    price: ((i % 10_000) / 100).toFixed(2),
    created_at: new Date(base + i * 1000),
  }))
}

function batches<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

/**
 * What a careful raw-pg user writes: the statement text built once per batch length, values
 * flattened per batch, one unnamed statement per batch.
 */
function rawInserter(pool: pg.Pool): (batch: readonly Item[]) => Promise<unknown> {
  const texts = new Map<number, string>()
  const textFor = (rows: number) => {
    let text = texts.get(rows)
    if (text === undefined) {
      const tuples = Array.from({ length: rows }, (_, r) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`)
      text = `insert into "items" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`
      texts.set(rows, text)
    }
    return text
  }
  return (batch) => {
    const values: unknown[] = []
    for (const row of batch) values.push(row.id, row.sku, row.name, row.quantity, row.price, row.created_at)
    return pool.query(textFor(batch.length), values)
  }
}

function kyselyInserter(db: Kysely<DB>): (batch: readonly Item[]) => Promise<unknown> {
  return (batch) => db.insertInto('items').values(batch).execute()
}

/** The SQL insertMany sends, written by hand: one array parameter per column, per batch. */
function rawUnnestInserter(pool: pg.Pool): (batch: readonly Item[]) => Promise<unknown> {
  const text =
    `insert into "items" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) select * from ` +
    'unnest($1::int4[], $2::text[], $3::text[], $4::int4[], $5::numeric[], $6::timestamptz[])'
  return (batch) => {
    const columns: unknown[][] = COLUMNS.map(() => new Array<unknown>(batch.length))
    for (let r = 0; r < batch.length; r++) {
      const row = batch[r]!
      columns[0]![r] = row.id
      columns[1]![r] = row.sku
      columns[2]![r] = row.name
      columns[3]![r] = row.quantity
      columns[4]![r] = row.price
      columns[5]![r] = row.created_at
    }
    return pool.query(text, columns)
  }
}

/**
 * COPY as a careful raw-pg user writes it: pg-copy-streams on a pooled client, 10,000-row chunks of
 * CSV built with a hand-written encoder for these six columns, one COPY per chunk, no transaction.
 * The reference for copyInto's own overhead (its transactions, checks and general encoder).
 */
function rawCopyLoader(pool: pg.Pool, rows: readonly Item[]): () => Promise<unknown> {
  const text = `copy "items" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) from stdin with csv`
  const csv = (row: Item) => `${row.id},"${row.sku}","${row.name}",${row.quantity},${row.price},${row.created_at.toISOString()}\n`
  return async () => {
    const client = await pool.connect()
    try {
      for (let i = 0; i < rows.length; i += 10_000) {
        const chunk = rows.slice(i, i + 10_000)
        const stream = client.query(copyFrom(text))
        await pipeline(Readable.from([chunk.map(csv).join('')]), stream)
      }
    } finally {
      client.release()
    }
  }
}

const TIME_TARGETS = [
  { contender: 'insertMany', limit: 0.55 },
  { contender: 'copyInto', limit: 0.35 },
] as const

export const workload: Workload = {
  name: 'bulk-insert',
  title: 'Bulk insert in multi-row batches',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const rowCount = context.quick ? 20_000 : 100_000
    const rounds = context.quick ? 3 : 15
    const warmup = 1
    const rows = makeRows(rowCount)
    const chunks = batches(rows, BATCH_SIZE)
    const database = await createBenchDatabase(context.pgUrl, 'bench_bulk_insert')
    try {
      const pools = createContenders<DB>(database.url, 1)
      // The bulk helpers' instance: CockroachDialect with pg-copy-streams for copyInto, one connection like the others.
      const bulk = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: database.url, poolConfig: { max: 1 }, copyFrom }) })
      try {
        await pools.raw.query(
          'create table items (id integer primary key, sku text not null, name text not null, quantity integer not null, ' +
            'price numeric(10, 2) not null, created_at timestamptz not null)',
        )
        const insertAll = (insert: (batch: readonly Item[]) => Promise<unknown>) => async () => {
          // Emptying the table is not part of the timing.
          await pools.raw.query('truncate items')
          const stop = startTimer()
          for (const chunk of chunks) await insert(chunk)
          const timing = stop()
          const { rows: counted } = await pools.raw.query<{ n: number }>('select count(*)::int as n from items')
          if (counted[0]!.n !== rowCount) {
            throw new Error(`bulk insert: expected ${rowCount} rows, found ${counted[0]!.n}`)
          }
          return timing
        }
        // A whole load in one call: its batching, the catalog query and the transactions are inside the timing.
        const loadAll = (load: () => Promise<unknown>) => async () => {
          await pools.raw.query('truncate items')
          const stop = startTimer()
          await load()
          const timing = stop()
          const { rows: counted } = await pools.raw.query<{ n: number }>('select count(*)::int as n from items')
          if (counted[0]!.n !== rowCount) {
            throw new Error(`bulk insert: expected ${rowCount} rows, found ${counted[0]!.n}`)
          }
          return timing
        }
        context.log(`bulk-insert: ${formatNumber(rowCount)} rows in batches of ${BATCH_SIZE}, ${warmup} warm-up + ${rounds} rounds`)
        const samples = await runRounds(
          [
            { name: 'raw pg', run: insertAll(rawInserter(pools.raw)) },
            { name: 'Kysely + CockroachDialect', run: insertAll(kyselyInserter(pools.cockroach)) },
            { name: 'Kysely + PostgresDialect', run: insertAll(kyselyInserter(pools.postgres)) },
            { name: 'raw pg unnest (hand-written)', run: insertAll(rawUnnestInserter(pools.raw)) },
            { name: 'raw pg COPY (hand-written)', run: loadAll(rawCopyLoader(pools.raw, rows)) },
            { name: 'insertMany', run: loadAll(() => insertMany(bulk, 'items', rows, { batchSize: BATCH_SIZE })) },
            { name: 'insertMany (batchSize 10,000)', run: loadAll(() => insertMany(bulk, 'items', rows, { batchSize: 10_000 })) },
            { name: 'upsertMany', run: loadAll(() => upsertMany(bulk, 'items', rows, { batchSize: BATCH_SIZE })) },
            { name: 'copyInto', run: loadAll(() => copyInto(bulk, 'items', rows, { chunkRows: 10_000 })) },
          ],
          { warmup, rounds, collectGarbage: true },
        )
        const wall = (name: string) => samples.get(name)!.map((t) => t.ms)
        const cpu = (name: string) => samples.get(name)!.map((t) => t.cpuMs)
        const raw = wall('raw pg')
        const crdb = wall('Kysely + CockroachDialect')
        const ratio = pairedRatio(crdb, raw)
        const table = [...samples.keys()].map((name) => [
          name,
          formatSummary(summarize(wall(name)), ' ms'),
          formatNumber((rowCount / summarize(wall(name)).median) * 1000),
          name === 'raw pg' ? 'baseline' : formatRatioSummary(pairedRatio(wall(name), raw)),
          formatSummary(summarize(cpu(name)), ' ms'),
          name === 'raw pg' ? 'baseline' : formatRatioSummary(pairedRatio(cpu(name), cpu('raw pg'))),
        ])
        const markdown = [
          `${formatNumber(rowCount)} rows of 6 columns (integer, 2 text, integer, numeric, timestamptz) into a table ` +
            `with a primary key, ${chunks.length} multi-row INSERTs of ${BATCH_SIZE} rows (${BATCH_SIZE * COLUMNS.length} ` +
            `parameters each) sent one after another on one connection. Raw pg builds each statement text once per ` +
            `batch length and flattens the values; Kysely builds and compiles \`insertInto('items').values(batch)\` for ` +
            `every batch. The table is truncated before each run, outside the timing. ${warmup} warm-up and ${rounds} ` +
            `measured rounds, contenders in rotating order. Client CPU is this process's user + system time for the run. ` +
            `In the same rounds: \`insertMany(db, 'items', rows)\` (batches of ${BATCH_SIZE}, and of 10,000 for comparison), ` +
            `\`upsertMany\` (on PostgreSQL \`insert ... on conflict (id) do update\`, into the empty table) and \`copyInto\` ` +
            `(COPY ... WITH CSV in chunks of 10,000 rows), each batch its own withRetry transaction and the catalog query ` +
            `inside the timing; and the statement insertMany sends, hand-written on raw pg (one \`unnest\` of six array ` +
            `parameters per batch, no transaction) and COPY hand-written with pg-copy-streams (10,000-row CSV chunks from an ` +
            `encoder written for these six columns, no transaction), which show the helpers' own overhead over the same SQL.`,
          markdownTable(['Contender', 'Time for all rows', 'Rows/s', 'Time vs raw pg', 'Client CPU', 'Client CPU vs raw pg'], table),
        ]
        return {
          markdown: markdown.join('\n\n'),
          targets: [
            {
              description: `bulk insert of ${formatNumber(rowCount)} rows: time <= 1.1x raw pg`,
              ratio: ratio.median,
              limit: 1.1,
              kind: 'max',
              met: ratio.median <= 1.1,
            },
            ...TIME_TARGETS.map(({ contender, limit }) => {
              const median = pairedRatio(wall(contender), raw).median
              return {
                description: `${contender}, ${formatNumber(rowCount)} rows: time <= ${limit}x raw pg multi-row VALUES`,
                ratio: median,
                limit,
                kind: 'max' as const,
                met: median <= limit,
              }
            }),
          ],
          chart: [
            { label: 'Time vs raw pg (lower is better)', ratio: ratio.median },
            { label: 'Time vs PostgresDialect (lower is better)', ratio: pairedRatio(crdb, wall('Kysely + PostgresDialect')).median },
            { label: 'insertMany time vs raw pg (lower is better)', ratio: pairedRatio(wall('insertMany'), raw).median },
            { label: 'upsertMany time vs raw pg (lower is better)', ratio: pairedRatio(wall('upsertMany'), raw).median },
            { label: 'copyInto time vs raw pg (lower is better)', ratio: pairedRatio(wall('copyInto'), raw).median },
          ],
        }
      } finally {
        await Promise.all([pools.close(), bulk.destroy()])
      }
    } finally {
      await database.drop()
    }
  },
}
