// Workload: a 1,000,000-row load from an async generator through copyInto and insertMany, each in a
// fresh child process (bench/bulk-rss-child.ts) whose peak RSS is the kernel's maxrss: streamed
// input must keep memory flat (one chunk in memory), not proportional to the rows. insertMany of
// the same rows built into an array first is the contrast.
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import type { BenchContext, Workload, WorkloadResult } from '../bench-types.js'
import { formatNumber, markdownTable, median } from '../stats.js'
import { createBenchDatabase } from '../support.js'

const run = promisify(execFile)
const MODES = ['copyInto', 'insertMany', 'materialized'] as const
type Mode = (typeof MODES)[number]
const LABELS: Record<Mode, string> = {
  copyInto: 'copyInto, streamed (async generator)',
  insertMany: 'insertMany, streamed (async generator)',
  materialized: 'insertMany of an array built first',
}
/** Peak RSS of a streamed load of all rows over that of a tenth of them: flat memory is close to 1. */
const FLAT_LIMIT = 1.2

interface Sample {
  readonly rows: number
  readonly baselineRssKiB: number
  readonly peakRssKiB: number
  readonly ms: number
}

async function measure(url: string, rows: number, mode: Mode): Promise<Sample> {
  const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'bulk-rss-child.js')
  const { stdout } = await run(process.execPath, [...process.execArgv, child, url, String(rows), mode], { maxBuffer: 1 << 20 })
  const sample = JSON.parse(stdout.trim().split('\n').pop()!) as Sample
  if (sample.rows !== rows) throw new Error(`bulk-stream child (${mode}): expected ${rows} rows, got ${sample.rows}`)
  return sample
}

const mib = (kib: number) => kib / 1024

export const workload: Workload = {
  name: 'bulk-stream',
  title: 'Streamed bulk load, peak memory',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const rows = context.quick ? 100_000 : 1_000_000
    const small = rows / 10
    const repeats = context.quick ? 1 : 2
    const database = await createBenchDatabase(context.pgUrl, 'bench_bulk_stream')
    try {
      const client = new pg.Client({ connectionString: database.url })
      await client.connect()
      try {
        await client.query(
          'create table bulk_stream (id integer primary key, sku text not null, name text not null, quantity integer not null, ' +
            'price numeric(10, 2) not null, created_at timestamptz not null)',
        )
      } finally {
        await client.end()
      }
      context.log(`bulk-stream: ${formatNumber(rows)} rows, ${repeats} child process(es) per mode, modes interleaved`)
      const samples = new Map<Mode, Sample[]>(MODES.map((mode) => [mode, []]))
      const smallSamples = new Map<Mode, Sample[]>(MODES.map((mode) => [mode, []]))
      for (let r = 0; r < repeats; r++) {
        for (const mode of MODES) {
          samples.get(mode)!.push(await measure(database.url, rows, mode))
          if (mode !== 'materialized') smallSamples.get(mode)!.push(await measure(database.url, small, mode))
        }
      }
      const growth = (mode: Mode) => median(samples.get(mode)!.map((s) => mib(s.peakRssKiB - s.baselineRssKiB)))
      const peak = (list: readonly Sample[]) => median(list.map((s) => s.peakRssKiB))
      const flatness = (mode: Mode) => peak(samples.get(mode)!) / peak(smallSamples.get(mode)!)
      const table = MODES.map((mode) => {
        const list = samples.get(mode)!
        return [
          LABELS[mode],
          `${formatNumber(median(list.map((s) => s.ms)))} ms`,
          formatNumber((rows / median(list.map((s) => s.ms))) * 1000),
          `${formatNumber(median(list.map((s) => mib(s.baselineRssKiB))))} MiB`,
          `${formatNumber(median(list.map((s) => mib(s.peakRssKiB))))} MiB`,
          `${formatNumber(growth(mode))} MiB`,
          mode === 'materialized' ? '' : `${formatNumber(mib(peak(smallSamples.get(mode)!)))} MiB (${formatNumber(flatness(mode))}x)`,
        ]
      })
      const markdown = [
        `${formatNumber(rows)} rows of 6 columns (the bulk-insert table) loaded by one call in a fresh child process per ` +
          `measurement (${repeats} per mode, modes interleaved). The streamed modes read an async generator that makes each row ` +
          `on the fly: copyInto in COPY chunks of 10,000 rows, insertMany in batches of 1,000. Peak RSS is the child's maxrss; ` +
          `the baseline is taken after connecting, before the load. The last column is the peak of the same streamed load of ` +
          `${formatNumber(small)} rows, and the ratio of the two peaks: flat memory keeps it near 1. Medians.`,
        markdownTable(
          ['Load', 'Time', 'Rows/s', 'Baseline RSS', 'Peak RSS', 'Peak minus baseline', `Peak RSS at ${formatNumber(small)} rows`],
          table,
        ),
      ]
      return {
        markdown: markdown.join('\n\n'),
        targets: (['copyInto', 'insertMany'] as const).map((mode) => ({
          description: `${mode}, streamed: peak RSS at ${formatNumber(rows)} rows <= ${FLAT_LIMIT}x that at ${formatNumber(small)}`,
          ratio: flatness(mode),
          limit: FLAT_LIMIT,
          kind: 'max' as const,
          met: flatness(mode) <= FLAT_LIMIT,
        })),
        chart: (['copyInto', 'insertMany'] as const).map((mode) => ({
          label: `${mode} peak RSS, ${formatNumber(rows)} vs ${formatNumber(small)} rows (lower is better)`,
          ratio: flatness(mode),
        })),
      }
    } finally {
      await database.drop()
    }
  },
}
