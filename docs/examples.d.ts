// What the ```ts examples of README.md, docs/*.md and the TSDoc comments may use without declaring
// it: a `db` of this schema and a few values of an application around them. Everything else (every
// name from kysely, kysely-cockroachdb, pg, node:*) an example imports itself.
//
// `npm test` checks every example against the packed package (test/integration/package/packed-types.test.ts): each one
// becomes a module of its own next to this file in a project that installs the tarball, kysely, pg,
// pg-cursor, @types/pg, @types/pg-cursor and @types/node, and tsc checks them with `strict` and
// `skipLibCheck: false`. A block fenced "```ts kysely@0.28" (or @0.29) is checked against that
// kysely minor only.
//
// A script (no import or export), so these names are global; types from packages are written as
// import('...') types.

type Int8 = bigint // `int8: 'bigint'`: INT8 columns come back as bigint

/** The schema of the examples; `db` is created with `int8: 'bigint'`. */
interface DB {
  account: { id: number; name: string; balance: Int8; note: string | null }
  transfer: {
    id: import('kysely').Generated<number>
    account_id: number
    to_account_id: number
    amount: Int8
  }
  payment: { id: string; order_id: number; amount: Int8 }
  order: { id: import('kysely').Generated<number>; status: string; total: Int8 }
  order_item: { id: import('kysely').Generated<number>; order_id: number; product_id: number; quantity: number }
  product: { id: number; name: string; price: Int8 }
  person: { id: number; name: string }
  pet: { id: number; name: string; owner_id: number }
  event: { id: Int8; kind: string; payload: unknown }
}

declare const db: import('kysely').Kysely<DB>
declare const connectionString: string

// Values the examples' application code has at hand.
declare const id: number
declare const fromId: number
declare const toId: number
declare const orderId: number
declare const paymentId: string
declare const amount: bigint
declare const row: import('kysely').Insertable<DB['account']>
declare const input: import('kysely').Insertable<DB['order']>
/** A caught error, in examples that show what to do with one. */
declare const error: unknown
/** A transaction body: what withRetry runs. */
declare function fn(trx: import('kysely').Transaction<DB>): Promise<void>
declare function transfer(trx: import('kysely').Transaction<DB>): Promise<void>
declare function work(trx: import('kysely').Transaction<DB>): Promise<void>
/** A migrator of the kysely version installed (kysely 0.29 moved Migrator to 'kysely/migration'). */
declare const migrator: { migrateToLatest(): Promise<{ error?: unknown; results?: readonly { migrationName: string }[] }> }
/** What the Migrator reads migrations from (a FileMigrationProvider, say). */
declare const provider: {
  getMigrations(): Promise<Record<string, { up(db: import('kysely').Kysely<any>): Promise<void> }>>
}
/** A column of `db.introspection.getTables()`. */
declare const column: import('kysely').ColumnMetadata
/** A pg client of the application's own (`pool.connect()`). */
declare const client: import('pg').PoolClient
declare class InsufficientFunds extends Error {}
declare function sendReceiptEmail(transferId: number): Promise<void>
declare function reconcile(orderId: number): Promise<void>
declare function alertOnCall(message: string): void
declare const logger: {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  debug(fields: object, message: string): void
}
declare const metrics: { increment(name: string): void }
declare const mailer: { sendConfirmation(orderId: number): Promise<void> }
declare const events: { publish(topic: string, payload: unknown): Promise<void> }
