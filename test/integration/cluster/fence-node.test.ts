// Where withRetry's fence (resolveAmbiguousCommits) runs on a cluster: on another up node than the
// one whose COMMIT was lost (issue 12: "settle it from a new connection, on another node if there
// is one"), and on that same node when it is the only one up.
//
// The setup makes the old behaviour visible: with `rebalance: false` and the other two nodes
// refusing while two connections open, both land on node 0; the nodes then come back up with no
// connection, so node 0 holds the only idle ones. The transaction takes one of them, its COMMIT is
// cut on node 0's proxy, and a pool that does not know the lost connection's node hands the fence
// node 0's other idle connection.
import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, withRetry } from '../../../src/index.js'
import type { ClusterEvent, RetryStrategy } from '../../../src/index.js'
import { pollUntil, ProxyCluster } from '../../harness/cluster.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import type { CutTiming } from '../../harness/tcp-proxy.js'

const APP = 'fence-node-test'

interface DB {
  item: { id: number }
}

const isCommit = (text: string) => text === 'commit'
// The fence's connection, and only it, sets lock_timeout (src/retry/commit-resolution.ts).
const isFence = (text: string) => text.startsWith('set lock_timeout')

describe('commit resolution on a cluster: where the fence runs', () => {
  let database: TestDatabase
  let cluster: ProxyCluster
  let dialect: CockroachDialect
  let db: Kysely<DB> | undefined
  let events: ClusterEvent[]
  let nextId = 1

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'fence_node')
    cluster = await ProxyCluster.start(database.url)
    const setup = new Kysely<DB>({ dialect: new CockroachDialect({ connectionString: database.url }) })
    await setup.schema
      .createTable('item')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute()
    await setup.destroy()
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

  /** A pool whose only idle connections (two) are on node 0; `othersUp`: nodes 1 and 2 back up. */
  async function poolOnNodeZero(othersUp: boolean): Promise<Kysely<DB>> {
    dialect = new CockroachDialect({
      connectionString: cluster.url(),
      applicationName: APP,
      poolConfig: { max: 6 },
      cluster: { rebalance: false, probeBackoffMs: { initial: 50, max: 200 }, onEvent: (event) => void events.push(event) },
    })
    const kysely = (db = new Kysely<DB>({ dialect }))
    await cluster.proxies[1]!.setAdmission('refuse')
    await cluster.proxies[2]!.setAdmission('refuse')
    let checkedOut = 0
    let releaseAll!: () => void
    const all = new Promise<void>((resolve) => (releaseAll = resolve))
    await Promise.all(
      [1, 2].map(() =>
        kysely.connection().execute(async (connection) => {
          await sql`select 1`.execute(connection)
          if (++checkedOut === 2) releaseAll()
          await all
        }),
      ),
    )
    if (othersUp) {
      await cluster.proxies[1]!.setAdmission('accept')
      await cluster.proxies[2]!.setAdmission('accept')
      await pollUntil(() => dialect.nodeStatus().every((node) => node.state === 'up'), 'nodes 1 and 2 to be probed up again')
    }
    const status = dialect.nodeStatus()
    assert.deepEqual(
      status.map((node) => [node.total, node.idle]),
      [
        [2, 2],
        [0, 0],
        [0, 0],
      ],
      'the setup leaves two idle connections on node 0 and none elsewhere',
    )
    events = []
    return kysely
  }

  async function insertItem(kysely: Kysely<DB>, id: number, strategy: RetryStrategy): Promise<{ result: string; calls: number }> {
    let calls = 0
    const result = await withRetry(
      kysely,
      async (trx) => {
        calls++
        await trx.insertInto('item').values({ id }).execute()
        return `inserted ${id}`
      },
      { strategy, baseDelayMs: 1, resolveAmbiguousCommits: true },
    )
    return { result, calls }
  }

  const rows = async (kysely: Kysely<DB>, id: number) =>
    Number(
      (
        await kysely
          .selectFrom('item')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).n,
    )

  for (const strategy of ['restart', 'savepoint'] as const)
    for (const when of ['after-server-reply', 'before-send'] as const satisfies readonly CutTiming[]) {
      it(`${strategy} strategy, COMMIT cut ${when} on node 0: the fence runs on node 1 or 2`, async () => {
        const kysely = await poolOnNodeZero(true)
        const id = nextId++
        const cut = cluster.proxies[0]!.cutOn({ match: isCommit, when })
        const { result, calls } = await insertItem(kysely, id, strategy)
        await cut
        assert.equal(result, `inserted ${id}`)
        assert.equal(calls, when === 'after-server-reply' ? 1 : 2)
        assert.equal(await rows(kysely, id), 1)
        // The fence's connection (pooled again after it) went through proxy 1 or 2.
        const fenceSessions = cluster.proxies.map((proxy) => proxy.sessionsThatSent(isFence).length)
        assert.equal(fenceSessions[0], 0, `node 0 ran no fence (fence sessions per node: ${fenceSessions.join(', ')})`)
        assert.ok(fenceSessions[1]! + fenceSessions[2]! >= 1, `node 1 or 2 ran the fence (per node: ${fenceSessions.join(', ')})`)
        assert.ok(
          events.some((event) => event.type === 'connectionOpened' && event.node !== cluster.nodeKey(0)),
          'a connection was opened on another node for the fence',
        )
      })
    }

  it('the lost node is the only one up: the fence runs there', async () => {
    const kysely = await poolOnNodeZero(false)
    const id = nextId++
    const cut = cluster.proxies[0]!.cutOn({ match: isCommit, when: 'after-server-reply' })
    const { result, calls } = await insertItem(kysely, id, 'restart')
    await cut
    assert.equal(result, `inserted ${id}`)
    assert.equal(calls, 1)
    assert.equal(await rows(kysely, id), 1)
    assert.equal(cluster.proxies[0]!.sessionsThatSent(isFence).length, 1, 'node 0 ran the fence')
  })
})
