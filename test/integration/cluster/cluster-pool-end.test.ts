// ClusterPool.end() against three proxied nodes (review of issue 12, findings 5 and 6): it resolves
// only once busy clients are released and closed (as pg-pool's end() does), and a health probe
// whose `select 1` is never answered gives up after the connect timeout instead of keeping end()
// waiting forever.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect } from '../../../src/index.js'
import type { ClusterEvent } from '../../../src/index.js'
import { backendsOf, pollUntil, ProxyCluster } from '../../harness/cluster.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

const APP = 'cluster-pool-end-test'

describe('cluster pool end()', { timeout: 60_000 }, () => {
  let database: TestDatabase
  let cluster: ProxyCluster

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'cluster_pool_end')
    cluster = await ProxyCluster.start(database.url)
  })

  afterEach(async () => {
    for (const proxy of cluster.proxies) {
      proxy.clearRules()
      await proxy.up()
    }
    await pollUntil(() => cluster.proxies.every((p) => p.openConnections === 0), 'the proxies to have no open connection')
    await pollUntil(async () => (await backendsOf(postgresTarget.adminUrl, APP)) === 0, 'no backend of the test left')
  })

  after(async () => {
    await cluster?.close()
    await database?.drop()
  })

  const open = (events: ClusterEvent[] = []) =>
    new Kysely<unknown>({
      dialect: new CockroachDialect({
        connectionString: cluster.url({ connect_timeout: '1' }),
        applicationName: APP,
        poolConfig: { max: 6 },
        cluster: { probeBackoffMs: { initial: 50, max: 200 }, onEvent: (event) => void events.push(event) },
      }),
    })

  it('resolves only after a busy client was released and closed', { timeout: 20_000 }, async () => {
    const db = open()
    let ended = false
    let ending: Promise<void> | undefined
    await db.connection().execute(async (connection) => {
      await sql`select 1`.execute(connection)
      ending = db.destroy().then(() => void (ended = true))
      // A round trip on the busy client: time enough for an end() that does not wait to resolve.
      await sql`select 2`.execute(connection)
      assert.equal(ended, false, 'end() resolved while a client was still checked out')
    })
    await ending
    assert.equal(ended, true)
    // Resolved after the close: nothing of the pool is left on any proxy.
    assert.equal(
      cluster.proxies.reduce((sum, proxy) => sum + proxy.openConnections, 0),
      0,
    )
  })

  it('a probe whose select 1 is never answered gives up after the connect timeout; end() resolves', { timeout: 20_000 }, async () => {
    const events: ClusterEvent[] = []
    const db = open(events)
    // Six connections checked out at once: two per node (fewest-first), then all idle.
    let checkedOut = 0
    let release!: () => void
    const all = new Promise<void>((resolve) => (release = resolve))
    await Promise.all(
      Array.from({ length: 6 }, () =>
        db.connection().execute(async (connection) => {
          await sql`select 1`.execute(connection)
          if (++checkedOut === 6) release()
          await all
        }),
      ),
    )
    const proxy = cluster.proxies[0]!
    const idle = proxy.sessionsThatSent((text) => text === 'select 1')
    assert.ok(idle.length > 0, 'a connection of node 0')
    // The probe's select 1 (a new connection's first statement) is held, never answered.
    const held = proxy.hold((text) => text === 'select 1')
    // A broken idle connection gets its node probed at once.
    for (const session of idle) session.cut()
    const session = await held
    await pollUntil(
      () => events.some((e) => e.type === 'nodeDown' && e.node === cluster.nodeKey(0)),
      'the probe to time out and mark node 0 down',
    )
    const down = events.find((e) => e.type === 'nodeDown') as { error: unknown }
    assert.match(String(down.error), /did not answer the health probe's select 1 within 1000 ms/)
    session.cut()
    await db.destroy()
  })
})
