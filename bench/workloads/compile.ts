// Workload 2: compile only, no database. The same operation trees (built once, outside the timings)
// compiled to SQL by CockroachQueryCompiler and by Kysely's PostgresQueryCompiler.
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, createQueryId, sql } from 'kysely'
import type { QueryCompiler, QueryId, RootOperationNode } from 'kysely'
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres'
import {
  CockroachQueryCompiler,
  asOfSystemTime,
  followerReadTimestamp,
  indexHint,
  joinHint,
  upsertInto,
  withMaxStaleness,
} from '../../src/index.js'
import type { BenchContext, Workload, WorkloadResult } from '../bench-types.js'
import { formatNumber, formatRatioSummary, formatSummary, markdownTable, pairedRatio, runRounds, summarize } from '../stats.js'

interface DB {
  org: { id: number; parent_id: number | null; name: string; region: string }
  person: { id: number; org_id: number; first_name: string; last_name: string; email: string; created_at: Date; deleted_at: Date | null }
  product: { id: number; sku: string; name: string; price: string; tags: string[] }
  orders: { id: number; person_id: number; status: string; total: string; created_at: Date }
  order_item: { order_id: number; product_id: number; qty: number; price: string }
  inventory: { product_id: number; warehouse: string; qty: number; updated_at: Date }
  audit_log: { id: number; entity: string; entity_id: number; payload: unknown; at: Date }
}

interface CorpusQuery {
  readonly label: string
  readonly node: RootOperationNode
}

/** Builds operation trees only; nothing here connects anywhere. */
export function builder(): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  })
}

/** Queries both compilers support: what an application on either database sends every day. */
export function sharedCorpus(db: Kysely<DB>): CorpusQuery[] {
  const since = new Date('2024-01-01T00:00:00Z')
  const ids = Array.from({ length: 50 }, (_, i) => i + 1)
  const q: [string, { toOperationNode(): RootOperationNode }][] = [
    ['select by primary key', db.selectFrom('person').selectAll().where('id', '=', 42)],
    [
      'filtered page with order, limit, offset',
      db
        .selectFrom('person')
        .select(['id', 'first_name', 'last_name', 'email'])
        .where((eb) =>
          eb.and([
            eb('org_id', '=', 7),
            eb('deleted_at', 'is', null),
            eb.or([eb('first_name', 'ilike', 'a%'), eb('last_name', 'ilike', 'a%')]),
          ]),
        )
        .orderBy('last_name')
        .orderBy('id', 'desc')
        .limit(20)
        .offset(40),
    ],
    [
      'inner join with IN list',
      db
        .selectFrom('orders as o')
        .innerJoin('person as p', 'p.id', 'o.person_id')
        .select(['o.id', 'o.total', 'p.email'])
        .where('o.status', 'in', ['paid', 'shipped', 'delivered'])
        .where('o.created_at', '>=', since),
    ],
    [
      'left join, group by, having',
      db
        .selectFrom('person as p')
        .leftJoin('orders as o', 'o.person_id', 'p.id')
        .select((eb) => ['p.id', 'p.email', eb.fn.count<number>('o.id').as('order_count'), eb.fn.sum<string>('o.total').as('spent')])
        .groupBy(['p.id', 'p.email'])
        .having((eb) => eb.fn.count('o.id'), '>', 5)
        .orderBy('spent', 'desc'),
    ],
    [
      'four-table join with aggregates',
      db
        .selectFrom('orders as o')
        .innerJoin('order_item as oi', 'oi.order_id', 'o.id')
        .innerJoin('product as pr', 'pr.id', 'oi.product_id')
        .innerJoin('person as p', 'p.id', 'o.person_id')
        .select((eb) => ['pr.sku', eb.fn.sum<number>('oi.qty').as('units'), eb.fn.countAll<number>().as('lines')])
        .where('o.status', '=', 'paid')
        .where('p.org_id', '=', 3)
        .groupBy('pr.sku')
        .orderBy('units', 'desc')
        .limit(10),
    ],
    [
      'CTE joined to its table',
      db
        .with('recent', (qb) => qb.selectFrom('orders').select(['id', 'person_id', 'total']).where('created_at', '>=', since))
        .selectFrom('recent')
        .innerJoin('person', 'person.id', 'recent.person_id')
        .select(['person.email', 'recent.total']),
    ],
    [
      'recursive CTE (org tree)',
      db
        .withRecursive('tree(id, parent_id, name, depth)', (qb) =>
          qb
            .selectFrom('org')
            .select(['id', 'parent_id', 'name', sql<number>`0`.as('depth')])
            .where('id', '=', 1)
            .unionAll((qb2) =>
              qb2
                .selectFrom('org')
                .innerJoin('tree', 'tree.id', 'org.parent_id')
                .select(['org.id', 'org.parent_id', 'org.name', sql<number>`tree.depth + 1`.as('depth')]),
            ),
        )
        .selectFrom('tree')
        .selectAll()
        .orderBy('depth'),
    ],
    [
      'EXISTS subquery',
      db
        .selectFrom('person as p')
        .select(['p.id', 'p.email'])
        .where((eb) =>
          eb.exists(eb.selectFrom('orders as o').select('o.id').whereRef('o.person_id', '=', 'p.id').where('o.status', '=', 'refunded')),
        ),
    ],
    [
      'scalar subquery in select',
      db.selectFrom('person as p').select((eb) => [
        'p.id',
        eb
          .selectFrom('orders as o')
          .select((eb2) => eb2.fn.max('o.created_at').as('last'))
          .whereRef('o.person_id', '=', 'p.id')
          .as('last_order_at'),
      ]),
    ],
    [
      'nested JSON (jsonArrayFrom, jsonObjectFrom)',
      db
        .selectFrom('person as p')
        .select((eb) => [
          'p.id',
          jsonObjectFrom(eb.selectFrom('org').select(['org.id', 'org.name']).whereRef('org.id', '=', 'p.org_id')).as('org'),
          jsonArrayFrom(
            eb
              .selectFrom('orders as o')
              .select(['o.id', 'o.total', 'o.status'])
              .whereRef('o.person_id', '=', 'p.id')
              .orderBy('o.created_at', 'desc')
              .limit(5),
          ).as('orders'),
        ])
        .where('p.id', '=', 42),
    ],
    [
      'window function',
      db.selectFrom('orders').select((eb) => [
        'id',
        'person_id',
        'total',
        eb.fn
          .agg<number>('row_number')
          .over((ob) => ob.partitionBy('person_id').orderBy('created_at', 'desc'))
          .as('rank'),
        eb.fn
          .sum<string>('total')
          .over((ob) => ob.partitionBy('person_id'))
          .as('person_total'),
      ]),
    ],
    [
      'DISTINCT ON',
      db
        .selectFrom('orders')
        .distinctOn('person_id')
        .select(['person_id', 'id', 'created_at'])
        .orderBy('person_id')
        .orderBy('created_at', 'desc'),
    ],
    [
      'UNION ALL',
      db
        .selectFrom('person')
        .select(['email as contact'])
        .where('org_id', '=', 1)
        .unionAll(db.selectFrom('org').select(['name as contact']).where('region', '=', 'eu')),
    ],
    [
      'CASE expression',
      db
        .selectFrom('orders')
        .select((eb) => [
          'id',
          eb.case().when('total', '>', '1000').then('large').when('total', '>', '100').then('medium').else('small').end().as('size'),
        ]),
    ],
    ['IN list of 50 parameters', db.selectFrom('product').select(['id', 'sku', 'price']).where('id', 'in', ids)],
    [
      'BETWEEN dates',
      db
        .selectFrom('orders')
        .selectAll()
        .where((eb) => eb.between('created_at', since, new Date('2024-02-01T00:00:00Z'))),
    ],
    [
      'array containment (tags @>)',
      db
        .selectFrom('product')
        .select(['id', 'name'])
        .where('tags', '@>', sql<string[]>`${sql.val(['sale', 'new'])}::string[]`),
    ],
    [
      'SELECT ... FOR UPDATE SKIP LOCKED',
      db.selectFrom('orders').select(['id']).where('status', '=', 'pending').orderBy('created_at').limit(10).forUpdate().skipLocked(),
    ],
    [
      'LATERAL join',
      db
        .selectFrom('person as p')
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('orders as o')
              .select(['o.id', 'o.total'])
              .whereRef('o.person_id', '=', 'p.id')
              .orderBy('o.created_at', 'desc')
              .limit(3)
              .as('last3'),
          (join) => join.onTrue(),
        )
        .select(['p.email', 'last3.id', 'last3.total']),
    ],
    [
      'insert one row, returning',
      db
        .insertInto('person')
        .values({
          id: 1,
          org_id: 1,
          first_name: 'Ada',
          last_name: 'Lovelace',
          email: 'ada@example.com',
          created_at: since,
          deleted_at: null,
        })
        .returning(['id', 'created_at']),
    ],
    [
      'insert 10 rows, returning',
      db
        .insertInto('order_item')
        .values(Array.from({ length: 10 }, (_, i) => ({ order_id: 1, product_id: i + 1, qty: i + 1, price: '9.99' })))
        .returning('product_id'),
    ],
    [
      'ON CONFLICT DO UPDATE (upsert)',
      db
        .insertInto('inventory')
        .values({ product_id: 1, warehouse: 'ams', qty: 5, updated_at: since })
        .onConflict((oc) =>
          oc
            .columns(['product_id', 'warehouse'])
            .doUpdateSet((eb) => ({ qty: eb('inventory.qty', '+', eb.ref('excluded.qty')), updated_at: eb.ref('excluded.updated_at') })),
        ),
    ],
    [
      'ON CONFLICT DO NOTHING',
      db
        .insertInto('product')
        .values({ id: 1, sku: 'A-1', name: 'Widget', price: '1.00', tags: ['new'] })
        .onConflict((oc) => oc.column('sku').doNothing()),
    ],
    [
      'INSERT ... SELECT',
      db
        .insertInto('audit_log')
        .columns(['entity', 'entity_id', 'payload', 'at'])
        .expression((eb) =>
          eb
            .selectFrom('orders')
            .select((eb2) => [sql.lit('order').as('entity'), 'id', sql`to_jsonb(orders.*)`.as('payload'), eb2.val(since).as('at')])
            .where('status', '=', 'paid'),
        ),
    ],
    [
      'update with where, returning',
      db.updateTable('orders').set({ status: 'shipped' }).where('id', '=', 9).where('status', '=', 'paid').returning(['id', 'status']),
    ],
    [
      'update ... from',
      db
        .updateTable('orders')
        .from('person')
        .set((eb) => ({ status: eb.val('frozen') }))
        .whereRef('orders.person_id', '=', 'person.id')
        .where('person.deleted_at', 'is not', null),
    ],
    [
      'update with arithmetic',
      db
        .updateTable('inventory')
        .set((eb) => ({ qty: eb('qty', '-', 1), updated_at: sql`now()` }))
        .where('product_id', '=', 5)
        .where('qty', '>', 0),
    ],
    [
      'delete with IN subquery',
      db.deleteFrom('order_item').where('order_id', 'in', (eb) => eb.selectFrom('orders').select('id').where('status', '=', 'cancelled')),
    ],
    [
      'delete ... using',
      db.deleteFrom('orders').using('person').whereRef('orders.person_id', '=', 'person.id').where('person.deleted_at', '<', since),
    ],
    ['delete returning', db.deleteFrom('audit_log').where('at', '<', since).returning(['id', 'entity'])],
    [
      'CTE with data-modifying statement',
      db
        .with('moved', (qb) => qb.deleteFrom('orders').where('status', '=', 'archived').returningAll())
        .insertInto('audit_log')
        .columns(['entity', 'entity_id', 'payload', 'at'])
        .expression((eb) =>
          eb.selectFrom('moved').select([sql.lit('order').as('entity'), 'id', sql`to_jsonb(moved.*)`.as('payload'), 'created_at']),
        ),
    ],
    [
      'date_trunc report with raw SQL expressions',
      db
        .selectFrom('orders')
        .select((eb) => [
          sql<Date>`date_trunc('day', ${eb.ref('created_at')})`.as('day'),
          eb.fn.coalesce(eb.fn.sum<string>('total'), sql.lit('0')).as('revenue'),
        ])
        .where('created_at', '>=', since)
        .groupBy(sql`1`)
        .orderBy(sql`1`),
    ],
    [
      'index hint as a raw table reference',
      db
        .selectFrom(sql<DB['person']>`person@person_email_idx`.as('p'))
        .select(['p.id', 'p.org_id'])
        .where('p.email', '=', 'ada@example.com'),
    ],
    [
      'count with filter',
      db
        .selectFrom('orders')
        .select((eb) => [eb.fn.countAll<number>().filterWhere('status', '=', 'paid').as('paid'), eb.fn.countAll<number>().as('all')]),
    ],
  ]
  return q.map(([label, query]) => ({ label, node: query.toOperationNode() }))
}

/** Queries only CockroachQueryCompiler compiles: this package's UPSERT, AS OF SYSTEM TIME and hint helpers. */
export function cockroachCorpus(db: Kysely<DB>): CorpusQuery[] {
  const q: [string, { toOperationNode(): RootOperationNode }][] = [
    ['upsertInto, one row', upsertInto(db, 'inventory').values({ product_id: 1, warehouse: 'ams', qty: 5, updated_at: new Date(0) })],
    [
      'upsertInto, 10 rows, returning',
      upsertInto(db, 'order_item')
        .values(Array.from({ length: 10 }, (_, i) => ({ order_id: 1, product_id: i + 1, qty: i + 1, price: '9.99' })))
        .returning(['order_id', 'product_id']),
    ],
    [
      'upsertInto from a CTE',
      upsertInto(
        db.with('totals', (qb) =>
          qb
            .selectFrom('order_item')
            .select((eb) => ['product_id', eb.fn.sum<number>('qty').as('qty')])
            .groupBy('product_id'),
        ),
        'inventory',
      )
        .columns(['product_id', 'warehouse', 'qty', 'updated_at'])
        .expression((eb) =>
          eb.selectFrom('totals').select(['product_id', sql.lit('all').as('warehouse'), 'qty', sql<Date>`now()`.as('updated_at')]),
        ),
    ],
    [
      "asOfSystemTime('-10s') on a join",
      db
        .selectFrom('person')
        .innerJoin('orders', 'orders.person_id', 'person.id')
        .select(['person.email', 'orders.total'])
        .where('person.id', '=', 42)
        .$call(asOfSystemTime('-10s')),
    ],
    [
      'asOfSystemTime(followerReadTimestamp())',
      db.selectFrom('product').select(['id', 'sku', 'price']).$call(asOfSystemTime(followerReadTimestamp())),
    ],
    [
      "asOfSystemTime(withMaxStaleness('10s'))",
      db
        .selectFrom('product')
        .selectAll()
        .where('id', '=', 7)
        .$call(asOfSystemTime(withMaxStaleness('10s'))),
    ],
    [
      'indexHint by name',
      db
        .selectFrom(indexHint(db, 'person', 'person_email_idx').as('p'))
        .select(['p.id', 'p.org_id'])
        .where('p.email', '=', 'ada@example.com'),
    ],
    [
      'indexHint options on a joined table',
      db
        .selectFrom('orders')
        .innerJoin(indexHint(db, 'person', { noFullScan: true }), 'person.id', 'orders.person_id')
        .select(['orders.id', 'person.email']),
    ],
    [
      "joinHint('hash')",
      db
        .selectFrom('person')
        .innerJoin(joinHint('hash', db, 'orders'), 'orders.person_id', 'person.id')
        .select(['person.id', 'orders.total']),
    ],
    [
      "joinHint('lookup') on an indexHint table",
      db
        .selectFrom('orders')
        .leftJoin(joinHint('lookup', indexHint(db, 'person', 'person_pkey').as('p')), 'p.id', 'orders.person_id')
        .select(['orders.id', 'p.email']),
    ],
  ]
  return q.map(([label, query]) => ({ label, node: query.toOperationNode() }))
}

export const workload: Workload = {
  name: 'compile',
  title: 'Compile only (no database)',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const db = builder()
    const corpus = sharedCorpus(db)
    const crdbOnly = cockroachCorpus(db)
    const cockroach = new CockroachQueryCompiler()
    const postgres = new PostgresQueryCompiler()

    let identical = 0
    for (const { label, node } of corpus) {
      const queryId = createQueryId()
      const a = cockroach.compileQuery(node, queryId)
      const b = postgres.compileQuery(node, queryId)
      if (a.sql === b.sql && JSON.stringify(a.parameters) === JSON.stringify(b.parameters)) {
        identical++
      } else {
        context.log(`compile: "${label}" compiles differently:\n  cockroach: ${a.sql}\n  postgres:  ${b.sql}`)
      }
    }

    const passes = 300
    let sink = 0
    const run = (compiler: QueryCompiler, queries: readonly CorpusQuery[]) => {
      const ids: QueryId[] = queries.map(() => createQueryId())
      return async () => {
        // CPU time, not wall time: compiling is pure computation on one thread, and CPU time leaves
        // out the time this process waited for a core on a busy machine.
        const start = process.cpuUsage()
        for (let pass = 0; pass < passes; pass++) {
          for (let i = 0; i < queries.length; i++) {
            sink += compiler.compileQuery(queries[i]!.node, ids[i]!).sql.length
          }
        }
        const { user, system } = process.cpuUsage(start)
        // Microseconds per query.
        return (user + system) / (passes * queries.length)
      }
    }
    const rounds = context.quick ? 20 : 100
    const warmup = context.quick ? 5 : 20
    context.log(`compile: ${corpus.length} queries x ${passes} passes per run, ${warmup} warm-up + ${rounds} rounds`)
    const samples = await runRounds(
      [
        { name: 'CockroachQueryCompiler', run: run(cockroach, corpus) },
        { name: 'PostgresQueryCompiler', run: run(postgres, corpus) },
        { name: 'CockroachQueryCompiler, CockroachDB-only corpus', run: run(cockroach, crdbOnly) },
      ],
      { warmup, rounds },
    )
    if (sink === 0) {
      throw new Error('compile: compiled nothing')
    }
    const crdb = samples.get('CockroachQueryCompiler')!
    const pg = samples.get('PostgresQueryCompiler')!
    const ratio = pairedRatio(crdb, pg)
    const only = summarize(samples.get('CockroachQueryCompiler, CockroachDB-only corpus')!)

    const markdown = [
      `${corpus.length} queries both compilers support (joins, CTEs including a recursive and a data-modifying one, ` +
        `ON CONFLICT upserts, JSON helpers, window functions, locking clauses, LATERAL, raw \`sql\` expressions and an ` +
        `index hint written as a raw table reference), built into operation trees once; a run compiles the whole ` +
        `corpus ${passes} times and is timed in CPU time (user + system) of the process, which a busy machine ` +
        `disturbs far less than wall time. ${warmup} warm-up and ${rounds} measured rounds, contenders in rotating order. ` +
        `${identical} of ${corpus.length} queries compile to the same SQL and parameters with both compilers.`,
      markdownTable(
        ['Compiler', 'CPU time per query', 'Queries/s (one core)', 'vs PostgresQueryCompiler'],
        [
          [
            'CockroachQueryCompiler',
            formatSummary(summarize(crdb), ' µs'),
            formatNumber(1e6 / summarize(crdb).median),
            formatRatioSummary(ratio),
          ],
          ['PostgresQueryCompiler', formatSummary(summarize(pg), ' µs'), formatNumber(1e6 / summarize(pg).median), 'baseline'],
        ],
      ),
      `Queries: ${corpus.map((c) => c.label).join('; ')}.`,
      `CockroachDB-only corpus (${crdbOnly.length} queries with this package's helpers, which PostgresQueryCompiler ` +
        `cannot compile, so there is no ratio), measured in the same rounds: **${formatSummary(only, ' µs')}** per query ` +
        `(${formatNumber(1e6 / only.median)} queries/s). Queries: ${crdbOnly.map((c) => c.label).join('; ')}.`,
    ]
    return {
      markdown: markdown.join('\n\n'),
      targets: [
        {
          description: 'compile time <= 1.05x PostgresQueryCompiler',
          ratio: ratio.median,
          limit: 1.05,
          kind: 'max',
          met: ratio.median <= 1.05,
        },
      ],
      chart: [{ label: 'Time vs PostgresQueryCompiler (lower is better)', ratio: ratio.median }],
    }
  },
}
