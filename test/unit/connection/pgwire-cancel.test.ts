// Where a wire-protocol CancelRequest goes (src/connection/pgwire-cancel.ts): the pure part of query
// cancellation (what it sends and stops: test/integration/connection/query-cancel.test.ts).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cancelTargetOf } from '../../../src/connection/pgwire-cancel.js'

describe('cancelTargetOf', () => {
  it("prefers the socket's remote end to the configured host, and needs the key", () => {
    const key = { processID: 7, secretKey: -12 }
    assert.deepEqual(cancelTargetOf({ ...key, host: 'db.example', port: 26257 }), { host: 'db.example', port: 26257, ...key })
    assert.deepEqual(
      cancelTargetOf({ ...key, host: 'db.example', port: 26257, connection: { stream: { remoteAddress: '10.0.0.3', remotePort: 26257 } } }),
      { host: '10.0.0.3', port: 26257, ...key },
    )
    assert.deepEqual(cancelTargetOf({ ...key, host: '/var/run/postgresql', port: 5432, connection: { stream: {} } }), {
      host: '/var/run/postgresql',
      port: 5432,
      ...key,
    })
    assert.equal(cancelTargetOf({ processID: 7, secretKey: null, host: 'h', port: 1 }), undefined, 'no key yet')
    assert.equal(cancelTargetOf({ query() {} }), undefined, 'not a node-postgres client')
    assert.equal(cancelTargetOf(undefined), undefined)
  })
})
