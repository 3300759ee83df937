// Workload 4: streaming 1,000,000 rows with stream(): rows per second against raw pg-cursor at the
// same chunk size, and peak RSS at 100,000 vs 1,000,000 rows, each measured in a fresh process.
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Kysely } from 'kysely'
import Cursor from 'pg-cursor'
import type pg from 'pg'
import type { BenchContext, TargetCheck, Workload, WorkloadResult } from '../bench-types.js'
import { formatNumber, formatRatioSummary, formatSummary, markdownTable, pairedRatio, runRounds, startTimer, summarize } from '../stats.js'
import type { Timing } from '../stats.js'
import { createBenchDatabase, createContenders } from '../support.js'

export interface StreamRow {
  id: number
  name: string
  email: string
  score: number
  created_at: Date
}

export interface StreamDB {
  stream_rows: StreamRow
}

export const STREAM_COLUMNS = ['id', 'name', 'email', 'score', 'created_at'] as const
const CHUNK_SIZE = 1_000
const run = promisify(execFile)

interface RssSample {
  readonly rows: number
  readonly baselineRssKiB: number
  readonly peakRssKiB: number
}

function rawCursorStream(pool: pg.Pool, limit: number): () => Promise<Timing> {
  const text = `select ${STREAM_COLUMNS.map((c) => `"${c}"`).join(', ')} from "stream_rows" where "id" <= $1`
  return async () => {
    const client = await pool.connect()
    try {
      const stop = startTimer()
      const cursor = client.query(new Cursor<StreamRow>(text, [limit]))
      let count = 0
      for (;;) {
        const rows = await cursor.read(CHUNK_SIZE)
        if (rows.length === 0) break
        for (const row of rows) count += row.id > 0 ? 1 : 0
      }
      await cursor.close()
      return check(count, limit, stop())
    } finally {
      client.release()
    }
  }
}

/**
 * pg-cursor behind an async generator that yields one row at a time: the shape of Kysely's
 * `stream()`. Not a target baseline; it shows what that shape costs without Kysely.
 */
function rawCursorRowIterator(pool: pg.Pool, limit: number): () => Promise<Timing> {
  const text = `select ${STREAM_COLUMNS.map((c) => `"${c}"`).join(', ')} from "stream_rows" where "id" <= $1`
  async function* rows(client: pg.PoolClient): AsyncGenerator<StreamRow> {
    const cursor = client.query(new Cursor<StreamRow>(text, [limit]))
    try {
      for (;;) {
        const chunk = await cursor.read(CHUNK_SIZE)
        if (chunk.length === 0) return
        yield* chunk
      }
    } finally {
      await cursor.close()
    }
  }
  return async () => {
    const client = await pool.connect()
    try {
      const stop = startTimer()
      let count = 0
      for await (const row of rows(client)) count += row.id > 0 ? 1 : 0
      return check(count, limit, stop())
    } finally {
      client.release()
    }
  }
}

function kyselyStream(db: Kysely<StreamDB>, limit: number): () => Promise<Timing> {
  return async () => {
    const stop = startTimer()
    let count = 0
    for await (const row of db.selectFrom('stream_rows').select(STREAM_COLUMNS).where('id', '<=', limit).stream(CHUNK_SIZE)) {
      count += row.id > 0 ? 1 : 0
    }
    return check(count, limit, stop())
  }
}

function check(count: number, expected: number, timing: Timing): Timing {
  if (count !== expected) {
    throw new Error(`streaming: expected ${expected} rows, got ${count}`)
  }
  return timing
}

async function measureRss(url: string, rows: number, mode: 'kysely' | 'pg-cursor'): Promise<RssSample> {
  const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'stream-rss-child.js')
  // A fresh process with the same Node flags (and so the same kysely) as this one.
  const { stdout } = await run(process.execPath, [...process.execArgv, child, url, String(rows), mode, String(CHUNK_SIZE)], {
    maxBuffer: 1 << 20,
  })
  const sample = JSON.parse(stdout.trim().split('\n').pop()!) as RssSample
  if (sample.rows !== rows) {
    throw new Error(`streaming RSS child (${mode}): expected ${rows} rows, got ${sample.rows}`)
  }
  return sample
}

const mib = (kib: number) => kib / 1024

export const workload: Workload = {
  name: 'streaming',
  title: 'Streaming with stream()',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const total = context.quick ? 200_000 : 1_000_000
    const small = total / 10
    const rounds = context.quick ? 4 : 11
    const warmup = 1
    const rssRepeats = context.quick ? 2 : 3
    const database = await createBenchDatabase(context.pgUrl, 'bench_streaming')
    try {
      const pools = createContenders<StreamDB>(database.url, 1)
      try {
        context.log(`streaming: loading ${formatNumber(total)} rows`)
        await pools.raw.query(
          'create table stream_rows (id integer primary key, name text not null, email text not null, score integer not null, created_at timestamptz not null)',
        )
        await pools.raw.query(
          `insert into stream_rows select i, 'Person number ' || i, 'person' || i || '@example.com', i % 1000, ` +
            `timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' from generate_series(1, ${total}) i`,
        )
        await pools.raw.query('vacuum analyze stream_rows')

        context.log(`streaming: ${formatNumber(total)} rows per run, chunks of ${CHUNK_SIZE}, ${warmup} warm-up + ${rounds} rounds`)
        const samples = await runRounds(
          [
            { name: 'raw pg-cursor', run: rawCursorStream(pools.raw, total) },
            { name: 'Kysely + CockroachDialect', run: kyselyStream(pools.cockroach, total) },
            { name: 'Kysely + PostgresDialect', run: kyselyStream(pools.postgres, total) },
            { name: 'pg-cursor, one row per await', run: rawCursorRowIterator(pools.raw, total) },
          ],
          { warmup, rounds, collectGarbage: true },
        )
        const wall = (name: string) => samples.get(name)!.map((t) => t.ms)
        const cpu = (name: string) => samples.get(name)!.map((t) => t.cpuMs)
        const raw = wall('raw pg-cursor')
        const crdb = wall('Kysely + CockroachDialect')
        const pgDialect = wall('Kysely + PostgresDialect')
        // Rows per second relative to the baseline = baseline time / contender time.
        const speed = pairedRatio(raw, crdb)
        const speedVsPostgresDialect = pairedRatio(pgDialect, crdb)
        const throughputRows = [...samples.keys()].map((name) => [
          name,
          formatSummary(summarize(wall(name)), ' ms'),
          formatNumber((total / summarize(wall(name)).median) * 1000),
          name === 'raw pg-cursor' ? 'baseline' : formatRatioSummary(pairedRatio(raw, wall(name))),
          formatSummary(summarize(cpu(name)), ' ms'),
          name === 'raw pg-cursor' ? 'baseline' : formatRatioSummary(pairedRatio(cpu(name), cpu('raw pg-cursor'))),
        ])

        context.log(`streaming: peak RSS of fresh processes at ${formatNumber(small)} and ${formatNumber(total)} rows, ${rssRepeats} each`)
        const rss = new Map<string, RssSample[]>()
        for (let repeat = 0; repeat < rssRepeats; repeat++) {
          for (const mode of ['kysely', 'pg-cursor'] as const) {
            for (const rows of repeat % 2 === 0 ? [small, total] : [total, small]) {
              const key = `${mode}:${rows}`
              rss.set(key, [...(rss.get(key) ?? []), await measureRss(database.url, rows, mode)])
            }
          }
        }
        const peak = (mode: string, rows: number) => summarize(rss.get(`${mode}:${rows}`)!.map((s) => s.peakRssKiB))
        const base = (mode: string, rows: number) => summarize(rss.get(`${mode}:${rows}`)!.map((s) => s.baselineRssKiB))
        const rssRatio = peak('kysely', total).median / peak('kysely', small).median
        const rssRows = (['kysely', 'pg-cursor'] as const).map((mode) => [
          mode === 'kysely' ? 'Kysely + CockroachDialect' : 'raw pg-cursor',
          `${formatNumber(mib(base(mode, small).median))} MiB`,
          `${formatNumber(mib(peak(mode, small).median))} MiB`,
          `${formatNumber(mib(peak(mode, total).median))} MiB`,
          `**${(peak(mode, total).median / peak(mode, small).median).toFixed(3)}x**`,
        ])

        const targets: TargetCheck[] = [
          {
            description: `streaming ${formatNumber(total)} rows: rows/s >= 0.9x raw pg-cursor`,
            ratio: speed.median,
            limit: 0.9,
            kind: 'min',
            met: speed.median >= 0.9,
          },
          {
            description: `streaming: peak RSS at ${formatNumber(total)} rows <= 1.2x at ${formatNumber(small)} rows`,
            ratio: rssRatio,
            limit: 1.2,
            kind: 'max',
            met: rssRatio <= 1.2,
          },
        ]
        const markdown = [
          `A table of ${formatNumber(total)} rows (integer, 2 text, integer, timestamptz), read whole with ` +
            `\`select ... where id <= $1\` in chunks of ${CHUNK_SIZE} rows: Kysely's \`stream(${CHUNK_SIZE})\` (an ` +
            `async iterator of rows) vs pg-cursor's \`read(${CHUNK_SIZE})\` loop on a pooled client. ${warmup} warm-up ` +
            `and ${rounds} measured rounds, contenders in rotating order. Rows/s ratios are the contender's rows per ` +
            `second over the baseline's (higher is better). Client CPU is this process's user + system time for the run ` +
            `(lower is better): the library's own cost, and the figure least disturbed by other load on the machine.`,
          markdownTable(
            ['Contender', 'Time for all rows', 'Rows/s', 'Rows/s vs raw pg-cursor', 'Client CPU', 'Client CPU vs raw pg-cursor'],
            throughputRows,
          ),
          `Kysely + CockroachDialect vs Kysely + PostgresDialect: ${formatRatioSummary(speedVsPostgresDialect)} the rows per second. ` +
            `"pg-cursor, one row per await" is raw pg-cursor behind an async generator that yields row by row, the ` +
            `shape of \`stream()\`: what is left between it and Kysely is Kysely's own per-row work.`,
          `Peak RSS (the kernel's maxrss) of a fresh Node process that connects, then streams the first N rows; ` +
            `median of ${rssRepeats} processes each. "After connecting" is the maxrss before the stream starts.`,
          markdownTable(
            ['Reader', 'After connecting', `Peak, ${formatNumber(small)} rows`, `Peak, ${formatNumber(total)} rows`, 'Ratio'],
            rssRows,
          ),
        ]
        return {
          markdown: markdown.join('\n\n'),
          targets,
          chart: [
            { label: 'Rows/s vs pg-cursor (higher is better)', ratio: speed.median },
            { label: 'Rows/s vs PostgresDialect (higher is better)', ratio: speedVsPostgresDialect.median },
            { label: `Peak RSS, ${formatNumber(total)} vs ${formatNumber(small)} rows (lower is better)`, ratio: rssRatio },
          ],
        }
      } finally {
        await pools.close()
      }
    } finally {
      await database.drop()
    }
  },
}
