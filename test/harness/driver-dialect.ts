// A Kysely on a hand-written driver with CockroachDB's compiler: for tests that script what the
// connection answers and record what would have been sent.
import { Kysely, PostgresAdapter, PostgresIntrospector } from 'kysely'
import type { Driver } from 'kysely'
import { CockroachQueryCompiler } from '../../src/index.js'

export function kyselyOnDriver<DB>(driver: Driver): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new CockroachQueryCompiler(),
    },
  })
}
