// The test command (`npm test`): builds, type-checks, lints, starts a throwaway PostgreSQL (and
// CockroachDB when one is available), runs the whole suite on each supported Node/kysely pair, checks
// the packed package with publint and @arethetypeswrong/cli, and stops every server it started,
// whatever happens.
//
// Options (after `npm test --`):
//   --matrix=full|node22|node20|current  which Node/kysely pairs to run (default: full); `current` is
//                                        this Node with kysely 0.29 on Node >= 22, 0.28 below
//   --no-pack                            skip the packed-package checks and lint (the fast path)
//   --no-lint                            skip ESLint only
//   --no-tests                           build, type-check, lint and check the package; no servers
//   --unit                               the inner loop: an incremental tsc into .build, then node --test
//                                        over .build/test/unit only, on this Node (--matrix=current
//                                        unless given); no dist/ build, servers, pack or lint
//   <filter> ...                         only test files whose path contains one of these strings
//                                        (also skips lint and the package checks)
//
// CockroachDB: COCKROACH_URL, else a `cockroach` binary on PATH (scripts/lib/cockroach-server.mjs);
// otherwise one line says the CockroachDB suite was skipped and why.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import pg from 'pg'
import { startCockroach } from './lib/cockroach-server.mjs'
import { node22 } from './lib/node22.mjs'
import { isPeerRangeTest, runPeerRangeLeg } from './lib/peer-matrix.mjs'
import { startPostgres } from './lib/postgres-server.mjs'
import { addTotals, colorArgs, emptyTotals, legLine, summaryLine } from './lib/test-totals.mjs'

const args = process.argv.slice(2)
const unit = args.includes('--unit')
const matrixArg = args.find((a) => a.startsWith('--matrix='))?.slice('--matrix='.length) ?? (unit ? 'current' : 'full')
const pack = !unit && !args.includes('--no-pack')
const tests = !args.includes('--no-tests')
const filters = args.filter((a) => !a.startsWith('--'))
const lint = pack && !filters.length && !args.includes('--no-lint')
const known = ['--unit', '--no-pack', '--no-lint', '--no-tests']
const unknown = args.filter((a) => a.startsWith('--') && !a.startsWith('--matrix=') && !known.includes(a))
if (unknown.length) {
  console.error(`[test] unknown option ${unknown.join(', ')}; use --matrix=..., ${known.join(', ')} or test-file filters`)
  process.exit(2)
}
const require = createRequire(import.meta.url)
const log = (message) => console.log(message)

function run(cmd, cmdArgs, options = {}) {
  execFileSync(cmd, cmdArgs, { stdio: 'inherit', ...options })
}

/**
 * The compiled test files under `dir` whose TypeScript source still exists: tsc never deletes the
 * output of a file that was moved or removed, and that stale copy must not run.
 */
function listTests(dir) {
  const out = []
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out.push(...listTests(path))
    else if (entry.endsWith('.test.js') && existsSync(relative('.build', path).replace(/\.js$/, '.ts'))) out.push(path)
  }
  return out.sort()
}

/**
 * The inner loop (`--unit`, `npm run test:unit`): the tests that need no server, on one Node, after
 * an incremental type-check and emit into .build (tsc reuses .build/tsconfig.tsbuildinfo, so an
 * unchanged tree compiles in a few seconds). No dist/ build: the unit tests import src/ from .build.
 */
async function runUnitTests() {
  log('[test] unit tests: incremental tsc into .build, then node --test over .build/test/unit (no servers, no pack, no lint)')
  run(process.execPath, [
    require.resolve('typescript/bin/tsc'),
    '-p',
    'tsconfig.json',
    '--incremental',
    '--tsBuildInfoFile',
    '.build/tsconfig.tsbuildinfo',
  ])
  let files = listTests('.build/test/unit')
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)))
  if (files.length === 0) throw new Error(`no unit test files${filters.length ? ` match ${filters.join(', ')}` : ''}`)
  // No server here: a unit test that reaches for one fails instead of finding the developer's own.
  const env = {
    ...process.env,
    PG_URL: '',
    COCKROACH_URL: '',
    COCKROACH_SKIP_REASON: 'unit tests run without servers',
    PACKAGE_TARBALL: '',
  }
  for (const entry of matrix()) {
    log(`\n[test] ${entry.label}, unit: ${files.length} test files`)
    const { code, totals } = await runTests(entry, files, { ...env, KYSELY_CRDB_TEST_LABEL: entry.label }, { timeoutMs: 60_000 })
    legs.push({ label: `${entry.label} (unit)`, totals })
    if (code !== 0) {
      failed = true
      log(`[test] ${entry.label} (unit): FAILED (exit ${code})`)
    }
  }
}

function nodeMajor(binary) {
  return Number(execFileSync(binary, ['-p', 'process.versions.node.split(".")[0]']).toString().trim())
}

function matrix() {
  const system = process.env.npm_node_execpath ?? process.execPath
  const pairs = {
    node22: () => ({ label: 'Node 22 + kysely 0.29', node: node22(), preload: [] }),
    node20: () => ({
      label: `Node ${nodeMajor(system)} + kysely 0.28`,
      node: system,
      preload: ['--import', './scripts/lib/kysely-0.28.mjs'],
    }),
    current: () =>
      nodeMajor(process.execPath) >= 22
        ? { label: `Node ${process.versions.node} + kysely 0.29`, node: process.execPath, preload: [] }
        : {
            label: `Node ${process.versions.node} + kysely 0.28`,
            node: process.execPath,
            preload: ['--import', './scripts/lib/kysely-0.28.mjs'],
          },
  }
  if (matrixArg === 'full') return [pairs.node22(), pairs.node20()]
  if (!(matrixArg in pairs)) throw new Error(`unknown --matrix=${matrixArg}; use full, node22, node20 or current`)
  return [pairs[matrixArg]()]
}

/**
 * Runs the test files on one Node/kysely pair: the spec reporter on the terminal, and
 * scripts/lib/test-totals.mjs counting into a file of its own for the totals at the end.
 * Resolves to the exit code and the counts (a run that wrote none counts as one failure).
 */
function runTests(entry, files, env, { timeoutMs = 300_000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kysely-crdb-totals-'))
  stops.push(() => rmSync(dir, { recursive: true, force: true }))
  const totalsFile = join(dir, 'totals.json')
  const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout']
  reporters.push('--test-reporter=./scripts/lib/test-totals.mjs', `--test-reporter-destination=${totalsFile}`)
  return new Promise((resolve) => {
    const child = spawn(
      entry.node,
      [...entry.preload, '--test', ...reporters, '--test-concurrency=2', `--test-timeout=${timeoutMs}`, ...files],
      { stdio: 'inherit', env },
    )
    child.on('exit', (code, signal) => {
      let totals
      try {
        totals = JSON.parse(readFileSync(totalsFile, 'utf8'))
      } catch {
        totals = { ...emptyTotals(), failed: 1 }
      }
      resolve({ code: code ?? (signal ? 1 : 0), totals })
    })
  })
}

/** The URL without its password, for logs. */
function redact(url) {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable URL)'
  }
}

/** `select version()`: CI logs show which server the suite ran against, and a bad URL fails once, early. */
async function serverVersion(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 })
  try {
    await client.connect()
    const { rows } = await client.query('select version() as version')
    return String(rows[0].version)
  } catch (error) {
    throw new Error(`cannot query the CockroachDB server at ${redact(url)}: ${error instanceof Error ? error.message : error}`, {
      cause: error,
    })
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Packs the package right after the build into a directory of this run's own, and checks the
 * tarball holds both builds: other runs in the same working tree rebuild dist/ at any time, so the
 * suite (test/integration/package/package.test.ts, via PACKAGE_TARBALL) and the checks below use this one file, and a
 * tarball caught mid-rebuild is built and packed again.
 */
function packPackage() {
  const dir = mkdtempSync(join(tmpdir(), 'kysely-crdb-tarball-'))
  stops.push(() => rmSync(dir, { recursive: true, force: true }))
  const required = ['dist/esm/index.js', 'dist/cjs/index.js', 'dist/cjs/package.json']
  for (let attempt = 1; ; attempt++) {
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
      .toString()
      .trim()
      .split('\n')
      .pop()
    const path = join(dir, name)
    const listing = new Set(execFileSync('tar', ['-tzf', path]).toString().split('\n'))
    const missing = required.filter((entry) => !listing.has(`package/${entry}`))
    if (!missing.length) return path
    if (attempt === 3) {
      throw new Error(`the packed package lacks ${missing.join(', ')}, three times: is another run rebuilding dist/ in a loop?`)
    }
    log(`[test] the packed package lacks ${missing.join(', ')} (another run rebuilding dist/?): building and packing again`)
    run(process.execPath, ['scripts/build.mjs'])
  }
}

function checkPackage(path) {
  log('\n[test] checking the packed package with publint and @arethetypeswrong/cli')
  check('publint', () => run(process.execPath, [join('node_modules', 'publint', 'src', 'cli.js'), 'run', '--strict', path]))
  // attw colours its table even into a pipe: no colour unless stdout is a terminal.
  const attw = [join('node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), path, '--profile', 'node16']
  check('attw', () => run(process.execPath, [...attw, ...colorArgs({ isTTY: process.stdout.isTTY, env: process.env })]))
}

/** A check that is not a test file (lint, format, publint, attw): one passed or failed entry in the totals. */
function check(name, fn) {
  try {
    fn()
    checks.passed++
  } catch {
    checks.failed++
    failed = true
    log(`[test] ${name}: FAILED`)
  }
}

const stops = []
let failed = false
/** Per leg (a Node/kysely pair, the peer ranges), for the totals at the end. */
const legs = []
const checks = emptyTotals()
let cockroachSkipped = ''
const stopAll = () => {
  while (stops.length) stops.pop()()
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopAll()
    process.exit(130)
  })
}

try {
  if (unit) {
    await runUnitTests()
  } else {
    await runAll()
  }
} catch (error) {
  failed = true
  // The step that threw (the build, tsc, a server that would not start) counts as one failure.
  checks.failed++
  console.error(`[test] ${error instanceof Error ? error.message : error}`)
} finally {
  stopAll()
}

async function runAll() {
  log('[test] building dist/ (ESM + CommonJS) and type-checking src, test, bench and scripts')
  run(process.execPath, ['scripts/build.mjs'])
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'])
  let files = tests ? listTests('.build/test') : []
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)))
  if (tests && files.length === 0) throw new Error(`no test files match ${filters.join(', ')}`)
  // The peer-range tests run once, in a leg of their own (scripts/lib/peer-matrix.mjs).
  const peerFiles = files.filter(isPeerRangeTest)
  files = files.filter((f) => !isPeerRangeTest(f))
  const checkPack = pack && !filters.length
  // Tests that read the packed package (PACKAGE_TARBALL): pack once here, not in each of them.
  const tarballTests = ['package.test.js', 'packed-types.test.js', 'packed-docs.test.js', 'test-command.test.js']
  const tarball = checkPack || peerFiles.length || files.some((f) => tarballTests.some((t) => f.endsWith(t))) ? packPackage() : ''

  if (lint) {
    log('[test] linting with ESLint (eslint.config.js)')
    // Keep going on failure: the test results are worth seeing too; the run still fails at the end.
    check('lint', () => run(process.execPath, [join('node_modules', 'eslint', 'bin', 'eslint.js'), '.']))
    // One formatting for the tree (.prettierrc.json, .prettierignore); `npm run format` applies it.
    log('[test] checking the formatting with Prettier (npm run format fixes it)')
    check('format', () =>
      run(process.execPath, [join('node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '--log-level=warn', '.']),
    )
  }

  if (tests) {
    const entries = matrix()
    const postgres = await startPostgres({ log })
    stops.push(postgres.stop)
    const crdb = await startCockroach({ log })
    if (crdb.skipped) {
      cockroachSkipped = crdb.skipped
      log(`[test] ${crdb.skipped}`)
    } else {
      stops.push(crdb.stop)
      const version = await serverVersion(crdb.url)
      log(`[test] CockroachDB suite enabled (${crdb.source}): ${version}`)
      if (!version.startsWith('CockroachDB')) {
        log('[test] warning: that server is not CockroachDB; the CockroachDB-only tests will fail against it')
      }
    }

    const env = {
      ...process.env,
      PG_URL: postgres.url,
      COCKROACH_URL: crdb.skipped ? '' : crdb.url,
      COCKROACH_SKIP_REASON: crdb.skipped ?? '',
      PACKAGE_TARBALL: tarball,
    }
    for (const entry of files.length ? entries : []) {
      log(`\n[test] ${entry.label}: ${files.length} test files (${files.map((f) => relative('.build', f)).join(', ')})`)
      const { code, totals } = await runTests(entry, files, { ...env, KYSELY_CRDB_TEST_LABEL: entry.label })
      legs.push({ label: entry.label, totals })
      if (code !== 0) {
        failed = true
        log(`[test] ${entry.label}: FAILED (exit ${code})`)
      }
    }
    if (peerFiles.length) {
      // Each peer-range test starts the consumer's own Node; this one only runs the files.
      const entry = { label: 'peer ranges (packed package on the floor and newest peers)', node: process.execPath, preload: [] }
      const run = (peer, peerEnv) => runTests(entry, peer, peerEnv, { timeoutMs: 600_000 })
      const { code, totals } = await runPeerRangeLeg(peerFiles, env, { log, run })
      legs.push({ label: entry.label, totals })
      if (code !== 0) {
        failed = true
        log(`[test] ${entry.label}: FAILED (exit ${code})`)
      }
    }
  }

  if (checkPack) {
    checkPackage(tarball)
  }
}
const parts = [...legs]
if (checks.passed || checks.failed) parts.push({ label: 'checks (lint, format, publint, attw, and any step that failed)', totals: checks })
const total = addTotals(parts.map((p) => p.totals))
log(`\n[test] totals over ${legs.length} leg(s) and the checks:`)
for (const { label, totals } of parts) log(legLine(label, totals))
if (cockroachSkipped)
  log(`[test] counted as skipped: the CockroachDB suites (${cockroachSkipped.replace(/^CockroachDB suite skipped: /, '')})`)
if (failed && total.failed === 0) total.failed = 1 // a leg failed without a failing test to show for it
log(failed ? '[test] FAILED' : '[test] all passed')
// The last line, alone, in the form CI reads.
log(summaryLine(total))
process.exit(failed ? 1 : 0)
