import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { getSqlState, isConnectionError, isMultipleActivePortalsError } from '../../../src/index.js'

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

// What Node's net layer throws when pg writes to a socket the peer closed (seen when a proxy cuts a
// pg-cursor stream, test/integration/connection/connection-loss.test.ts): its five-letter errno code looks like a SQLSTATE.
function socketError(code: string, errno: number, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall })
}

describe('error classifiers', () => {
  it('reads SQLSTATEs and ignores other codes', () => {
    assert.equal(getSqlState(pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError')), '40001')
    assert.equal(getSqlState(pgError('ECONNRESET', 'read ECONNRESET')), undefined)
    assert.equal(getSqlState(socketError('EPIPE', -32, 'write')), undefined)
    assert.equal(getSqlState('40001'), undefined)
    assert.equal(getSqlState(null), undefined)
  })

  it('recognises connection failures, and not ordinary SQL errors', () => {
    assert.ok(isConnectionError(pgError('57P01', 'terminating connection due to administrator command')))
    assert.ok(isConnectionError(pgError('08006', 'connection failure')))
    assert.ok(isConnectionError(pgError('ECONNRESET', 'read ECONNRESET')))
    assert.ok(isConnectionError(socketError('EPIPE', -32, 'write')))
    assert.ok(isConnectionError(new Error('Connection terminated unexpectedly')))
    assert.ok(isConnectionError(new Error('Client has encountered a connection error and is not queryable')))
    assert.ok(!isConnectionError(pgError('40001', 'restart transaction')))
    assert.ok(!isConnectionError(pgError('23505', 'duplicate key value violates unique constraint')))
    assert.ok(!isConnectionError(new Error('boom')))
  })

  it("recognises CockroachDB's multiple-active-portals refusal in each version's wording", () => {
    // Messages from pkg/sql/distsql_running.go across versions (v22.2, v23.1, after PR #110595).
    for (const message of [
      'unimplemented: multiple active portals not supported',
      'unimplemented: multiple active portals not supported, please set session variable multiple_active_portals_enabled to true. Note: this feature is in preview',
      'unimplemented: multiple active portals is in preview, please set session variable multiple_active_portals_enabled to true to enable them',
    ]) {
      assert.ok(isMultipleActivePortalsError(pgError('0A000', message)), message)
    }
    assert.ok(!isMultipleActivePortalsError(pgError('0A000', 'unimplemented: something else')))
    assert.ok(!isMultipleActivePortalsError(pgError('40001', 'multiple active portals')))
  })
})
