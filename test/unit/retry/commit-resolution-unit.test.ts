// resolveAmbiguousCommits without a server: what a fence outcome means, the option checks, the
// marker table's DDL and the AmbiguousCommitError wording.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AmbiguousCommitError, getSqlState, isQueryRefusedError, resolveRetryOptions } from '../../../src/index.js'
import { decideRetry } from '../../../src/retry/retry-decision.js'
import { fenceVerdict } from '../../../src/retry/commit-resolution.js'
import { markerInsert, markerTableDdl } from '../../../src/retry/marker-table.js'

const pgError = (code: string) => Object.assign(new Error(`error ${code}`), { code })

describe('fenceVerdict', () => {
  it('inserted: not committed; 23505: committed', () => {
    assert.equal(fenceVerdict(undefined, false), 'not committed')
    assert.equal(fenceVerdict(pgError('23505'), false), 'committed')
    assert.equal(fenceVerdict(pgError('23505'), true), 'committed', 'an answer counts even at the deadline')
  })

  it('a lock or statement timeout, a broken fence connection or a retry error: again, or timed out at the deadline', () => {
    for (const error of [
      pgError('55P03'),
      pgError('57014'),
      pgError('40001'),
      pgError('40003'),
      pgError('57P01'),
      new Error('Connection terminated unexpectedly'),
    ]) {
      assert.equal(fenceVerdict(error, false), 'again', String(error))
      assert.equal(fenceVerdict(error, true), 'timed out', String(error))
    }
  })

  it('anything else: failed', () => {
    assert.equal(fenceVerdict(pgError('42P01'), false), 'failed')
    assert.equal(fenceVerdict(pgError('42501'), false), 'failed')
  })
})

describe('resolveAmbiguousCommits options', () => {
  const refuses = (options: object, pattern: RegExp) =>
    assert.throws(
      () => resolveRetryOptions(options),
      (error: unknown) => isQueryRefusedError(error) && pattern.test(error.message),
    )

  it('defaults to off, with a 15 s bound when on', () => {
    assert.equal(resolveRetryOptions().resolveAmbiguousCommits, false)
    const on = resolveRetryOptions({ resolveAmbiguousCommits: true })
    assert.equal(on.resolveAmbiguousCommits, true)
    assert.equal(on.resolveTimeoutMs, 15_000)
  })

  it('refuses bad values and combinations', () => {
    refuses({ resolveAmbiguousCommits: 'yes' }, /^withRetry: resolveAmbiguousCommits must be true or false, got yes/)
    refuses({ resolveAmbiguousCommits: true, resolveTimeoutMs: 500 }, /from 1000, got 500.*about 5 s/)
    refuses({ resolveTimeoutMs: 5000 }, /only applies with resolveAmbiguousCommits: true/)
    refuses({ resolveAmbiguousCommits: true, accessMode: 'read only' }, /needs a transaction that can write/)
  })
})

describe('marker table', () => {
  it('expires markers with row-level TTL on CockroachDB, not on PostgreSQL', () => {
    assert.match(markerTableDdl('cockroachdb'), /with \(ttl_expire_after = '1 day'\)$/)
    assert.doesNotMatch(markerTableDdl('postgres'), /ttl/)
    assert.match(markerTableDdl('postgres'), /^create table if not exists "kysely_cockroachdb_commit_marker" \("id" uuid primary key/)
  })

  it('inserts the marker as a parameter', () => {
    const query = markerInsert('00000000-0000-4000-8000-000000000000')
    assert.equal(query.sql, 'insert into "kysely_cockroachdb_commit_marker" ("id") values ($1)')
    assert.deepEqual(query.parameters, ['00000000-0000-4000-8000-000000000000'])
  })
})

describe('AmbiguousCommitError with resolution', () => {
  it("says 'off' by default and how settling ended otherwise", () => {
    const cause = new Error('Connection terminated unexpectedly')
    assert.equal(new AmbiguousCommitError(cause, { attempt: 1, statement: 'commit' }).resolution, 'off')
    const timedOut = new AmbiguousCommitError(cause, {
      attempt: 2,
      statement: 'commit',
      resolution: 'timed out',
      resolutionError: pgError('55P03'),
      resolveTimeoutMs: 15000,
    })
    assert.equal(timedOut.resolution, 'timed out')
    assert.match(
      timedOut.message,
      /^withRetry: the transaction may or may not have committed: "commit" failed while in flight \(attempt 2\): Connection terminated unexpectedly\. resolveAmbiguousCommits could not settle it within 15000 ms/,
    )
    assert.match(timedOut.message, /raise resolveTimeoutMs\.$/)
    const failed = new AmbiguousCommitError(cause, {
      attempt: 1,
      statement: 'commit',
      resolution: 'failed',
      resolutionError: pgError('42501'),
    })
    assert.equal(failed.resolutionError instanceof Error, true)
    assert.match(failed.message, /the marker insert failed: error 42501/)
  })
})

describe('decideRetry with a settled commit', () => {
  const lost = new Error('Connection terminated unexpectedly')
  const failure = (settlement: Parameters<typeof decideRetry>[0]['settlement']) => ({
    error: lost,
    phase: 'commit' as const,
    attempt: 1,
    startedMs: 0,
    settlement,
  })
  const options = resolveRetryOptions({ resolveAmbiguousCommits: true, random: () => 0.5 })

  it('retries a commit settled as not committed', () => {
    assert.equal(decideRetry(failure({ outcome: 'not committed' }), options).action, 'retry')
  })

  it('raises AmbiguousCommitError with the resolution when settling timed out or failed, and retries with idempotent', () => {
    const step = decideRetry(failure({ outcome: 'timed out', error: pgError('55P03') }), options)
    assert.equal(step.action, 'throw')
    const error = (step as { error: unknown }).error
    assert.ok(error instanceof AmbiguousCommitError)
    assert.equal(error.resolution, 'timed out')
    assert.equal(getSqlState(error.resolutionError), '55P03')
    const idempotent = resolveRetryOptions({ resolveAmbiguousCommits: true, idempotent: true })
    assert.equal(decideRetry(failure({ outcome: 'failed', error: pgError('42501') }), idempotent).action, 'retry')
  })

  it("without a settlement: resolution 'off'", () => {
    const step = decideRetry(failure(undefined), resolveRetryOptions())
    assert.equal(((step as { error: unknown }).error as AmbiguousCommitError).resolution, 'off')
  })
})
