// What `npm test` prints at the end (scripts/lib/test-totals.mjs): the counts of each Node/kysely
// pair from node:test's events, skipped CockroachDB suites included, a last line CI can read, and no
// colour codes from the package checks when the output is not a terminal.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { repositoryRoot, tarball } from '../../harness/packed-package.js'

interface Totals {
  passed: number
  failed: number
  skipped: number
  todo: number
  skippedSuites: string[]
}

interface TestTotals {
  emptyTotals(): Totals
  addTotals(all: Totals[]): Totals
  summaryLine(totals: Totals): string
  colorArgs(where: { isTTY?: boolean; env?: Record<string, string | undefined> }): string[]
}

// A plain .mjs of the scripts (it runs before anything is compiled), loaded from the repository.
const reporterPath = join(repositoryRoot, 'scripts', 'lib', 'test-totals.mjs')
const totals = (await import(reporterPath)) as TestTotals

describe('the totals of npm test', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kysely-crdb-totals-test-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('counts passed, failed, skipped and todo tests, and a skipped suite as skipped', () => {
    const file = join(dir, 'sample.test.mjs')
    writeFileSync(
      file,
      [
        "import { describe, it } from 'node:test'",
        "describe('CockroachDB only', { skip: 'no CockroachDB here' }, () => { it('x', () => {}); it('y', () => {}) })",
        "describe('everywhere', () => {",
        "  it('passes', () => {})",
        "  it('passes too', () => {})",
        "  it('is skipped', { skip: 'not here' }, () => {})",
        "  it('skips itself', (t) => t.skip('at run time'))",
        "  it('is todo', { todo: true }, () => {})",
        "  it('fails', () => { throw new Error('boom') })",
        '})',
      ].join('\n'),
    )
    const out = join(dir, 'totals.json')
    try {
      execFileSync(process.execPath, ['--test', `--test-reporter=${reporterPath}`, `--test-reporter-destination=${out}`, file], {
        cwd: dir,
        stdio: 'ignore',
        // Without NODE_TEST_CONTEXT, or the child would report to this runner instead of running on its own.
        env: { ...process.env, NODE_OPTIONS: '', NODE_TEST_CONTEXT: undefined },
      })
      assert.fail('the sample has a failing test, so node --test must exit non-zero')
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error
    }
    const counted = JSON.parse(readFileSync(out, 'utf8')) as Totals
    assert.deepEqual(counted, { passed: 2, failed: 1, skipped: 3, todo: 1, skippedSuites: ['CockroachDB only (no CockroachDB here)'] })
    assert.equal(totals.summaryLine(counted), '2 passed, 1 failed, 4 skipped')
  })

  it('ends with one line over all legs, in the form CI reads', () => {
    const leg = (passed: number, failed: number, skipped: number): Totals => ({ ...totals.emptyTotals(), passed, failed, skipped })
    const line = totals.summaryLine(totals.addTotals([leg(400, 0, 12), leg(398, 1, 14), leg(3, 0, 0)]))
    assert.equal(line, '801 passed, 1 failed, 26 skipped')
    assert.match(line, /^\d+ passed, \d+ failed, \d+ skipped$/)
  })

  it('turns colour off for tools that colour a pipe, unless stdout is a terminal', () => {
    assert.deepEqual(totals.colorArgs({ isTTY: false, env: {} }), ['--no-color'])
    assert.deepEqual(totals.colorArgs({ isTTY: undefined, env: {} }), ['--no-color'])
    assert.deepEqual(totals.colorArgs({ isTTY: true, env: {} }), [])
    assert.deepEqual(totals.colorArgs({ isTTY: true, env: { NO_COLOR: '1' } }), ['--no-color'])
    assert.deepEqual(totals.colorArgs({ isTTY: true, env: { FORCE_COLOR: '0' } }), ['--no-color'])
  })

  it('attw, as npm test runs it into a pipe, prints no ANSI escape codes', () => {
    const attw = join(repositoryRoot, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js')
    const args = [attw, tarball(dir), '--profile', 'node16', ...totals.colorArgs({ isTTY: false, env: {} })]
    const output = execFileSync(process.execPath, args, { cwd: repositoryRoot, env: { ...process.env, FORCE_COLOR: undefined } }).toString()
    assert.match(output, /node16 \(from ESM\)/)
    assert.doesNotMatch(output, /\x1b\[/)
  })
})
