// The totals `npm test` ends with. A node:test reporter (`--test-reporter=./scripts/lib/test-totals.mjs`)
// that writes one leg's counts as JSON to its destination, and the pure functions scripts/test.mjs
// adds and prints them with. The spec reporter's own "ℹ pass" lines do not count a skipped
// `describe` at all (the CockroachDB suites without a server), so the counts come from the events.

/**
 * @typedef {{ passed: number, failed: number, skipped: number, todo: number, skippedSuites: string[] }} Totals
 */

/** @returns {Totals} */
export function emptyTotals() {
  return { passed: 0, failed: 0, skipped: 0, todo: 0, skippedSuites: [] }
}

/**
 * Counts one node:test event into `totals`: a test that passed, failed, was skipped or is todo; a
 * skipped suite as one skipped entry (its tests are never enumerated); a failed suite only when it
 * failed itself (a hook, or its file crashing), not because tests in it failed.
 *
 * @param {Totals} totals
 * @param {{ type: string, data?: any }} event
 */
export function countEvent(totals, event) {
  if (event.type !== 'test:pass' && event.type !== 'test:fail') return
  const data = event.data ?? {}
  const isSuite = data.details?.type === 'suite'
  if (event.type === 'test:pass') {
    if (data.skip !== undefined && data.skip !== false) {
      totals.skipped++
      if (isSuite) totals.skippedSuites.push(`${data.name}${typeof data.skip === 'string' ? ` (${data.skip})` : ''}`)
    } else if (data.todo !== undefined && data.todo !== false) {
      totals.todo++
    } else if (!isSuite) {
      totals.passed++
    }
    return
  }
  if (isSuite && data.details?.error?.failureType === 'subtestsFailed') return
  totals.failed++
}

/**
 * @param {Totals[]} all
 * @returns {Totals}
 */
export function addTotals(all) {
  const sum = emptyTotals()
  for (const t of all) {
    sum.passed += t.passed
    sum.failed += t.failed
    sum.skipped += t.skipped
    sum.todo += t.todo
    sum.skippedSuites.push(...t.skippedSuites)
  }
  return sum
}

/**
 * The last line of `npm test`, alone on its line, in the form CI reads: `N passed, N failed, N skipped`.
 *
 * @param {Totals} totals
 */
export function summaryLine(totals) {
  return `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped + totals.todo} skipped`
}

/** One line per leg (or check) for the end of the run. */
export function legLine(label, totals) {
  const suites = totals.skippedSuites.length ? ` (${totals.skippedSuites.length} of them skipped suites)` : ''
  return `[test]   ${label}: ${summaryLine(totals)}${suites}`
}

/**
 * Arguments for tools that print colour whatever their output is (attw's table): no colour unless
 * stdout is a terminal, and never with NO_COLOR or FORCE_COLOR=0 set.
 *
 * @param {{ isTTY?: boolean, env?: Record<string, string | undefined> }} where
 */
export function colorArgs({ isTTY, env = {} }) {
  const off = !isTTY || env.NO_COLOR !== undefined || env.FORCE_COLOR === '0'
  return off ? ['--no-color'] : []
}

/** The reporter: counts every event, then writes the totals as JSON. */
export default async function* totalsReporter(source) {
  const totals = emptyTotals()
  for await (const event of source) countEvent(totals, event)
  yield `${JSON.stringify(totals)}\n`
}
