// The quickstart, the Kysely way: connect, create an `accounts` table with a UUID key, insert,
// UPSERT, select, and a transfer inside withRetry. Run it with `npm run demo` (scripts/demo.mjs picks
// the server: COCKROACH_URL, else a local `cockroach` binary, else a throwaway PostgreSQL).
import Cursor from 'pg-cursor'
import { Kysely, sql } from 'kysely'
import type { Generated } from 'kysely'
import { CockroachDialect, upsertInto, withRetry } from '../src/index.js'

interface Database {
  accounts: {
    id: Generated<string>
    name: string
    // INT8: returned as bigint because of `int8: 'bigint'` below.
    balance: bigint
  }
}

const url = process.env.DEMO_DATABASE_URL
if (!url) {
  throw new Error('DEMO_DATABASE_URL is not set: run the demo with `npm run demo`')
}

// The demo works in a database of its own, so it never touches tables of yours.
const DEMO_DATABASE = 'kysely_cockroachdb_demo'
const admin = new Kysely<unknown>({ dialect: new CockroachDialect({ connectionString: url }) })
try {
  const { rows } = await sql`select 1 from pg_database where datname = ${DEMO_DATABASE}`.execute(admin)
  if (rows.length === 0) await sql`create database ${sql.id(DEMO_DATABASE)}`.execute(admin)
} finally {
  await admin.destroy()
}
const demoUrl = new URL(url)
demoUrl.pathname = `/${DEMO_DATABASE}`

const db = new Kysely<Database>({
  dialect: new CockroachDialect({ connectionString: demoUrl.toString(), cursor: Cursor, int8: 'bigint' }),
})

/** A heading and, below it, lines of plain text: no raw values (`1n`, `[Object]`) reach the output. */
function show(title: string, lines: readonly string[] = []): void {
  console.log(`\n== ${title}`)
  for (const line of lines) console.log(`   ${line}`)
}

function accountLines(rows: readonly { name: string; balance: bigint }[]): string[] {
  return rows.map((row) => `${row.name.padEnd(6)} ${String(row.balance).padStart(5)}`)
}

const plural = (count: bigint, word: string) => `${count} ${word}${count === 1n ? '' : 's'}`

try {
  const { rows } = await sql<{ version: string }>`select version() as version`.execute(db)
  const version = rows[0]!.version
  const onCockroach = version.startsWith('CockroachDB')
  show(`Node ${process.version}, connected to`, [version])

  await db.schema.dropTable('accounts').ifExists().execute()
  // A random UUID key spreads writes over the whole cluster; SERIAL would make one hot range.
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('balance', 'int8', (col) => col.notNull())
    .execute()
  show('Created table accounts (id UUID PRIMARY KEY DEFAULT gen_random_uuid())')

  const [alice, bob] = await db
    .insertInto('accounts')
    .values([
      { name: 'alice', balance: 1000n },
      { name: 'bob', balance: 250n },
    ])
    .returning(['id', 'name'])
    .execute()
  show(
    'Inserted',
    [alice, bob].map((row) => `${row!.name} (id ${row!.id})`),
  )

  const upsert = upsertInto(db, 'accounts').values({ id: bob!.id, name: 'bob', balance: 300n })
  show('UPSERT compiles to', [upsert.compile().sql])
  if (onCockroach) {
    const result = await upsert.executeTakeFirstOrThrow()
    show(`UPSERT wrote ${plural(result.numInsertedOrUpdatedRows ?? 0n, 'row')}`)
  } else {
    // PostgreSQL has no UPSERT statement; the portable spelling does the same (primary key arbiter).
    const result = await db
      .insertInto('accounts')
      .values({ id: bob!.id, name: 'bob', balance: 300n })
      .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ balance: eb.ref('excluded.balance') })))
      .executeTakeFirstOrThrow()
    show(
      `UPSERT is CockroachDB-only: on PostgreSQL, INSERT ... ON CONFLICT (id) DO UPDATE wrote ${plural(result.numInsertedOrUpdatedRows ?? 0n, 'row')} instead`,
    )
  }

  show('Accounts', accountLines(await db.selectFrom('accounts').select(['name', 'balance']).orderBy('name').execute()))

  let retries = 0
  const amount = 100n
  const balances = await withRetry(
    db,
    async (trx) => {
      // Runs again from the top if CockroachDB asks for a retry (SQLSTATE 40001), so no side
      // effects outside the database in here.
      const from = await trx.selectFrom('accounts').select('balance').where('id', '=', alice!.id).executeTakeFirstOrThrow()
      if (from.balance < amount) throw new Error('insufficient funds')
      await trx
        .updateTable('accounts')
        .set((eb) => ({ balance: eb('balance', '-', amount) }))
        .where('id', '=', alice!.id)
        .execute()
      await trx
        .updateTable('accounts')
        .set((eb) => ({ balance: eb('balance', '+', amount) }))
        .where('id', '=', bob!.id)
        .execute()
      return trx.selectFrom('accounts').select(['name', 'balance']).orderBy('name').execute()
    },
    { onRetry: () => void retries++ },
  )
  show(`Transferred ${amount} from alice to bob inside withRetry (${retries} retries)`, accountLines(balances))
  if (!onCockroach) {
    show('Ran on PostgreSQL: set COCKROACH_URL (or put `cockroach` on PATH) to run every step on CockroachDB.')
  }
} finally {
  await db.destroy()
}
