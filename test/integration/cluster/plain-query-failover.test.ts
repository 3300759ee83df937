// What a plain query (outside withRetry) gets from the cluster pool when a node fails, as
// docs/clusters.md states it: a connect that fails goes to another node, and the query runs there;
// a query whose connection breaks while it is in flight is not sent again (it may have been a
// write that committed), and the caller gets the connection error.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect } from '../../../src/index.js'
import { ProxyCluster } from '../../harness/cluster.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

const APP = 'plain-query-failover-test'

interface DB {
  note: { id: number }
}

describe('plain queries on a cluster when a node fails', () => {
  let database: TestDatabase
  let cluster: ProxyCluster
  let dialect: CockroachDialect
  let db: Kysely<DB> | undefined

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'plain_query_failover')
    cluster = await ProxyCluster.start(database.url)
    const setup = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: database.url }) })
    await setup.schema
      .createTable('note')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute()
    await setup.destroy()
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

  function open(): Kysely<DB> {
    dialect = new CockroachDialect({
      connectionString: cluster.url(),
      applicationName: APP,
      cluster: { probeBackoffMs: { initial: 60_000, max: 60_000 } },
    })
    return (db = new Kysely<DB>({ dialect }))
  }

  it('a failed connect fails over: every query succeeds on the nodes that are up', async () => {
    await cluster.proxies[0]!.setAdmission('refuse')
    await cluster.proxies[1]!.setAdmission('refuse')
    const kysely = open()
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sql<{ n: number }>`select ${i}::int as n`.execute(kysely)))
    assert.deepEqual(
      results.map((r) => r.rows[0]!.n),
      [0, 1, 2, 3, 4, 5],
    )
    assert.deepEqual(
      dialect.nodeStatus().map((n) => n.state),
      ['down', 'down', 'up'],
    )
  })

  it('a connection that breaks mid-flight: the statement is not sent again and the caller gets the error', async () => {
    const kysely = open()
    const isInsert = (text: string) => text.startsWith('insert into "note"')
    // Every insert any proxy forwards, counted.
    let sent = 0
    for (const proxy of cluster.proxies) {
      const count = (): void => void proxy.nextSent(isInsert).then(() => (sent++, count()))
      count()
    }
    // The server runs (and, autocommit, commits) the insert; the client never hears the reply.
    const cuts = cluster.proxies.map((proxy) => proxy.cutOn({ match: isInsert, when: 'after-server-reply' }))
    await assert.rejects(kysely.insertInto('note').values({ id: 1 }).execute(), (error: unknown) => {
      assert.ok(error instanceof Error)
      assert.match(error.message, /Connection terminated|ECONNRESET|connection/i)
      return true
    })
    await Promise.race(cuts)
    for (const proxy of cluster.proxies) proxy.clearRules()
    assert.equal(sent, 1, 'the insert went to the server once')
    assert.deepEqual(await kysely.selectFrom('note').selectAll().execute(), [{ id: 1 }])
  })
})
