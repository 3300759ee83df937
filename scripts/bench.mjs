// The benchmark command (`npm run bench`): builds, starts a throwaway PostgreSQL, runs the benchmark
// workloads in one process (bench/run.ts, on Node 22 + kysely 0.29 unless told otherwise), writes
// RESULTS.md and results.json, regenerates chart.svg from them, and stops the server whatever happens.
// The method is described in docs/benchmarks.md. Never part of `npm test`.
//
// Options (after `npm run bench --`):
//   --quick                  short rounds: the whole suite in under two minutes, for development
//   --only=name,name         only these workloads (point-select, compile, bulk-insert, streaming, ...)
//   --kysely=0.28            run on this Node with kysely 0.28 instead of Node 22 + kysely 0.29
//   --out=dir                where to write RESULTS.md, results.json and chart.svg. Default: bench/ for
//                            a full run of every workload, bench/out/ (git-ignored) for --quick or --only,
//                            so the committed figures always come from one complete run.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { writeChart } from './bench-chart.mjs'
import { node22 } from './lib/node22.mjs'
import { startPostgres } from './lib/postgres-server.mjs'

const args = process.argv.slice(2)
const value = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const known = ['--quick', '--only=', '--kysely=', '--out=']
const unknown = args.filter((a) => !known.some((k) => (k.endsWith('=') ? a.startsWith(k) : a === k)))
if (unknown.length) {
  console.error(`[bench] unknown option ${unknown.join(' ')}; use --quick, --only=name,name, --kysely=0.28, --out=dir`)
  process.exit(2)
}
const quick = args.includes('--quick')
const only = value('only')
const kysely = value('kysely') ?? '0.29'
if (kysely !== '0.29' && kysely !== '0.28') {
  console.error(`[bench] --kysely=${kysely}: use 0.29 (Node 22) or 0.28 (this Node)`)
  process.exit(2)
}
const out = value('out') ?? (quick || only ? join('bench', 'out') : 'bench')
const require = createRequire(import.meta.url)
const log = (message) => console.log(message)

function runner() {
  if (kysely === '0.28') {
    return { node: process.execPath, preload: ['--import', './scripts/lib/kysely-0.28.mjs'], kyselyPackage: 'kysely-0.28' }
  }
  return { node: node22({ log }), preload: [], kyselyPackage: 'kysely' }
}

function runBench(entry, pgUrl) {
  const benchArgs = [`--pg-url=${pgUrl}`, `--out=${out}`, `--kysely-package=${entry.kyselyPackage}`]
  if (quick) benchArgs.push('--quick')
  if (only) benchArgs.push(`--only=${only}`)
  return new Promise((resolve) => {
    // --expose-gc lets workloads collect garbage between measured runs, outside the timings.
    const child = spawn(entry.node, [...entry.preload, '--expose-gc', '.build/bench/run.js', ...benchArgs], { stdio: 'inherit' })
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

let pg
let failed = false
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    pg?.stop()
    process.exit(130)
  })
}

const started = performance.now()
try {
  log('[bench] building dist/ and type-checking src, test, bench and scripts')
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { stdio: 'inherit' })
  const entry = runner()
  pg = await startPostgres({ log })
  const code = await runBench(entry, pg.url)
  if (code !== 0) failed = true
  if (existsSync(join(out, 'results.json'))) {
    writeChart(join(out, 'results.json'), join(out, 'chart.svg'))
    log(`[bench] wrote ${join(out, 'chart.svg')}`)
  }
} catch (error) {
  failed = true
  console.error(`[bench] ${error instanceof Error ? error.message : error}`)
} finally {
  pg?.stop()
}
log(`[bench] ${failed ? 'FAILED' : 'done'} in ${((performance.now() - started) / 1000).toFixed(0)} s`)
process.exit(failed ? 1 : 0)
