// CockroachAdapter's flags and the validation of the dialect's `migrationLock` options (no server).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DialectAdapterBase, Kysely, PostgresAdapter } from 'kysely'
import { CockroachAdapter, CockroachDialect } from '../../../src/index.js'
import type { MigrationLeaseOptions } from '../../../src/index.js'

const url = 'postgresql://root@localhost:26257/defaultdb?sslmode=disable'

describe('CockroachAdapter', () => {
  it('declares non-transactional DDL, RETURNING and IF NOT EXISTS, and no advisory locks', () => {
    const adapter = new CockroachAdapter()
    assert.equal(adapter.supportsTransactionalDdl, false)
    assert.equal(adapter.supportsReturning, true)
    assert.equal(adapter.supportsCreateIfNotExists, true)
    assert.ok(adapter instanceof DialectAdapterBase)
    assert.ok(!(adapter instanceof PostgresAdapter), 'must not inherit PostgresAdapter and its advisory lock')
  })

  it('is what CockroachDialect creates, with its migrationLock options', () => {
    const adapter = new CockroachDialect({ connectionString: url, migrationLock: { leaseDurationMs: 9_000 } }).createAdapter()
    assert.ok(adapter instanceof CockroachAdapter)
    assert.deepEqual(adapter.options, { leaseDurationMs: 9_000, acquireTimeoutMs: 600_000, renewIntervalMs: 3_000 })
  })

  it('fills in defaults and freezes the options', () => {
    const given = { leaseDurationMs: 20_000, acquireTimeoutMs: 1_000, renewIntervalMs: 5_000 }
    const adapter = new CockroachAdapter(given)
    assert.deepEqual(adapter.options, given)
    assert.ok(Object.isFrozen(adapter.options))
    assert.notEqual(adapter.options, given, 'a copy, so later changes to the caller object do not apply')
    assert.deepEqual(new CockroachAdapter().options, { leaseDurationMs: 30_000, acquireTimeoutMs: 600_000, renewIntervalMs: 10_000 })
    assert.equal(new CockroachAdapter({ leaseDurationMs: 2 }).options.renewIntervalMs, 1)
  })

  const rejected: Array<[string, unknown, RegExp]> = [
    ['zero lease', { leaseDurationMs: 0 }, /migrationLock\.leaseDurationMs` must be a positive whole number of milliseconds.*not number 0/],
    ['negative timeout', { acquireTimeoutMs: -5 }, /migrationLock\.acquireTimeoutMs` must be a positive whole number.*not number -5/],
    ['fractional interval', { renewIntervalMs: 1.5 }, /migrationLock\.renewIntervalMs` must be a positive whole number.*not number 1\.5/],
    ['NaN', { leaseDurationMs: Number.NaN }, /leaseDurationMs` must be a positive whole number.*not number NaN/],
    ['Infinity', { acquireTimeoutMs: Number.POSITIVE_INFINITY }, /acquireTimeoutMs` must be .*not number Infinity/],
    ['a string', { leaseDurationMs: '30s' }, /leaseDurationMs` must be a positive whole number.*not "30s"/],
    ['a lease beyond the timer range', { leaseDurationMs: 2 ** 31 }, /at most 2147483647/],
    [
      'renewal not shorter than the lease',
      { leaseDurationMs: 1_000, renewIntervalMs: 1_000 },
      /renewIntervalMs` \(1000\) must be shorter than `leaseDurationMs` \(1000\)/,
    ],
    [
      'default renewal against a short lease',
      { leaseDurationMs: 1 },
      /renewIntervalMs` \(1\) must be shorter than `leaseDurationMs` \(1\)/,
    ],
    [
      'an unknown option',
      { leaseMs: 1_000 },
      /^CockroachDialect: unknown `migrationLock` option "leaseMs"\. Use only leaseDurationMs, acquireTimeoutMs, renewIntervalMs/,
    ],
    ['not an object', 30_000, /`migrationLock` must be an object, not number 30000\. Give one such as \{ leaseDurationMs: 30000 \}/],
  ]
  for (const [label, options, message] of rejected) {
    it(`rejects ${label} with a clear error`, () => {
      assert.throws(() => new CockroachAdapter(options as MigrationLeaseOptions), { name: 'QueryRefusedError', message })
      // Kysely creates the adapter in its constructor, so a bad option fails before any query.
      assert.throws(
        () => new Kysely({ dialect: new CockroachDialect({ connectionString: url, migrationLock: options as MigrationLeaseOptions }) }),
        { name: 'QueryRefusedError', message },
      )
    })
  }

  it('rejects a renewal pool that is neither a pool nor a function', () => {
    assert.throws(() => new CockroachAdapter({}, 'postgres://x' as never), /`pool` must be a pg\.Pool or an async function/)
  })
})
