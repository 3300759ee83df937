// The benchmark runner, started by scripts/bench.mjs (which builds, starts the throwaway PostgreSQL
// and stops it again). It runs the workloads in one process, one after another, prints their tables
// and writes RESULTS.md and results.json.
//
//   node .build/bench/run.js --pg-url=postgres://... [--quick] [--only=name,name] [--out=bench]
//                            [--kysely-package=kysely]
//   node .build/bench/run.js --render=bench      (RESULTS.md again from bench/results.json)
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'
import type { BenchContext, ChartBar, TargetCheck, Workload } from './bench-types.js'
import { markdownTable } from './stats.js'

/** Suite order; workloads not listed here run after these, by file name. */
const ORDER = [
  'point-select',
  'compile',
  'bulk-insert',
  'bulk-stream',
  'bulk-delete',
  'streaming',
  'retry-contention',
  'introspection',
  'failover',
]

interface Options {
  readonly pgUrl: string
  readonly quick: boolean
  readonly only: readonly string[]
  readonly out: string
  readonly kyselyPackage: string
}

interface LoadedWorkload {
  readonly file: string
  readonly workload: Workload
}

export interface WorkloadReport {
  readonly name: string
  readonly title: string
  readonly seconds: number
  readonly markdown: string
  readonly targets: readonly TargetCheck[]
  readonly chart: readonly ChartBar[]
  readonly error?: string
  /** Set when the workload comes from another run than the rest (merged in by hand after an --only run). */
  readonly run?: {
    readonly command: string
    readonly generatedAt: string
    readonly loadAverage: { readonly start: number; readonly end: number }
  }
}

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly postgres: string
  readonly kysely: string
  readonly pg: string
  readonly pgCursor: string
  readonly pgCopyStreams?: string
  /** The 1-minute load average when the run started and when it ended: how busy the machine was. */
  readonly loadAverage: { readonly start: number; readonly end: number }
}

export interface Results {
  readonly generatedAt: string
  readonly mode: 'full' | 'quick'
  readonly only: readonly string[]
  readonly machine: Machine
  readonly workloads: readonly WorkloadReport[]
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const known = ['--quick', '--pg-url=', '--only=', '--out=', '--kysely-package=']
  for (const arg of argv) {
    if (!known.some((k) => (k.endsWith('=') ? arg.startsWith(k) : arg === k))) {
      throw new Error(`unknown option ${arg}; use --quick, --only=name,name, --out=dir`)
    }
  }
  const pgUrl = value('pg-url') ?? process.env.PG_URL
  if (!pgUrl) {
    throw new Error('no server: pass --pg-url=postgres://... (npm run bench starts one for you)')
  }
  return {
    pgUrl,
    quick: argv.includes('--quick'),
    only: (value('only') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    out: value('out') ?? 'bench',
    kyselyPackage: value('kysely-package') ?? 'kysely',
  }
}

async function loadWorkloads(dir: string): Promise<LoadedWorkload[]> {
  const loaded: LoadedWorkload[] = []
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort()) {
    const module = (await import(pathToFileURL(join(dir, file)).href)) as { workload?: Workload }
    if (module.workload === undefined) {
      continue // a helper module next to the workloads
    }
    if (typeof module.workload.run !== 'function' || typeof module.workload.name !== 'string') {
      throw new Error(`${file}: \`workload\` must implement Workload from bench/bench-types.ts`)
    }
    loaded.push({ file, workload: module.workload })
  }
  const rank = (w: Workload) => (ORDER.includes(w.name) ? ORDER.indexOf(w.name) : ORDER.length)
  return loaded.sort((a, b) => rank(a.workload) - rank(b.workload) || a.file.localeCompare(b.file))
}

function packageVersion(name: string): string {
  try {
    const path = join('node_modules', name, 'package.json')
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

async function describeMachine(options: Options): Promise<Machine> {
  const client = new pg.Client({ connectionString: options.pgUrl })
  await client.connect()
  let postgres: string
  try {
    postgres = (await client.query<{ server_version: string }>('show server_version')).rows[0]!.server_version
  } finally {
    await client.end()
  }
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
    postgres: `PostgreSQL ${postgres} (fsync off, on the same machine)`,
    kysely: packageVersion(options.kyselyPackage),
    pg: packageVersion('pg'),
    pgCursor: packageVersion('pg-cursor'),
    pgCopyStreams: packageVersion('pg-copy-streams'),
    loadAverage: { start: round2(os.loadavg()[0]!), end: Number.NaN },
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100
}

function targetRows(reports: readonly WorkloadReport[]): string[][] {
  return reports.flatMap((report) =>
    report.targets.map((t) => [
      report.title,
      t.description,
      `${t.ratio.toFixed(3)}x`,
      `${t.kind === 'max' ? '<=' : '>='} ${t.limit}x`,
      t.met ? 'met' : `**missed** by ${missedBy(t)}`,
    ]),
  )
}

function missedBy(t: TargetCheck): string {
  if (t.limit === 0) {
    return String(Math.abs(t.ratio))
  }
  const percent = Math.abs((t.ratio / t.limit - 1) * 100)
  return `${percent.toFixed(percent < 0.1 ? 2 : 1)}%`
}

function renderMarkdown(results: Results): string {
  const { machine } = results
  const lines = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench${results.mode === 'quick' ? ' -- --quick' : ''}\` on ${results.generatedAt}. ` +
      'Do not edit by hand: the method is in [docs/benchmarks.md](../docs/benchmarks.md). Ratios are the headline: ' +
      'every contender runs on the same machine, against the same server, in the same process, interleaved with its ' +
      'baselines; absolute figures are context and depend on the machine.',
    '',
    markdownTable(
      ['Machine', ''],
      [
        ['CPU', `${machine.cpu}, ${machine.cores} cores`],
        ['Memory', `${machine.memoryGiB} GiB`],
        ['OS', machine.os],
        ['Node.js', machine.node],
        ['Database', machine.postgres],
        ['kysely', machine.kysely],
        ['pg / pg-cursor / pg-copy-streams', `${machine.pg} / ${machine.pgCursor} / ${machine.pgCopyStreams ?? 'unknown'}`],
        [
          'Load average (1 min)',
          `${machine.loadAverage.start} at the start, ${machine.loadAverage.end} at the end (${machine.cores} cores; ` +
            'above the core count, other processes competed with the benchmark for the CPU)',
        ],
      ],
    ),
    '',
    '## Targets',
    '',
    '![Ratios of every workload against its baseline](chart.svg)',
    '',
  ]
  const rows = targetRows(results.workloads)
  lines.push(rows.length ? markdownTable(['Workload', 'Target', 'Ratio', 'Limit', 'Result'], rows) : 'No targets were checked.', '')
  for (const [i, report] of results.workloads.entries()) {
    lines.push(`## ${i + 1}. ${report.title}`, '')
    if (report.run !== undefined) {
      lines.push(
        `Measured in a separate run, \`${report.run.command}\` on ${report.run.generatedAt} (load average ` +
          `${report.run.loadAverage.start} at the start, ${report.run.loadAverage.end} at the end), merged into this file.`,
        '',
      )
    }
    if (report.error !== undefined) {
      lines.push(`**Failed:** ${report.error}`, '')
      continue
    }
    lines.push(report.markdown.trim(), '', `_Workload \`${report.name}\` took ${report.seconds.toFixed(0)} s._`, '')
  }
  return lines.join('\n')
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const render = argv.find((a) => a.startsWith('--render='))
  if (render !== undefined) {
    // Re-renders RESULTS.md from a saved results.json (after a change to this file's format).
    const dir = render.slice('--render='.length)
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results
    writeFileSync(join(dir, 'RESULTS.md'), renderMarkdown(results))
    console.log(`[bench] wrote ${join(dir, 'RESULTS.md')} from ${join(dir, 'results.json')}`)
    return 0
  }
  const options = parseOptions(argv)
  const here = dirname(fileURLToPath(import.meta.url))
  let workloads = await loadWorkloads(join(here, 'workloads'))
  if (options.only.length) {
    const unknown = options.only.filter((name) => !workloads.some((w) => w.workload.name === name))
    if (unknown.length) {
      throw new Error(`--only: no workload named ${unknown.join(', ')}; there are ${workloads.map((w) => w.workload.name).join(', ')}`)
    }
    workloads = workloads.filter((w) => options.only.includes(w.workload.name))
  }
  const machine = await describeMachine(options)
  console.log(
    `[bench] ${workloads.length} workloads (${workloads.map((w) => w.workload.name).join(', ')})` +
      `${options.quick ? ', quick mode' : ''}; Node ${machine.node}, kysely ${machine.kysely}, ${machine.postgres}`,
  )

  const reports: WorkloadReport[] = []
  for (const { workload } of workloads) {
    const context: BenchContext = {
      pgUrl: options.pgUrl,
      quick: options.quick,
      log: (message) => console.log(`[bench] ${message}`),
    }
    console.log(`\n[bench] ${workload.name}: ${workload.title}`)
    const start = performance.now()
    try {
      const result = await workload.run(context)
      const report = { name: workload.name, title: workload.title, seconds: (performance.now() - start) / 1000, ...result }
      reports.push(report)
      console.log(`\n${result.markdown}\n`)
      const rows = targetRows([report])
      if (rows.length) console.log(markdownTable(['Workload', 'Target', 'Ratio', 'Limit', 'Result'], rows))
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
      console.error(`[bench] ${workload.name} FAILED: ${message}`)
      reports.push({
        name: workload.name,
        title: workload.title,
        seconds: (performance.now() - start) / 1000,
        markdown: '',
        targets: [],
        chart: [],
        error: error instanceof Error ? error.message : String(error),
      })
    }
  }

  const results: Results = {
    generatedAt: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    only: options.only,
    machine: { ...machine, loadAverage: { start: machine.loadAverage.start, end: round2(os.loadavg()[0]!) } },
    workloads: reports,
  }
  if (!existsSync(options.out)) mkdirSync(options.out, { recursive: true })
  writeFileSync(join(options.out, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  writeFileSync(join(options.out, 'RESULTS.md'), renderMarkdown(results))
  const rows = targetRows(reports)
  console.log('\n## Summary\n')
  console.log(rows.length ? markdownTable(['Workload', 'Target', 'Ratio', 'Limit', 'Result'], rows) : 'No targets were checked.')
  const failed = reports.filter((r) => r.error !== undefined)
  console.log(`\n[bench] wrote ${join(options.out, 'RESULTS.md')} and results.json`)
  if (failed.length) {
    console.error(`[bench] ${failed.length} workload(s) failed: ${failed.map((r) => r.name).join(', ')}`)
    return 1
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  },
)
