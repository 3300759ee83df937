// Workload 1: point select by primary key, on one connection and with 16 concurrent callers.
// Kysely on CockroachDialect vs raw pg (pool.query with the same SQL) vs Kysely's PostgresDialect,
// and CockroachDialect with the one host on the cluster pool instead of pg.Pool (src/cluster/).
const CLUSTER_POOL = 'Kysely + CockroachDialect, cluster pool'
import { Kysely, PostgresDialect } from 'kysely'
import type { PostgresPool } from 'kysely'
import { CockroachDialect } from '../../src/index.js'
import type { BenchContext, ChartBar, TargetCheck, Workload, WorkloadResult } from '../bench-types.js'
import { formatNumber, formatRatioSummary, formatSummary, markdownTable, nowMs, pairedRatio, runRounds, summarize } from '../stats.js'
import type { Contender, Summary } from '../stats.js'
import { cockroachClusterKysely, createBenchDatabase, createContenders } from '../support.js'

interface Users {
  id: number
  email: string
  name: string
  score: number
}

interface DB {
  users: Users
}

const TABLE_ROWS = 10_000
const SQL = 'select "id", "email", "name", "score" from "users" where "id" = $1'

interface Sample {
  /** Median latency of the run's queries, in milliseconds. */
  readonly latencyMs: number
  readonly opsPerSecond: number
  /** This process's CPU time (user + system) per query, in microseconds: the client's own cost. */
  readonly cpuUs: number
}

interface Scenario {
  readonly label: string
  readonly concurrency: number
}

const SCENARIOS: readonly Scenario[] = [
  { label: '1 connection', concurrency: 1 },
  { label: '16 concurrent', concurrency: 16 },
]

type Query = (id: number) => Promise<unknown>

/**
 * One measured run: `concurrency` workers sending queries for `durationMs`, each waiting for its
 * query before sending the next (a closed loop, like request handlers sharing a pool). Runs are
 * time-boxed rather than counted, so every contender gets the same slice of the machine's time.
 */
async function measure(query: Query, durationMs: number, concurrency: number, ids: Int32Array): Promise<Sample> {
  const latencies: number[] = []
  let next = 0
  const cpu = process.cpuUsage()
  const start = nowMs()
  const deadline = start + durationMs
  const worker = async () => {
    for (let sent = nowMs(); sent < deadline;) {
      const id = ids[next++ % ids.length]!
      const row = await query(id)
      const done = nowMs()
      latencies.push(done - sent)
      sent = done
      if (row === undefined) {
        throw new Error(`point select: no row for id ${id}`)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsedMs = nowMs() - start
  const { user, system } = process.cpuUsage(cpu)
  const ops = latencies.length
  return { latencyMs: summarize(latencies).median, opsPerSecond: (ops / elapsedMs) * 1000, cpuUs: (user + system) / ops }
}

/**
 * An in-memory stand-in for a pg.Pool whose one client answers every query at once with the same
 * row: with no network and no server in the way, the time per query is all library code.
 */
class StubPool {
  readonly options = {}
  readonly Client = class {}
  readonly #client = {
    processID: 1,
    query: (_sql: string, parameters: readonly unknown[]) =>
      Promise.resolve({ command: 'SELECT', rowCount: 1, rows: [{ id: parameters[0], email: 'a@example.com', name: 'A', score: 1 }] }),
    release: () => {},
  }

  async connect() {
    return this.#client
  }

  async end() {}
}

async function measureInMemory(db: Kysely<DB>, ops: number): Promise<number> {
  const query = kyselyQuery(db)
  const start = nowMs()
  for (let i = 0; i < ops; i++) {
    if ((await query(i)) === undefined) throw new Error('in-memory point select returned no row')
  }
  return ((nowMs() - start) * 1000) / ops
}

/** Client-side cost per query of each dialect, without the database: where the dialect's own overhead shows. */
async function inMemoryOverhead(context: BenchContext): Promise<string> {
  const pool = () => new StubPool() as unknown as PostgresPool
  const cockroach = new Kysely<DB>({ dialect: new CockroachDialect({ pool: pool() }) })
  const postgres = new Kysely<DB>({ dialect: new PostgresDialect({ pool: pool() }) })
  const ops = context.quick ? 2_000 : 5_000
  const rounds = context.quick ? 6 : 40
  try {
    const samples = await runRounds(
      [
        { name: 'Kysely + CockroachDialect', run: () => measureInMemory(cockroach, ops) },
        { name: 'Kysely + PostgresDialect', run: () => measureInMemory(postgres, ops) },
      ],
      { warmup: 5, rounds },
    )
    const crdb = samples.get('Kysely + CockroachDialect')!
    const pg = samples.get('Kysely + PostgresDialect')!
    return [
      `Library code alone: the same point select through each dialect on an in-memory pool whose client answers ` +
        `at once (no network, no server), ${formatNumber(ops)} sequential queries per run, 5 warm-up and ${rounds} rounds. ` +
        `This isolates what CockroachDialect's driver, connection and pool wrappers add per query.`,
      markdownTable(
        ['Contender', 'Time per query', 'vs PostgresDialect'],
        [
          ['Kysely + CockroachDialect', formatSummary(summarize(crdb), ' µs'), formatRatioSummary(pairedRatio(crdb, pg))],
          ['Kysely + PostgresDialect', formatSummary(summarize(pg), ' µs'), 'baseline'],
        ],
      ),
    ].join('\n\n')
  } finally {
    await Promise.all([cockroach.destroy(), postgres.destroy()])
  }
}

function kyselyQuery(db: Kysely<DB>): Query {
  return (id) => db.selectFrom('users').select(['id', 'email', 'name', 'score']).where('id', '=', id).executeTakeFirst()
}

export const workload: Workload = {
  name: 'point-select',
  title: 'Point select by primary key',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const database = await createBenchDatabase(context.pgUrl, 'bench_point_select')
    // Many short runs rather than a few long ones: on a shared machine the load changes from one
    // second to the next, and only contenders measured within milliseconds of each other see the same.
    const rounds = context.quick ? 12 : 100
    const warmup = context.quick ? 2 : 10
    const durationMs = context.quick ? 60 : 150
    const sections: string[] = []
    const targets: TargetCheck[] = []
    const chart: ChartBar[] = []
    try {
      const setup = createContenders<DB>(database.url, 1)
      await setup.raw.query('create table users (id integer primary key, email text not null, name text not null, score integer not null)')
      await setup.raw.query(
        `insert into users select i, 'user' || i || '@example.com', 'User ' || i, i % 1000 from generate_series(1, ${TABLE_ROWS}) i`,
      )
      await setup.raw.query('vacuum analyze users')
      const compiled = setup.cockroach.selectFrom('users').select(['id', 'email', 'name', 'score']).where('id', '=', 1).compile()
      if (compiled.sql !== SQL) {
        throw new Error(`point select: Kysely compiles ${compiled.sql}, the raw pg contender sends ${SQL}`)
      }
      await setup.close()

      // A fixed pseudo-random order of ids, the same for every contender.
      const ids = new Int32Array(65_536)
      let seed = 42
      for (let i = 0; i < ids.length; i++) {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
        ids[i] = (seed % TABLE_ROWS) + 1
      }

      const rows: string[][] = []
      for (const scenario of SCENARIOS) {
        const pools = createContenders<DB>(database.url, scenario.concurrency)
        const clusterPool = cockroachClusterKysely<DB>(database.url, scenario.concurrency)
        try {
          const raw: Query = async (id) => (await pools.raw.query(SQL, [id])).rows[0]
          const contenders: Contender<Sample>[] = [
            { name: 'raw pg', run: () => measure(raw, durationMs, scenario.concurrency, ids) },
            { name: 'Kysely + CockroachDialect', run: () => measure(kyselyQuery(pools.cockroach), durationMs, scenario.concurrency, ids) },
            { name: 'Kysely + PostgresDialect', run: () => measure(kyselyQuery(pools.postgres), durationMs, scenario.concurrency, ids) },
            { name: CLUSTER_POOL, run: () => measure(kyselyQuery(clusterPool), durationMs, scenario.concurrency, ids) },
          ]
          context.log(`point-select: ${scenario.label}, ${durationMs} ms per run, ${warmup} warm-up + ${rounds} rounds`)
          const samples = await runRounds(contenders, { warmup, rounds })
          const get = (name: string, key: keyof Sample) => samples.get(name)!.map((s) => s[key])
          const crdbLatency = get('Kysely + CockroachDialect', 'latencyMs')
          const crdbOps = get('Kysely + CockroachDialect', 'opsPerSecond')

          const versus = (name: string, baseline: string) =>
            name === baseline
              ? ['baseline', 'baseline']
              : [
                  formatRatioSummary(pairedRatio(get(name, 'latencyMs'), get(baseline, 'latencyMs'))),
                  formatRatioSummary(pairedRatio(get(baseline, 'opsPerSecond'), get(name, 'opsPerSecond'))),
                ]
          for (const contender of contenders) {
            rows.push([
              scenario.label,
              contender.name,
              formatSummary(summarize(get(contender.name, 'latencyMs')), ' µs', 1000),
              formatSummary(summarize(get(contender.name, 'opsPerSecond'))),
              formatSummary(summarize(get(contender.name, 'cpuUs')), ' µs'),
              ...versus(contender.name, 'raw pg'),
              ...(contender.name === 'raw pg' ? ['', ''] : versus(contender.name, 'Kysely + PostgresDialect')),
            ])
          }

          for (const [baseline, limit] of [
            ['raw pg', 1.1],
            ['Kysely + PostgresDialect', 1.02],
          ] as const) {
            // Throughput as a cost: the baseline's queries per second over ours (1.05x = 5% fewer
            // queries per second), so both metrics read "at most Nx the baseline's cost".
            const latency = pairedRatio(crdbLatency, get(baseline, 'latencyMs'))
            const throughput = pairedRatio(get(baseline, 'opsPerSecond'), crdbOps)
            const short = baseline === 'raw pg' ? 'raw pg' : 'PostgresDialect'
            targets.push(check(`point select, ${scenario.label}: median latency <= ${limit}x ${short}`, latency, limit))
            targets.push(check(`point select, ${scenario.label}: throughput cost <= ${limit}x ${short}`, throughput, limit))
            chart.push({ label: `${scenario.label}: latency vs ${short} (lower is better)`, ratio: latency.median })
            chart.push({ label: `${scenario.label}: throughput cost vs ${short} (lower is better)`, ratio: throughput.median })
          }
        } finally {
          await Promise.all([pools.close(), clusterPool.destroy()])
        }
      }
      sections.push(
        `Table of ${formatNumber(TABLE_ROWS)} rows; every query is \`${SQL}\` with one parameter, an unnamed ` +
          `statement for every contender. Pool size = concurrency. '${CLUSTER_POOL}' is CockroachDialect with the same single host ` +
          `on the pool it uses for several nodes (\`cluster: {}\`; lifetime with jitter, src/cluster/) instead of pg.Pool. Runs of ${durationMs} ms; ${warmup} warm-up and ${rounds} measured ` +
          `rounds, contenders in rotating order; figures are the median over rounds (interquartile range in ` +
          `brackets). Ratios are paired per round and are costs: latency over the baseline's, and the ` +
          `baseline's queries per second over the contender's (lower is better, 1 = same as the baseline). Client CPU is this process's user + system time per ` +
          `query: the part of the cost that the library adds, and the figure least disturbed by other load on the machine.`,
        markdownTable(
          [
            'Scenario',
            'Contender',
            'Median latency',
            'Queries/s',
            'Client CPU per query',
            'Latency vs raw pg',
            'Throughput cost vs raw pg',
            'Latency vs PostgresDialect',
            'Throughput cost vs PostgresDialect',
          ],
          rows,
        ),
      )
      context.log('point-select: library code alone, on an in-memory pool')
      sections.push(await inMemoryOverhead(context))
    } finally {
      await database.drop()
    }
    return { markdown: sections.join('\n\n'), targets, chart }
  },
}

function check(description: string, ratio: Summary, limit: number): TargetCheck {
  return { description, ratio: ratio.median, limit, kind: 'max', met: ratio.median <= limit }
}
