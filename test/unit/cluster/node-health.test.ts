// The node state machine and the connect-error verdicts (pure).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classifyNodeError, NodeHealth } from '../../../src/cluster/node-health.js'
import { backoffDelay } from '../../../src/util/backoff-delay.js'
import { resolveClusterOptions } from '../../../src/cluster/cluster-options.js'
import { isQueryRefusedError } from '../../../src/index.js'

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code })

describe('classifyNodeError', () => {
  it('reads 57P01 and the draining message as draining', () => {
    assert.equal(classifyNodeError(pgError('57P01', 'server is not accepting clients, try another node')), 'draining')
    assert.equal(classifyNodeError(pgError('57P01', 'server is shutting down')), 'draining')
    assert.equal(classifyNodeError(new Error('server is not accepting clients, try another node')), 'draining')
  })

  it('reads socket errors, connect timeouts and class 08 as down', () => {
    assert.equal(classifyNodeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })), 'down')
    assert.equal(classifyNodeError(new Error('timeout expired')), 'down')
    assert.equal(classifyNodeError(new Error('Connection terminated due to connection timeout')), 'down')
    assert.equal(classifyNodeError(pgError('08006')), 'down')
    assert.equal(classifyNodeError(pgError('57P03')), 'down')
  })

  it('reads errors every node would give alike as refused (no failover)', () => {
    for (const code of ['28P01', '28000', '3D000', '42501']) assert.equal(classifyNodeError(pgError(code)), 'refused')
  })
})

describe('NodeHealth', () => {
  const limits = { baseDelayMs: 100, maxDelayMs: 1000 }

  it('goes down, backs off its probes and comes back up', () => {
    const health = new NodeHealth(limits)
    assert.equal(health.state, 'up')
    const error = new Error('refused')
    assert.equal(health.fail('down', error, 1000, 0), 'down')
    assert.equal(health.lastError, error)
    assert.equal(health.nextProbeAt, 1000 + 50)
    assert.equal(health.fail('down', error, 2000, 0), undefined, 'no state change, no event')
    assert.equal(health.nextProbeAt, 2000 + 100)
    health.fail('down', error, 3000, 0)
    assert.equal(health.nextProbeAt, 3000 + 200)
    assert.equal(health.succeed(), true)
    assert.equal(health.state, 'up')
    assert.equal(health.nextProbeAt, undefined)
    assert.equal(health.succeed(), false)
    health.fail('down', error, 0, 0)
    assert.equal(health.nextProbeAt, 50, 'the backoff starts over after a success')
  })

  it('moves from draining to down when the node stops answering, never back to draining', () => {
    const health = new NodeHealth(limits)
    assert.equal(health.fail('draining', 'e', 0, 0.5), 'draining')
    assert.equal(health.fail('down', 'e', 0, 0.5), 'down')
    assert.equal(health.fail('draining', 'e', 0, 0.5), undefined)
    assert.equal(health.state, 'down')
  })
})

describe('probe backoff (backoffDelay, equal jitter, with the cluster defaults)', () => {
  it('is exponential with equal jitter, capped', () => {
    const limits = { baseDelayMs: 250, maxDelayMs: 10_000, jitter: 'equal' } as const
    assert.deepEqual(
      [0, 1, 2, 3, 10].map((k) => backoffDelay(k, limits, 0)),
      [125, 250, 500, 1000, 5000],
    )
    assert.equal(backoffDelay(10, limits, 0.999999), 10_000)
  })
})

describe('resolveClusterOptions', () => {
  it('has the lifetime with jitter on by default, and pg-pool defaults', () => {
    const options = resolveClusterOptions(undefined, undefined)
    assert.equal(options.maxLifetimeMs, 600_000)
    assert.equal(options.lifetimeJitterMs, 60_000)
    assert.equal(options.max, 10)
    assert.equal(options.idleTimeoutMs, 10_000)
    assert.equal(options.connectTimeoutFor({ ssl: false, sslmode: 'disable' }), 5000)
    assert.equal(options.connectTimeoutFor({ ssl: false, sslmode: 'disable', connectionTimeoutMillis: 1000 }), 1000)
    assert.equal(resolveClusterOptions({}, { connectionTimeoutMillis: 2000 }).connectTimeoutFor({ ssl: false, sslmode: 'disable' }), 2000)
  })

  it('refuses what it cannot honour', () => {
    const refuses = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (error: unknown) => isQueryRefusedError(error) && pattern.test(error.message))
    refuses(() => resolveClusterOptions({}, { maxLifetimeSeconds: 60 }), /replaced by cluster\.maxLifetimeMs/)
    refuses(() => resolveClusterOptions({ connectTimeoutMs: 0 }, undefined), /above 0/)
    refuses(() => resolveClusterOptions({ maxLifetimeMs: 100, lifetimeJitterMs: 200 }, undefined), /exceeds half/)
    refuses(() => resolveClusterOptions({ maxLifetime: 1 } as never, undefined), /unknown cluster option 'maxLifetime'/)
  })
})
