// backoffDelay, the one exponential backoff of the package: full jitter for withRetry (retryDelay),
// equal jitter for the migration lock (migrationLockRetryDelay). Both keep the results of the
// formulas they had before the helper existed, written out below as the reference.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelay } from '../../../src/util/backoff-delay.js'
import { migrationLockRetryDelay } from '../../../src/migration/migration-lock-retry.js'
import { retryDelay } from '../../../src/retry/with-retry-options.js'

const DRAWS = [0, 1e-9, 0.1, 0.25, 0.4999, 0.5, 0.5001, 0.75, 0.9, 0.999_999, 1 - Number.EPSILON]

// The formulas of src/retry/with-retry-options.ts and src/migration/migration-lock-retry.ts before
// the helper (commit b3bb065).
function oldRetryDelay(retry: number, limits: { baseDelayMs: number; maxDelayMs: number }, r: number): number {
  const ceiling = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** Math.min(retry - 1, 52))
  return Math.round(r * ceiling)
}
function oldLockDelay(attempt: number, r: number): number {
  const ceiling = Math.min(1_000, 50 * 2 ** Math.min(Math.max(attempt, 0), 10))
  return Math.ceil(ceiling / 2 + r * (ceiling / 2))
}

describe('backoffDelay', () => {
  it("'full' jitter: from 0 up to a ceiling that doubles from baseDelayMs to maxDelayMs", () => {
    const backoff = { baseDelayMs: 10, maxDelayMs: 100, jitter: 'full' } as const
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, backoff, 0.5)),
      [5, 10, 20, 40, 50, 50],
    )
    assert.deepEqual(
      [0, 1, 2, 3].map((attempt) => backoffDelay(attempt, backoff, 0)),
      [0, 0, 0, 0],
    )
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, backoff, 0.999)),
      [10, 20, 40, 80, 100],
    )
  })

  it("'equal' jitter: the upper half of the ceiling, rounded up", () => {
    const backoff = { baseDelayMs: 50, maxDelayMs: 1_000, jitter: 'equal' } as const
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, backoff, 0)),
      [25, 50, 100, 200, 400, 500],
    )
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, backoff, 0.999_999)),
      [50, 100, 200, 400, 800, 1_000],
    )
    assert.equal(backoffDelay(0, { baseDelayMs: 10, maxDelayMs: 10, jitter: 'equal' }, 0.05), 6, '5.25 rounds up')
  })

  it('stays a number for huge attempts, a base of 0 included, and reads a negative attempt as the first', () => {
    assert.equal(backoffDelay(1e9, { baseDelayMs: 0, maxDelayMs: 1_000, jitter: 'full' }, 0.5), 0)
    assert.equal(backoffDelay(1e9, { baseDelayMs: 0, maxDelayMs: 1_000, jitter: 'equal' }, 0.5), 0)
    assert.equal(backoffDelay(1e9, { baseDelayMs: 1, maxDelayMs: 1_000, jitter: 'full' }, 0.5), 500)
    assert.equal(backoffDelay(-3, { baseDelayMs: 50, maxDelayMs: 1_000, jitter: 'equal' }, 0), 25)
  })

  it('gives retryDelay (full jitter) exactly the results of its former formula', () => {
    const limitsList = [
      { baseDelayMs: 0, maxDelayMs: 0 },
      { baseDelayMs: 0, maxDelayMs: 1_000 },
      { baseDelayMs: 1, maxDelayMs: 1 },
      { baseDelayMs: 7, maxDelayMs: 333 },
      { baseDelayMs: 100, maxDelayMs: 1_000 },
      { baseDelayMs: 2.5, maxDelayMs: 1e12 },
    ]
    for (const limits of limitsList) {
      for (const retry of [1, 2, 3, 5, 8, 13, 40, 53, 54, 100, 10_000]) {
        for (const r of DRAWS) {
          assert.equal(
            retryDelay(retry, limits, () => r),
            oldRetryDelay(retry, limits, r),
            JSON.stringify({ limits, retry, r }),
          )
        }
      }
    }
  })

  it('gives migrationLockRetryDelay (equal jitter) exactly the results of its former formula', () => {
    for (const attempt of [-1, 0, 1, 2, 3, 4, 5, 6, 10, 11, 52, 53, 10_000]) {
      for (const r of DRAWS) {
        assert.equal(
          migrationLockRetryDelay(attempt, () => r),
          oldLockDelay(attempt, r),
          JSON.stringify({ attempt, r }),
        )
      }
    }
  })
})
