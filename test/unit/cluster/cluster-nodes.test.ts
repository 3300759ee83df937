// Multi-host connection strings and the `nodes` option, split into one parsed node each (pure).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isQueryRefusedError } from '../../../src/index.js'
import { parseClusterNodes } from '../../../src/cluster/cluster-nodes.js'

const keys = (url: string | undefined, nodes?: Parameters<typeof parseClusterNodes>[1]) => parseClusterNodes(url, nodes).map((n) => n.key)

function refuses(fn: () => unknown, message: RegExp, secret = 'S3cr3t'): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isQueryRefusedError(error), `not a QueryRefusedError: ${String(error)}`)
    assert.match(error.message, message)
    assert.ok(!error.message.includes(secret), `the message shows the password: ${error.message}`)
    assert.ok(!(error.stack ?? '').includes(secret))
    return true
  })
}

describe('parseClusterNodes', () => {
  it('splits a libpq host list, each host with its own port or the default', () => {
    const nodes = parseClusterNodes('postgresql://app:S3cr3t@n1:26257,n2:26258,n3/bank?sslmode=disable')
    assert.deepEqual(
      nodes.map((n) => n.key),
      ['n1:26257', 'n2:26258', 'n3:5432'],
    )
    for (const { options } of nodes) {
      assert.equal(options.user, 'app')
      assert.equal(options.password, 'S3cr3t')
      assert.equal(options.database, 'bank')
      assert.equal(options.sslmode, 'disable')
    }
  })

  it('uses 26257 for hosts without a port under cockroachdb://', () => {
    assert.deepEqual(keys('cockroachdb://root@n1,n2:1234/defaultdb?sslmode=disable'), ['n1:26257', 'n2:1234'])
  })

  it('reads IPv6 entries in brackets', () => {
    assert.deepEqual(keys('postgresql://root@[::1]:26257,[::2]/db?sslmode=disable'), ['[::1]:26257', '[::2]:5432'])
    assert.equal(parseClusterNodes('postgresql://root@[::1]:26257,[::2]/db?sslmode=disable')[0]!.options.host, '::1')
  })

  it('gives each node its own TLS server name (SNI and the verify-full host check)', () => {
    const nodes = parseClusterNodes('postgresql://root@n1.example.com,n2.example.com:26257/db?sslmode=verify-full')
    assert.deepEqual(
      nodes.map((n) => (n.options.ssl as { servername?: string }).servername),
      ['n1.example.com', 'n2.example.com'],
    )
  })

  it('keeps one host as one node, as parseConnectionString reads it', () => {
    assert.deepEqual(keys('postgresql://root@localhost:26257/db?sslmode=disable'), ['localhost:26257'])
  })

  it('reads host= and port= lists: one port for all hosts, or one per host', () => {
    assert.deepEqual(keys('postgresql://root@/db?host=n1,n2&port=26257&sslmode=disable'), ['n1:26257', 'n2:26257'])
    assert.deepEqual(keys('postgresql://root@/db?host=n1,n2&port=1,2&sslmode=disable'), ['n1:1', 'n2:2'])
    refuses(() => parseClusterNodes('postgresql://root@/db?host=n1,n2,n3&port=1,2&sslmode=disable'), /lists 2 ports for 3 hosts/)
  })

  it('keeps a percent-encoded comma of the password in the user info', () => {
    const nodes = parseClusterNodes('postgresql://app:a%2Cb@n1,n2/db?sslmode=disable')
    assert.deepEqual(
      nodes.map((n) => n.options.password),
      ['a,b', 'a,b'],
    )
  })

  it('gives repeated nodes distinct keys', () => {
    assert.deepEqual(keys('postgresql://root@localhost:26257,localhost:26257/db?sslmode=disable'), ['localhost:26257', 'localhost:26257#2'])
  })

  it('refuses empty entries, bad ports and entries that are not hosts, without showing the password', () => {
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1,,n3/db'), /empty entry/)
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1,n2,/db'), /empty entry/)
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1,n2:99999/db'), /invalid port/)
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1,n2:x/db'), /not host or host:port/)
  })

  it('refuses nodes that would use different sslmode values', () => {
    refuses(
      () => parseClusterNodes('postgresql://u:S3cr3t@127.0.0.1,n2.example.com/db'),
      /different sslmode values \(disable for 127\.0\.0\.1:5432, verify-full for n2\.example\.com:5432\)\. [Gg]ive sslmode explicitly\.$/,
    )
  })

  it('refuses target_session_attrs and load_balance_hosts with the reason', () => {
    refuses(
      () => parseClusterNodes('postgresql://u:S3cr3t@n1,n2/db?target_session_attrs=read-write'),
      /every CockroachDB node serves reads and writes/,
    )
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1,n2/db?load_balance_hosts=random'), /balances across the nodes itself/)
  })

  it('takes the nodes option instead of the URL hosts', () => {
    const nodes = parseClusterNodes('cockroachdb://app:S3cr3t@placeholder/bank?sslmode=disable', [
      'n1',
      'n2:1',
      { host: 'n3', port: 2 },
      { host: '::1' },
    ])
    assert.deepEqual(
      nodes.map((n) => n.key),
      ['n1:26257', 'n2:1', 'n3:2', '[::1]:26257'],
    )
    assert.ok(nodes.every((n) => n.options.password === 'S3cr3t' && n.options.database === 'bank'))
  })

  it('refuses nodes with a URL host list, an empty nodes array and bad entries', () => {
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1,n2/db', ['n3']), /either in connectionString or in nodes, not both/)
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1/db', []), /at least one node/)
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1/db', [{ host: 'n1', port: 0 }]), /nodes\[0\]\.port/)
    refuses(() => parseClusterNodes('postgresql://u:S3cr3t@n1/db', ['n1/x']), /not host or host:port/)
  })

  it('leaves a URL it cannot split to the single-host parser, whose message hides the password', () => {
    assert.throws(
      () => parseClusterNodes('postgresql://u:S3/cr3t@n1,n2/db'),
      (error: unknown) => error instanceof Error && !error.message.includes('cr3t'),
    )
  })
})
