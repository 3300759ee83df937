// Workload: deleting 100,000 of 200,000 rows. deleteInBatches (1,000 rows a batch, each its own
// withRetry transaction, walking the primary key) vs the same keyset loop hand-written on raw pg,
// with a single DELETE ... WHERE for reference (on CockroachDB the one that fails at scale: one
// transaction over every row). The table is refilled before each run, outside the timing.
import { Kysely } from 'kysely'
import type { BenchContext, Workload, WorkloadResult } from '../bench-types.js'
import { deleteInBatches } from '../../src/index.js'
import { formatNumber, formatRatioSummary, formatSummary, markdownTable, pairedRatio, runRounds, startTimer, summarize } from '../stats.js'
import { cockroachKysely, createBenchDatabase, rawPool } from '../support.js'

interface DB {
  del_items: { id: number; sku: string; quantity: number; price: string }
}

const BATCH = 1_000

export const workload: Workload = {
  name: 'bulk-delete',
  title: 'Batched delete',
  async run(context: BenchContext): Promise<WorkloadResult> {
    const total = context.quick ? 40_000 : 200_000
    const matching = total / 2
    const rounds = context.quick ? 3 : 7
    const warmup = 1
    const database = await createBenchDatabase(context.pgUrl, 'bench_bulk_delete')
    const raw = rawPool(database.url, 1)
    const db: Kysely<DB> = cockroachKysely<DB>(database.url, 1)
    try {
      await raw.query(
        'create table del_items (id integer primary key, sku text not null, quantity integer not null, price numeric(10, 2) not null)',
      )
      const refill = async () => {
        await raw.query('truncate del_items')
        await raw.query(`insert into del_items select i, 'SKU-' || i, i % 500, (i % 10000) / 100.0 from generate_series(1, $1) as i`, [
          total,
        ])
        await raw.query('vacuum analyze del_items')
      }
      const timed = (remove: () => Promise<unknown>) => async () => {
        await refill()
        const stop = startTimer()
        await remove()
        const timing = stop()
        const { rows } = await raw.query<{ n: number }>('select count(*)::int as n from del_items')
        if (rows[0]!.n !== total - matching) throw new Error(`bulk-delete: expected ${total - matching} rows left, found ${rows[0]!.n}`)
        return timing
      }
      // What a careful raw-pg user writes: the same keyset loop, one statement per batch, autocommit.
      const rawKeyset = async () => {
        let last = 0
        for (;;) {
          const { rows } = await raw.query<{ id: number; n: string }>(
            'with b as (delete from del_items where id in (select id from del_items where quantity % 2 = 0 and id > $1 ' +
              'order by id limit $2) returning id) select max(id) as id, count(*) as n from b',
            [last, BATCH],
          )
          const n = Number(rows[0]!.n)
          if (n === 0) break
          last = rows[0]!.id
          if (n < BATCH) break
        }
      }
      context.log(
        `bulk-delete: ${formatNumber(matching)} of ${formatNumber(total)} rows, batches of ${BATCH}, ${warmup} warm-up + ${rounds} rounds`,
      )
      const samples = await runRounds(
        [
          { name: 'raw pg keyset loop', run: timed(rawKeyset) },
          {
            name: 'deleteInBatches',
            run: timed(() => deleteInBatches(db, 'del_items', (eb) => eb(eb('quantity', '%', 2), '=', 0), { batchSize: BATCH })),
          },
          { name: 'single DELETE (reference)', run: timed(() => raw.query('delete from del_items where quantity % 2 = 0')) },
        ],
        { warmup, rounds, collectGarbage: true },
      )
      const wall = (name: string) => samples.get(name)!.map((t) => t.ms)
      const cpu = (name: string) => samples.get(name)!.map((t) => t.cpuMs)
      const base = 'raw pg keyset loop'
      const table = [...samples.keys()].map((name) => [
        name,
        formatSummary(summarize(wall(name)), ' ms'),
        formatNumber((matching / summarize(wall(name)).median) * 1000),
        name === base ? 'baseline' : formatRatioSummary(pairedRatio(wall(name), wall(base))),
        formatSummary(summarize(cpu(name)), ' ms'),
      ])
      const ratio = pairedRatio(wall('deleteInBatches'), wall(base))
      return {
        markdown: [
          `${formatNumber(matching)} of ${formatNumber(total)} rows deleted (\`quantity % 2 = 0\`, not indexed), the table ` +
            `refilled and analyzed before each run outside the timing. deleteInBatches and the raw-pg loop delete ${BATCH} rows per ` +
            `statement, walking the primary key (\`... and id > $last order by id limit ${BATCH}\`); deleteInBatches runs each ` +
            `batch in its own withRetry transaction (BEGIN/COMMIT), the raw loop in autocommit. One connection each. ` +
            `${warmup} warm-up and ${rounds} measured rounds, rotating order. Figures only, no target.`,
          markdownTable(['Contender', 'Time', 'Rows deleted/s', 'Time vs raw pg loop', 'Client CPU'], table),
        ].join('\n\n'),
        targets: [],
        chart: [{ label: 'deleteInBatches time vs raw pg keyset loop (lower is better)', ratio: ratio.median }],
      }
    } finally {
      await Promise.all([raw.end(), db.destroy()])
      await database.drop()
    }
  },
}
