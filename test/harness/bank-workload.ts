// The bank workload of the cluster tests and the failover benchmark: workers move money between
// random accounts with read-modify-write transfers through withRetry, each transfer with a client
// UUID stored in `transfer`, so that "committed exactly once" and "money conserved" can be checked
// against what the workers were told.
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Kysely } from 'kysely'
import { withRetry } from '../../src/index.js'
import type { WithRetryOptions } from '../../src/index.js'

export interface BankDB {
  account: { id: number; balance: number }
  transfer: { id: string; from_id: number; to_id: number; amount: number }
}

export interface BankOptions {
  readonly accounts: number
  readonly initialBalance: number
}

export async function createBank(db: Kysely<BankDB>, options: BankOptions): Promise<void> {
  await db.schema
    .createTable('account')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('balance', 'integer', (c) => c.notNull())
    .execute()
  await db.schema
    .createTable('transfer')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('from_id', 'integer', (c) => c.notNull())
    .addColumn('to_id', 'integer', (c) => c.notNull())
    .addColumn('amount', 'integer', (c) => c.notNull())
    .execute()
  await db
    .insertInto('account')
    .values(Array.from({ length: options.accounts }, (_, i) => ({ id: i + 1, balance: options.initialBalance })))
    .execute()
}

export interface Acknowledged {
  readonly id: string
  readonly from: number
  readonly to: number
  readonly amount: number
  readonly latencyMs: number
  readonly endedAt: number
}

export interface BankRun {
  readonly acknowledged: Acknowledged[]
  readonly errors: unknown[]
  /** Callback runs, over all transfers (above acknowledged.length when there were retries). */
  readonly runs: { count: number }
  /** Stops the workers after their current transfer and waits for them. */
  stop(): Promise<void>
}

/** Starts `workers` workers that transfer until stop(). */
export function runBank(
  db: Kysely<BankDB>,
  options: BankOptions & { readonly workers: number; readonly retry: WithRetryOptions },
): BankRun {
  const acknowledged: Acknowledged[] = []
  const errors: unknown[] = []
  const runs = { count: 0 }
  let stopping = false
  const transfer = async () => {
    const from = 1 + Math.floor(Math.random() * options.accounts)
    const to = 1 + ((from + Math.floor(Math.random() * (options.accounts - 1))) % options.accounts)
    const amount = 1 + Math.floor(Math.random() * 10)
    const id = randomUUID()
    const started = performance.now()
    await withRetry(
      db,
      async (trx) => {
        runs.count++
        // Read-modify-write, so that concurrent transfers conflict (40001 under serializable).
        const a = await trx.selectFrom('account').select('balance').where('id', '=', from).executeTakeFirstOrThrow()
        const b = await trx.selectFrom('account').select('balance').where('id', '=', to).executeTakeFirstOrThrow()
        await trx
          .updateTable('account')
          .set({ balance: a.balance - amount })
          .where('id', '=', from)
          .execute()
        await trx
          .updateTable('account')
          .set({ balance: b.balance + amount })
          .where('id', '=', to)
          .execute()
        await trx.insertInto('transfer').values({ id, from_id: from, to_id: to, amount }).execute()
      },
      options.retry,
    )
    const endedAt = performance.now()
    acknowledged.push({ id, from, to, amount, latencyMs: endedAt - started, endedAt })
  }
  const workers = Array.from({ length: options.workers }, async () => {
    while (!stopping) {
      try {
        await transfer()
      } catch (error) {
        errors.push(error)
      }
    }
  })
  return {
    acknowledged,
    errors,
    runs,
    stop: async () => {
      stopping = true
      await Promise.all(workers)
    },
  }
}

export interface BankCheck {
  readonly total: number
  readonly expectedTotal: number
  /** Acknowledged ids missing from `transfer`. */
  readonly lost: number
  /** Rows of `transfer` no worker was told about (a transfer applied although its worker got an error). */
  readonly unacknowledged: number
  /** Accounts whose balance is not the initial one plus the transfers in `transfer`. */
  readonly wrongBalances: number
}

/** Reads the bank back and compares it with what the workers were told. */
export async function checkBank(db: Kysely<BankDB>, run: Pick<BankRun, 'acknowledged'>, options: BankOptions): Promise<BankCheck> {
  const accounts = await db.selectFrom('account').select(['id', 'balance']).execute()
  const transfers = await db.selectFrom('transfer').select(['id', 'from_id', 'to_id', 'amount']).execute()
  const expected = new Map(accounts.map((a) => [a.id, options.initialBalance]))
  for (const t of transfers) {
    expected.set(t.from_id, (expected.get(t.from_id) ?? 0) - t.amount)
    expected.set(t.to_id, (expected.get(t.to_id) ?? 0) + t.amount)
  }
  const stored = new Set(transfers.map((t) => t.id))
  const told = new Set(run.acknowledged.map((t) => t.id))
  return {
    total: accounts.reduce((sum, a) => sum + a.balance, 0),
    expectedTotal: options.accounts * options.initialBalance,
    lost: [...told].filter((id) => !stored.has(id)).length,
    unacknowledged: [...stored].filter((id) => !told.has(id)).length,
    wrongBalances: accounts.filter((a) => a.balance !== expected.get(a.id)).length,
  }
}
