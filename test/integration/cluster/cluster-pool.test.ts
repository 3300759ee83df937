// The cluster pool against three "nodes": three TCP proxies in front of the test PostgreSQL
// (test/harness/cluster.ts). Each test plays one failure of a node: refused, reset, draining and
// blackholed connects, a drain of open sessions, a node going down and coming back.
import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect } from '../../../src/index.js'
import type { ClusterEvent, ClusterOptions, CockroachDialectConfig } from '../../../src/index.js'
import { pollUntil, ProxyCluster } from '../../harness/cluster.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

const APP = 'cluster-pool-test'

describe('cluster pool over three proxied nodes', { timeout: 120_000 }, () => {
  let database: TestDatabase
  let cluster: ProxyCluster
  let db: Kysely<unknown> | undefined
  let dialect: CockroachDialect
  let events: ClusterEvent[]

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'cluster_pool')
    cluster = await ProxyCluster.start(database.url)
  })

  beforeEach(() => {
    events = []
  })

  afterEach(async () => {
    await db?.destroy()
    db = undefined
    // No client leaked: every proxied connection and every backend of the test is gone.
    await cluster.resetAfterTest(postgresTarget.adminUrl, APP)
  })

  after(async () => {
    await cluster?.close()
    await database?.drop()
  })

  function open(
    cluster_: ClusterOptions = {},
    extra: Partial<CockroachDialectConfig> = {},
    urlExtra: Record<string, string> = {},
  ): Kysely<unknown> {
    dialect = new CockroachDialect({
      connectionString: cluster.url(urlExtra),
      applicationName: APP,
      poolConfig: { max: 12 },
      cluster: { probeBackoffMs: { initial: 50, max: 200 }, onEvent: (event) => void events.push(event), ...cluster_ },
      ...extra,
    })
    db = new Kysely<unknown>({ dialect })
    return db
  }

  /** Holds `count` connections at once until every one is checked out, then releases them. */
  async function holdConnections(kysely: Kysely<unknown>, count: number): Promise<void> {
    let checkedOut = 0
    let release!: () => void
    const all = new Promise<void>((resolve) => (release = resolve))
    await Promise.all(
      Array.from({ length: count }, () =>
        kysely.connection().execute(async (connection) => {
          await sql`select 1`.execute(connection)
          if (++checkedOut === count) release()
          await all
        }),
      ),
    )
  }

  const total = (i: number) => dialect.nodeStatus()[i]!.total
  const state = (i: number) => dialect.nodeStatus()[i]!.state

  it('spreads connections evenly over the nodes and reports them per node', async () => {
    const kysely = open()
    await holdConnections(kysely, 9)
    const status = dialect.nodeStatus()
    assert.deepEqual(
      status.map((n) => n.node),
      [0, 1, 2].map((i) => cluster.nodeKey(i)),
    )
    assert.deepEqual(
      status.map((n) => [n.state, n.total, n.idle, n.inUse]),
      [
        ['up', 3, 3, 0],
        ['up', 3, 3, 0],
        ['up', 3, 3, 0],
      ],
    )
    assert.deepEqual(
      cluster.proxies.map((p) => p.openConnections),
      [3, 3, 3],
    )
    assert.equal(events.filter((e) => e.type === 'connectionOpened').length, 9)
  })

  for (const [mode, expected] of [
    ['refuse', 'down'],
    ['reset', 'down'],
    ['draining', 'draining'],
  ] as const) {
    it(`marks a node ${expected} when its connects are ${mode === 'draining' ? 'answered with 57P01' : mode === 'reset' ? 'reset' : 'refused'}, and works on the others`, async () => {
      await cluster.proxies[1]!.setAdmission(mode)
      const kysely = open({ probeBackoffMs: { initial: 60_000, max: 60_000 } })
      await holdConnections(kysely, 6)
      assert.equal(state(1), expected)
      assert.equal(total(1), 0)
      assert.equal(total(0) + total(2), 6)
      const marked = events.filter((e) => e.type === (expected === 'down' ? 'nodeDown' : 'nodeDraining'))
      assert.deepEqual(
        marked.map((e) => e.node),
        [cluster.nodeKey(1)],
      )
      if (mode === 'draining') {
        assert.match(String((marked[0] as { error: unknown }).error), /server is not accepting clients/)
      }
    })
  }

  it('times out a blackholed node within connect_timeout, keeps working, and takes it back after a probe', async () => {
    await cluster.proxies[2]!.setAdmission('blackhole')
    const kysely = open({}, {}, { connect_timeout: '1' })
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => sql<{ n: number }>`select ${i}::int as n`.execute(kysely)))
    assert.deepEqual(
      results.map((r) => r.rows[0]!.n),
      Array.from({ length: 30 }, (_, i) => i),
    )
    await pollUntil(() => state(2) === 'down', 'node 2 to be marked down')
    assert.equal(events.filter((e) => e.type === 'nodeDown').length, 1)
    assert.match(String(dialect.nodeStatus()[2]!.lastError), /timeout|terminated/i)
    assert.equal(total(2), 0)
    await cluster.proxies[2]!.setAdmission('accept')
    await pollUntil(() => state(2) === 'up', 'node 2 to be probed back up')
    assert.deepEqual(
      events.filter((e) => e.type === 'nodeUp').map((e) => e.node),
      [cluster.nodeKey(2)],
    )
  })

  it('never hands out a connection of a node known to be down while another is up', async () => {
    const kysely = open({ probeBackoffMs: { initial: 60_000, max: 60_000 } })
    await holdConnections(kysely, 6)
    await cluster.proxies[0]!.down()
    // The pooled clients of node 0 see their sockets close; the node is probed and marked down.
    await pollUntil(() => state(0) === 'down', 'node 0 to be marked down')
    // Every query succeeds: none got a pooled client of node 0, whose sockets are closed.
    for (let i = 0; i < 20; i++) await sql`select 1`.execute(kysely)
    await holdConnections(kysely, 8)
    assert.equal(total(0), 0)
  })

  it('leaves a draining node: its idle connections close, a transaction in progress commits and is not pooled again', async () => {
    const kysely = open({ probeBackoffMs: { initial: 60_000, max: 60_000 } })
    await sql`create table if not exists drained (id int primary key)`.execute(kysely)
    await holdConnections(kysely, 6)
    assert.equal(total(0), 2)
    // A transaction on node 0: checked out before the drain, committed after it.
    let trxNode: string | undefined
    let drained!: () => void
    const drainDone = new Promise<void>((resolve) => (drained = resolve))
    const transaction = kysely.transaction().execute(async (trx) => {
      await sql`insert into drained values (1)`.execute(trx)
      trxNode = dialect.nodeStatus().find((n) => n.inUse > 0)!.node
      await drainDone
      await sql`insert into drained values (2)`.execute(trx)
    })
    await pollUntil(() => trxNode !== undefined, 'the transaction to start')
    const index = [0, 1, 2].find((i) => cluster.nodeKey(i) === trxNode)!
    await cluster.proxies[index]!.drain({ transactionsTimeoutMs: 30_000 })
    await pollUntil(() => state(index) === 'draining', 'the node to be seen draining')
    await pollUntil(() => dialect.nodeStatus()[index]!.idle === 0, 'the idle connections of the draining node to close')
    drained()
    await transaction
    assert.equal(total(index), 0, 'the connection of the draining node went back to the pool')
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from drained`.execute(kysely)
    assert.equal(rows[0]!.n, 2)
    assert.ok(
      events.some((e) => e.type === 'connectionRecycled' && e.node === trxNode && (e.reason === 'draining' || e.reason === 'broken')),
    )
    await sql`drop table drained`.execute(kysely)
  })

  it('rebalances after a node comes back, with a short maxLifetime', async () => {
    const kysely = open({ maxLifetimeMs: 400, lifetimeJitterMs: 200 })
    await cluster.proxies[1]!.down()
    await holdConnections(kysely, 6)
    assert.equal(total(1), 0)
    await cluster.proxies[1]!.up()
    await pollUntil(() => state(1) === 'up', 'node 1 to come back')
    // Connections expire and are reopened on the emptiest node. Both are waited for: new opens can
    // spread the connections before any of them reaches its lifetime (seen once in a full run).
    const recycledForLifetime = () => events.some((e) => e.type === 'connectionRecycled' && e.reason === 'maxLifetime')
    await pollUntil(async () => {
      await holdConnections(kysely, 6)
      const counts = dialect.nodeStatus().map((n) => n.total)
      return recycledForLifetime() && Math.max(...counts) - Math.min(...counts) <= 1 && counts.every((n) => n > 0)
    }, 'a connection recycled for its lifetime, and the connections spread over the three nodes again')
    assert.ok(recycledForLifetime())
  })

  it('gives the server error of a bad password at once, without failing over or marking nodes', async () => {
    const url = new URL(database.url)
    const kysely = open({}, { connectionString: cluster.url().replace(`//${url.username}`, '//no_such_user_x') })
    await assert.rejects(sql`select 1`.execute(kysely), (error: Error & { code?: string }) => {
      assert.ok(['28P01', '28000'].includes(error.code ?? ''), `unexpected ${error.code}: ${error.message}`)
      return true
    })
    assert.ok(dialect.nodeStatus().every((n) => n.state === 'up'))
  })

  it('is the pool the dialect builds for a nodes option too', async () => {
    dialect = new CockroachDialect({
      connectionString: database.url,
      nodes: cluster.proxies.map((p) => ({ host: '127.0.0.1', port: p.port })),
      applicationName: APP,
    })
    db = new Kysely<unknown>({ dialect })
    await holdConnections(db, 3)
    assert.deepEqual(
      dialect.nodeStatus().map((n) => n.total),
      [1, 1, 1],
    )
  })
})
