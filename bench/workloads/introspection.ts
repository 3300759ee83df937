// Workload: schema introspection. CockroachIntrospector against Kysely's PostgresIntrospector on the
// same PostgreSQL database of 10, 100 and 1,000 tables (a tenth of them views): time per getTables()
// and the number of queries each sends, counted with Kysely's `log` option. On CockroachDB the
// catalogs are virtual tables regenerated per query, so the query count (constant for
// CockroachIntrospector, whatever the number of tables) matters more there than the time here.
import { Kysely, PostgresIntrospector } from 'kysely'
import type { DatabaseIntrospector, LogEvent } from 'kysely'
import pg from 'pg'
import { CockroachDialect, CockroachIntrospector } from '../../src/index.js'
import type { BenchContext, TargetCheck, Workload, WorkloadResult } from '../bench-types.js'
import { formatRatioSummary, formatSummary, markdownTable, nowMs, pairedRatio, runRounds, summarize } from '../stats.js'
import { createBenchDatabase } from '../support.js'

interface SizeResult {
  readonly tables: number
  readonly relations: number
  readonly ours: number[]
  readonly theirs: number[]
  readonly oursQueries: number
  readonly oursColdQueries: number
  readonly theirsQueries: number
}

/** Creates `count` relations: tables with the usual column kinds, every tenth one a view instead. */
async function createSchema(url: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const statements: string[] = ["create type status as enum ('new', 'paid', 'shipped')"]
    for (let i = 0; i < count; i++) {
      statements.push(
        i % 10 === 9
          ? `create view v_${i} as select id, name from t_${i - 1}`
          : `create table t_${i} (id bigserial primary key, name text not null, status status, tags text[] not null default '{}', ` +
              `data jsonb, amount numeric(12, 2), created_at timestamptz not null default now())`,
      )
    }
    for (let i = 0; i < statements.length; i += 100) {
      await client.query(statements.slice(i, i + 100).join(';\n'))
    }
  } finally {
    await client.end()
  }
}

function counted(url: string): { db: Kysely<unknown>; queries: () => number; reset: () => void } {
  let queries = 0
  const db = new Kysely<unknown>({
    dialect: new CockroachDialect({ connectionString: url, poolConfig: { max: 1 } }),
    log: (event: LogEvent) => {
      if (event.level === 'query') queries++
    },
  })
  return { db, queries: () => queries, reset: () => void (queries = 0) }
}

async function measureSize(context: BenchContext, tables: number): Promise<SizeResult> {
  const database = await createBenchDatabase(context.pgUrl, `bench_introspection_${tables}`)
  const ours = counted(database.url)
  const theirs = counted(database.url)
  try {
    await createSchema(database.url, tables)

    // Cold: the first getTables() of a Kysely instance also runs `select version()`.
    const cold = counted(database.url)
    const relations = (await new CockroachIntrospector(cold.db).getTables()).length
    const oursColdQueries = cold.queries()
    await cold.db.destroy()
    const theirRelations = (await new PostgresIntrospector(theirs.db).getTables()).length
    if (relations !== theirRelations) {
      throw new Error(`introspection: CockroachIntrospector found ${relations} relations, PostgresIntrospector ${theirRelations}`)
    }

    const time = (introspector: DatabaseIntrospector, counter: { reset(): void }) => async () => {
      counter.reset()
      const start = nowMs()
      await introspector.getTables()
      return nowMs() - start
    }
    const rounds = context.quick ? 5 : tables >= 1000 ? 15 : 30
    const warmup = context.quick ? 1 : 3
    context.log(`introspection: ${tables} relations, ${warmup} warm-up + ${rounds} rounds`)
    const samples = await runRounds(
      [
        { name: 'CockroachIntrospector', run: time(new CockroachIntrospector(ours.db), ours) },
        { name: 'PostgresIntrospector', run: time(new PostgresIntrospector(theirs.db), theirs) },
      ],
      { warmup, rounds },
    )
    return {
      tables,
      relations,
      ours: samples.get('CockroachIntrospector')!,
      theirs: samples.get('PostgresIntrospector')!,
      // Queries of the last measured call of each.
      oursQueries: ours.queries(),
      oursColdQueries,
      theirsQueries: theirs.queries(),
    }
  } finally {
    await Promise.all([ours.db.destroy(), theirs.db.destroy()])
    await database.drop()
  }
}

export const workload: Workload = {
  name: 'introspection',
  title: 'Introspection: CockroachIntrospector vs PostgresIntrospector',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const sizes = context.quick ? [10, 100] : [10, 100, 1000]
    const results: SizeResult[] = []
    for (const size of sizes) {
      results.push(await measureSize(context, size))
    }
    const rows = results.map((r) => [
      String(r.relations),
      formatSummary(summarize(r.ours), ' ms'),
      formatSummary(summarize(r.theirs), ' ms'),
      formatRatioSummary(pairedRatio(r.ours, r.theirs)),
      `${r.oursQueries} (first call: ${r.oursColdQueries})`,
      String(r.theirsQueries),
    ])
    const first = results[0]!
    const last = results[results.length - 1]!
    const lastRatio = pairedRatio(last.ours, last.theirs)
    const constant = results.every((r) => r.oursQueries === first.oursQueries && r.oursColdQueries === first.oursColdQueries)
    const targets: TargetCheck[] = [
      {
        description: `CockroachIntrospector queries per getTables() the same for ${first.tables} and ${last.tables} tables`,
        ratio: last.oursQueries / first.oursQueries,
        limit: 1,
        kind: 'max',
        met: constant,
      },
      {
        description: `getTables() time at ${last.tables} tables <= 1.10x PostgresIntrospector`,
        ratio: lastRatio.median,
        limit: 1.1,
        kind: 'max',
        met: lastRatio.median <= 1.1,
      },
    ]
    const markdown = [
      `Databases of ${sizes.join(', ')} relations on the PostgreSQL server (tables with bigserial key, text, enum, ` +
        `text[], jsonb, numeric and timestamptz columns; every tenth relation a view). Time per \`getTables()\`, ` +
        `introspectors alternating; queries counted with Kysely's \`log\` option. Kysely's PostgresIntrospector calls ` +
        '`pg_get_serial_sequence` and `col_description` for every column; on CockroachDB the first fails as soon as a ' +
        'view exists, so this comparison can only be run on PostgreSQL.',
      markdownTable(['Relations', 'CockroachIntrospector', 'PostgresIntrospector', 'Ratio', 'Queries (ours)', 'Queries (Kysely)'], rows),
    ]
    return {
      markdown: markdown.join('\n\n'),
      targets,
      chart: [{ label: `Introspection of ${last.tables} tables vs PostgresIntrospector (lower is better)`, ratio: lastRatio.median }],
    }
  },
}
