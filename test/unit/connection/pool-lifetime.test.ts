// The single-host pool the dialect builds (pg.Pool) caps connection lifetime by default, as
// CockroachDB's connection pooling docs advise for every pool (/docs/stable/connection-pooling, "Set
// the maximum lifetime of connections": 5 to 30 minutes), so that connections behind a load balancer
// move to a node that restarted. pg-pool's maxLifetimeSeconds (3.5.0 and later; pg 8.11.0, the peer
// floor, requires pg-pool ^3.6.0) is one value for every client: no jitter on a single host.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type pg from 'pg'
import { poolFactory } from '../../../src/connection/pool-factory.js'
import type { CockroachDialectConfig } from '../../../src/index.js'

const URL = 'postgresql://app@db.example.com:26257/bank?sslmode=disable'

async function lifetimeOf(config: CockroachDialectConfig): Promise<number> {
  // pg.Pool connects lazily: building one and ending it opens no connection.
  const pool = (await poolFactory(config)()) as unknown as pg.Pool
  try {
    return (pool.options as { maxLifetimeSeconds: number }).maxLifetimeSeconds
  } finally {
    await pool.end()
  }
}

describe('single-host pool lifetime', () => {
  it('is 600 s by default (the cluster pool default, cluster.maxLifetimeMs 600_000)', async () => {
    assert.equal(await lifetimeOf({ connectionString: URL }), 600)
  })

  it('poolConfig.maxLifetimeSeconds sets it, and 0 turns it off', async () => {
    assert.equal(await lifetimeOf({ connectionString: URL, poolConfig: { maxLifetimeSeconds: 60 } }), 60)
    assert.equal(await lifetimeOf({ connectionString: URL, poolConfig: { maxLifetimeSeconds: 0 } }), 0)
  })

  it('applies without a connection string too (poolConfig alone)', async () => {
    assert.equal(await lifetimeOf({ poolConfig: { host: 'db.example.com', port: 26257, database: 'bank' } }), 600)
  })
})
