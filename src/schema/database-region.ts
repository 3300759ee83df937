// The database statements of multi-region CockroachDB. Grammar (pkg/sql/parser/sql.y):
// `alter_database_add_region_stmt: ALTER DATABASE database_name ADD REGION [IF NOT EXISTS]
// region_name`, `alter_database_primary_region_stmt: ALTER DATABASE database_name SET
// primary_region_clause` with `primary_region_clause: PRIMARY REGION opt_equal region_name`,
// `alter_database_survival_goal_stmt: ALTER DATABASE database_name survival_goal_clause` with
// `survival_goal_clause: SURVIVE opt_equal REGION FAILURE | SURVIVE opt_equal ZONE FAILURE`. Docs:
// /docs/stable/alter-database (the first region is set with SET PRIMARY REGION before ADD REGION;
// SURVIVE REGION FAILURE needs three regions), /docs/stable/multiregion-overview.
//
// Names are written into the text quoted (not with sql.id, which CamelCasePlugin would rename:
// a database `myDb` is not `my_db`); WithSchemaPlugin has no table to qualify here.
import { CompiledQuery } from 'kysely'
import type { Kysely } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { assertOptionKeys, describeValue } from './schema-marker.js'
import { quoteRegionName } from './locality.js'
import type { CockroachStatement } from './cockroach-statement.js'

function textStatement(text: string): CockroachStatement {
  return Object.freeze({
    compile: <DB>(_db: Kysely<DB>) => CompiledQuery.raw(text, []),
    execute: async <DB>(db: Kysely<DB>) => {
      await db.executeQuery(CompiledQuery.raw(text, []))
    },
  })
}

/**
 * Options of {@link addRegion}.
 *
 * ```ts
 * import type { AddRegionOptions } from 'kysely-cockroachdb'
 *
 * const options: AddRegionOptions = { ifNotExists: true }
 * ```
 */
export interface AddRegionOptions {
  /** `add region if not exists`: no error when the database has the region already. */
  readonly ifNotExists?: boolean
}

/**
 * Adds a region to a multi-region database: `alter database "app" add region "us-west1"`. The
 * database needs a primary region first ({@link setPrimaryRegion}). Names are quoted as given, so
 * case counts: a database created unquoted as `myDb` is `mydb` in the catalog; pass `'mydb'`.
 *
 * ```ts
 * import { addRegion } from 'kysely-cockroachdb'
 *
 * await addRegion('app', 'us-west1', { ifNotExists: true }).execute(db)
 * // alter database "app" add region if not exists "us-west1"
 * ```
 */
export function addRegion(database: string, region: string, options: AddRegionOptions = {}): CockroachStatement {
  const api = 'addRegion()'
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(api, `options must be an object, got ${describeValue(options)}`, 'write { ifNotExists: true }')
  }
  assertOptionKeys(options, ['ifNotExists'], api)
  if (options.ifNotExists !== undefined && typeof options.ifNotExists !== 'boolean') {
    throw new QueryRefusedError(
      api,
      `ifNotExists must be true or false, got ${describeValue(options.ifNotExists)}`,
      'write { ifNotExists: true }',
    )
  }
  const db = quoteRegionName(database, api, 'the database')
  const name = quoteRegionName(region, api, 'the region')
  return textStatement(`alter database ${db} add region ${options.ifNotExists === true ? 'if not exists ' : ''}${name}`)
}

/**
 * Makes a database multi-region, or changes its primary region:
 * `alter database "app" set primary region "us-east1"`. The region must be one of the cluster's
 * (`SHOW REGIONS FROM CLUSTER`). Names are quoted as given (case counts: a database created
 * unquoted as `myDb` is `mydb`).
 *
 * ```ts
 * import { setPrimaryRegion } from 'kysely-cockroachdb'
 *
 * await setPrimaryRegion('app', 'us-east1').execute(db)
 * // alter database "app" set primary region "us-east1"
 * ```
 */
export function setPrimaryRegion(database: string, region: string): CockroachStatement {
  const api = 'setPrimaryRegion()'
  return textStatement(
    `alter database ${quoteRegionName(database, api, 'the database')} set primary region ${quoteRegionName(region, api, 'the region')}`,
  )
}

/**
 * What a multi-region database survives, for {@link surviveFailure}: `'zone'` (the default) or
 * `'region'` (needs at least three regions).
 *
 * ```ts
 * import type { SurvivalGoal } from 'kysely-cockroachdb'
 *
 * const goal: SurvivalGoal = 'region'
 * ```
 */
export type SurvivalGoal = 'zone' | 'region'

/**
 * Sets a multi-region database's survival goal: `alter database "app" survive region failure`.
 *
 * ```ts
 * import { surviveFailure } from 'kysely-cockroachdb'
 *
 * await surviveFailure('app', 'region').execute(db)
 * // alter database "app" survive region failure
 * ```
 */
export function surviveFailure(database: string, goal: SurvivalGoal): CockroachStatement {
  const api = 'surviveFailure()'
  if (goal !== 'zone' && goal !== 'region') {
    throw new QueryRefusedError(api, `goal must be 'zone' or 'region', got ${describeValue(goal)}`, "write surviveFailure('app', 'region')")
  }
  return textStatement(`alter database ${quoteRegionName(database, api, 'the database')} survive ${goal} failure`)
}
