// cluster.lifetimeJitterMs against cluster.maxLifetimeMs (review of issue 12, finding 9): a jitter
// equal to the lifetime lets a connection live for next to no time, so it is held to at most half.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isQueryRefusedError } from '../../../src/index.js'
import { resolveClusterOptions } from '../../../src/cluster/cluster-options.js'

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (error: unknown) => isQueryRefusedError(error) && pattern.test(error.message))

describe('cluster.lifetimeJitterMs', () => {
  it('refuses a jitter above half the lifetime, equal to it included', () => {
    refused(
      () => resolveClusterOptions({ maxLifetimeMs: 1000, lifetimeJitterMs: 1000 }, undefined),
      /^CockroachDialect: cluster\.lifetimeJitterMs \(1000\) exceeds half of cluster\.maxLifetimeMs \(1000\)/,
    )
    refused(() => resolveClusterOptions({ maxLifetimeMs: 1000, lifetimeJitterMs: 501 }, undefined), /exceeds half/)
  })

  it('takes half the lifetime or less, and no jitter without a lifetime', () => {
    assert.equal(resolveClusterOptions({ maxLifetimeMs: 1000, lifetimeJitterMs: 500 }, undefined).lifetimeJitterMs, 500)
    assert.equal(resolveClusterOptions({ maxLifetimeMs: 0 }, undefined).lifetimeJitterMs, 0)
    refused(() => resolveClusterOptions({ maxLifetimeMs: 0, lifetimeJitterMs: 10 }, undefined), /exceeds half/)
  })
})
