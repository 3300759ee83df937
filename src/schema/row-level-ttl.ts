// rowLevelTtl() and resetRowLevelTtl(): CockroachDB's row-level TTL, as table storage parameters.
//
// Grammar (pkg/sql/parser/sql.y): `create_table_stmt: ... '(' opt_table_elem_list ')'
// opt_create_table_inherits opt_partition_by_table opt_table_with opt_create_table_on_commit
// opt_locality`, `opt_table_with: opt_with_storage_parameter_list`; `alter_table_cmd: SET '('
// storage_parameter_list ')' | RESET '(' storage_parameter_key_list ')'`; `storage_parameter:
// storage_parameter_key '=' var_value`. The keys and their checks are those of
// pkg/sql/storageparam/tablestorageparam/table_storage_param.go: `ttl_expire_after` (an interval, at
// least zero), `ttl_expiration_expression` (SQL text), `ttl_select_batch_size` /
// `ttl_delete_batch_size` (ValidateTTLBatchSize), `ttl_select_rate_limit` / `ttl_delete_rate_limit`
// (ValidateTTLRateLimit), `ttl_label_metrics`, `ttl_pause`, `ttl_disable_changefeed_replication`
// (booleans), `ttl_job_cron` (ValidateTTLCronExpr), `ttl_row_stats_poll_interval` (a duration);
// `ttl_automatic_column` and `ttl_range_concurrency` are dead keys there (notices only) and are never
// printed; `ttl = 'off'` is refused there ("use RESET (ttl)"). ValidateRowLevelTTL requires one of
// ttl_expire_after / ttl_expiration_expression. The integer options are refused at 0 on purpose:
// ValidateTTLRateLimit (pkg/sql/catalog/tabledesc/ttl.go) says `"%s" must be at least 1` (val <= 0)
// in the releases this package supports from (v24.3), and only the newest source (the one with
// partition TTL) relaxed it to `must be at least 0`, where 0 is the unset default anyway (it
// validates only non-zero values): so positive integers work on every server, 0 would not.
// Docs: /docs/stable/row-level-ttl,
// /docs/stable/with-storage-parameter. CockroachDB takes no placeholders in DDL, so every value is
// validated here and written into the SQL text.
import type { AlterTableBuilder, CreateTableBuilder } from 'kysely'
import type { IntervalParts } from '../sql/as-of-system-time/as-of-system-time-literal.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { quoteLiteral } from '../util/sql-quoting.js'
import { attachMarker, isCreateTableBuilder } from './schema-builder-carrier.js'
import { assertOptionKeys, createSchemaMarker, describeValue } from './schema-marker.js'

/**
 * An interval for {@link rowLevelTtl}: a string such as `'30 days'`, `'1 hour 30 minutes'`,
 * `'00:10:00'` or `'90m'`, or parts such as `{ days: 30 }`.
 *
 * ```ts
 * import type { TtlInterval } from 'kysely-cockroachdb'
 *
 * const monthish: TtlInterval = { days: 30 }
 * ```
 */
export type TtlInterval = string | IntervalParts

/**
 * When rows expire: `expireAfter` their insertion or last update (CockroachDB adds the hidden
 * `crdb_internal_expiration` column), or at the TIMESTAMPTZ an `expirationExpression` over the row
 * gives (written into the SQL as a string literal; CockroachDB parses it).
 *
 * ```ts
 * import type { RowLevelTtlExpiry } from 'kysely-cockroachdb'
 *
 * const expiry: RowLevelTtlExpiry = { expirationExpression: "created_at + interval '90 days'" }
 * ```
 */
export type RowLevelTtlExpiry = { readonly expireAfter: TtlInterval } | { readonly expirationExpression: string }

/**
 * The TTL job's options (docs /docs/stable/row-level-ttl#ttl-storage-parameters).
 *
 * ```ts
 * import type { RowLevelTtlOptions } from 'kysely-cockroachdb'
 *
 * const nightly: RowLevelTtlOptions = { jobCron: '0 3 * * *', deleteBatchSize: 500 }
 * ```
 */
export interface RowLevelTtlOptions {
  /** `ttl_job_cron`: when the deletion job runs, e.g. `'@daily'` or `'0 3 * * *'`. CockroachDB's default is `@hourly`. */
  readonly jobCron?: string
  /** `ttl_select_batch_size`: rows read per query. */
  readonly selectBatchSize?: number
  /** `ttl_delete_batch_size`: rows deleted per statement. */
  readonly deleteBatchSize?: number
  /** `ttl_select_rate_limit`: rows per second read, per node. */
  readonly selectRateLimit?: number
  /** `ttl_delete_rate_limit`: rows per second deleted, per node. */
  readonly deleteRateLimit?: number
  /** `ttl_label_metrics`: label the job's metrics with the table name. */
  readonly labelMetrics?: boolean
  /** `ttl_pause`: stop deleting (the job still runs). */
  readonly pause?: boolean
  /** `ttl_row_stats_poll_interval`: how often the job counts expired rows. */
  readonly rowStatsPollInterval?: TtlInterval
  /** `ttl_disable_changefeed_replication`: keep the job's deletes out of changefeeds. */
  readonly disableChangefeedReplication?: boolean
}

/**
 * The keys {@link resetRowLevelTtl} resets: `'ttl'` (all of TTL: the table stops expiring rows) or
 * one option's name.
 *
 * ```ts
 * import type { RowLevelTtlKey } from 'kysely-cockroachdb'
 *
 * const keys: RowLevelTtlKey[] = ['jobCron', 'pause']
 * ```
 */
export type RowLevelTtlKey = 'ttl' | 'expireAfter' | 'expirationExpression' | keyof RowLevelTtlOptions

/**
 * What {@link rowLevelTtl} and {@link locality} return: a function for `$call` on
 * `db.schema.createTable(...)` (returning the builder) or `db.schema.alterTable(...)` (returning
 * the executor, as Kysely's alterTable methods do).
 *
 * ```ts
 * import { rowLevelTtl } from 'kysely-cockroachdb'
 * import type { TableOptionCall } from 'kysely-cockroachdb'
 *
 * const expireMonthly: TableOptionCall = rowLevelTtl({ expireAfter: '30 days' })
 * ```
 */
export type TableOptionCall = <B extends CreateTableBuilder<string, string> | AlterTableBuilder>(
  qb: B,
) => B extends AlterTableBuilder ? ReturnType<AlterTableBuilder['addCheckConstraint']> : B

/**
 * What {@link resetRowLevelTtl} returns: a function for `$call` on `db.schema.alterTable(...)`.
 *
 * ```ts
 * import { resetRowLevelTtl } from 'kysely-cockroachdb'
 * import type { AlterTableCall } from 'kysely-cockroachdb'
 *
 * const stopExpiring: AlterTableCall = resetRowLevelTtl()
 * ```
 */
// Kysely's AlterTableExecutor, which kysely does not export by name.
export type AlterTableCall = (qb: AlterTableBuilder) => ReturnType<AlterTableBuilder['addCheckConstraint']>

// Storage parameter keys in the order they are printed (that of table_storage_param.go).
const OPTION_KEYS: ReadonlyArray<readonly [keyof RowLevelTtlOptions, string, 'int' | 'bool' | 'cron' | 'interval']> = Object.freeze([
  ['selectBatchSize', 'ttl_select_batch_size', 'int'],
  ['deleteBatchSize', 'ttl_delete_batch_size', 'int'],
  ['selectRateLimit', 'ttl_select_rate_limit', 'int'],
  ['deleteRateLimit', 'ttl_delete_rate_limit', 'int'],
  ['labelMetrics', 'ttl_label_metrics', 'bool'],
  ['pause', 'ttl_pause', 'bool'],
  ['disableChangefeedReplication', 'ttl_disable_changefeed_replication', 'bool'],
  ['jobCron', 'ttl_job_cron', 'cron'],
  ['rowStatsPollInterval', 'ttl_row_stats_poll_interval', 'interval'],
] as const)

const RESET_KEYS: Readonly<Record<RowLevelTtlKey, string>> = Object.freeze({
  ttl: 'ttl',
  expireAfter: 'ttl_expire_after',
  expirationExpression: 'ttl_expiration_expression',
  ...Object.fromEntries(OPTION_KEYS.map(([option, key]) => [option, key])),
} as Record<RowLevelTtlKey, string>)

/** The storage parameter keys rowLevelTtl() prints, and those resetRowLevelTtl() resets (the compiler re-checks markers against them). @internal */
export const TTL_PARAMETER_KEYS: ReadonlySet<string> = new Set([
  'ttl_expire_after',
  'ttl_expiration_expression',
  ...OPTION_KEYS.map(([, key]) => key),
])
/** @internal */
export const TTL_RESET_KEYS: ReadonlySet<string> = new Set(Object.values(RESET_KEYS))

const UNIT_WORD = '(?:years?|mons?|months?|weeks?|days?|hours?|mins?|minutes?|secs?|seconds?|milliseconds?|microseconds?)'
const WORDS = new RegExp(`^\\d{1,9} ${UNIT_WORD}(?: \\d{1,9} ${UNIT_WORD})*$`)
const CLOCK = /^\d{1,6}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?$/
// The compact form ('90m', '1d2h'): CockroachDB's interval parser takes it although the INTERVAL
// docs list only the SQL-standard, ISO 8601 and PostgreSQL forms: ParseDInterval sends a string
// with letters to parseDuration, whose comment reads "Postgres format (e.g. '1 day 2 hours', ...)
// or golang format (e.g. '1d2h', '1d3h2m4s', etc.)", with the unit aliases d, h, m (minute), s, ms,
// us (pkg/util/duration/parse.go; the package's asOfSystemTime relies on the same parser). The
// CockroachDB suite creates a TTL table with '1d2h' (test/integration/schema/schema-helpers.test.ts).
const COMPACT = /^(?:\d{1,9}d)?(?:\d{1,9}h)?(?:\d{1,9}m)?(?:\d{1,9}s)?(?:\d{1,9}ms)?(?:\d{1,9}us)?$/
const PART_WORDS: ReadonlyArray<readonly [keyof IntervalParts, string]> = Object.freeze([
  ['days', 'days'],
  ['hours', 'hours'],
  ['minutes', 'minutes'],
  ['seconds', 'seconds'],
  ['milliseconds', 'milliseconds'],
  ['microseconds', 'microseconds'],
] as const)
// @hourly etc. (robfig/cron's descriptors, which ValidateTTLCronExpr parses) or five fields.
const CRON_DESCRIPTOR = /^@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)$/
const CRON_FIELD = /^[0-9A-Za-z*/,?#LW-]+$/

/**
 * A positive interval as a string literal, e.g. `'30 days'`. @internal
 */
export function renderTtlInterval(value: unknown, api: string, what: string): string {
  const example = "such as '30 days' or { days: 30 }"
  if (typeof value === 'string') {
    const text = value.trim().replace(/\s+/g, ' ')
    if (!(WORDS.test(text) || CLOCK.test(text) || (text !== '' && COMPACT.test(text))) || !/[1-9]/.test(text)) {
      throw new QueryRefusedError(api, `${what} must be a positive interval ${example}, got ${describeValue(value)}`, `write it ${example}`)
    }
    return quoteLiteral(text)
  }
  if (typeof value === 'object' && value !== null) {
    assertOptionKeys(
      value,
      PART_WORDS.map(([key]) => key),
      api,
    )
    const parts: string[] = []
    for (const [key, word] of PART_WORDS) {
      const amount = (value as IntervalParts)[key]
      if (amount === undefined) continue
      if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
        throw new QueryRefusedError(
          api,
          `${what}.${key} must be a non-negative integer, got ${describeValue(amount)}`,
          'use a smaller unit instead of a fraction',
        )
      }
      if (amount > 0) parts.push(`${amount} ${word}`)
    }
    if (parts.length === 0) {
      throw new QueryRefusedError(api, `${what} is zero`, `give a positive interval ${example}`)
    }
    return quoteLiteral(parts.join(' '))
  }
  throw new QueryRefusedError(api, `${what} must be a positive interval ${example}, got ${describeValue(value)}`, `write it ${example}`)
}

function renderOption(option: string, kind: 'int' | 'bool' | 'cron' | 'interval', value: unknown, api: string): string {
  switch (kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
        throw new QueryRefusedError(api, `${option} must be a positive integer, got ${describeValue(value)}`, `e.g. { ${option}: 500 }`)
      }
      return String(value)
    case 'bool':
      if (typeof value !== 'boolean') {
        throw new QueryRefusedError(api, `${option} must be true or false, got ${describeValue(value)}`, `e.g. { ${option}: true }`)
      }
      return String(value)
    case 'cron': {
      const text = typeof value === 'string' ? value.trim() : ''
      const fields = text.split(/\s+/)
      if (!(CRON_DESCRIPTOR.test(text) || (fields.length === 5 && fields.every((f) => CRON_FIELD.test(f))))) {
        throw new QueryRefusedError(
          api,
          `jobCron must be a cron expression, got ${describeValue(value)}`,
          "use one such as '@daily' or '0 3 * * *'",
        )
      }
      return quoteLiteral(fields.join(' '))
    }
    case 'interval':
      return renderTtlInterval(value, api, option)
  }
}

/**
 * The `key = value` storage parameters of a TTL, in print order. `expiry` null: options only
 * (ALTER TABLE ... SET). @internal
 */
export function renderRowLevelTtlParameters(expiry: unknown, options: unknown, api: string): string[] {
  const parameters: string[] = []
  if (expiry !== null) {
    if (typeof expiry !== 'object' || expiry === undefined) {
      throw new QueryRefusedError(
        api,
        'give exactly one of { expireAfter } or { expirationExpression }',
        "write rowLevelTtl({ expireAfter: '30 days' })",
      )
    }
    const hasAfter = 'expireAfter' in expiry
    const hasExpression = 'expirationExpression' in expiry
    assertOptionKeys(expiry, ['expireAfter', 'expirationExpression'], api)
    if (hasAfter === hasExpression) {
      throw new QueryRefusedError(
        api,
        'give exactly one of { expireAfter } or { expirationExpression }',
        "write rowLevelTtl({ expireAfter: '30 days' })",
      )
    }
    if (hasAfter) {
      parameters.push(`ttl_expire_after = ${renderTtlInterval((expiry as { expireAfter: unknown }).expireAfter, api, 'expireAfter')}`)
    } else {
      const expression = (expiry as { expirationExpression: unknown }).expirationExpression
      if (typeof expression !== 'string' || expression.trim() === '' || expression.includes('\0')) {
        throw new QueryRefusedError(
          api,
          `expirationExpression must be SQL text giving a TIMESTAMPTZ, got ${describeValue(expression)}`,
          'write it such as "created_at + interval \'30 days\'"',
        )
      }
      parameters.push(`ttl_expiration_expression = ${quoteLiteral(expression)}`)
    }
  }
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) {
      throw new QueryRefusedError(api, `options must be an object, got ${describeValue(options)}`, "write { jobCron: '@daily' }")
    }
    assertOptionKeys(
      options,
      OPTION_KEYS.map(([option]) => option),
      api,
    )
    for (const [option, key, kind] of OPTION_KEYS) {
      const value = (options as Record<string, unknown>)[option]
      if (value !== undefined) parameters.push(`${key} = ${renderOption(option, kind, value, api)}`)
    }
  }
  if (parameters.length === 0) {
    throw new QueryRefusedError(api, 'nothing to set', 'give an expiry or at least one option, e.g. rowLevelTtl(null, { pause: true })')
  }
  return parameters
}

/**
 * Row-level TTL: CockroachDB deletes a table's expired rows in a background job.
 *
 * - On `createTable`: `with (ttl_expire_after = '30 days', ...)` after the column list. Give the
 *   expiry (`{ expireAfter }` or `{ expirationExpression }`) and optionally the job's options.
 * - On `alterTable`: `alter table ... set (ttl_expire_after = ..., ...)`, which adds TTL to an
 *   existing table or changes it; `rowLevelTtl(null, options)` changes options only. To remove
 *   TTL, {@link resetRowLevelTtl}.
 *
 * Table and column names in `expirationExpression` are SQL text: CamelCasePlugin does not rename
 * them. Needs `CockroachDialect`.
 *
 * ```ts
 * import { sql } from 'kysely'
 * import { rowLevelTtl, uniqueRowid } from 'kysely-cockroachdb'
 *
 * await db.schema.createTable('session')
 *   .addColumn('id', 'int8', (col) => col.primaryKey().defaultTo(uniqueRowid()))
 *   .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
 *   .$call(rowLevelTtl({ expireAfter: '30 days' }, { jobCron: '@daily' }))
 *   .execute()
 * // create table "session" ("id" int8 default unique_rowid() primary key,
 * //   "created_at" timestamptz default now() not null)
 * //   with (ttl_expire_after = '30 days', ttl_job_cron = '@daily')
 *
 * await db.schema.alterTable('session').$call(rowLevelTtl(null, { pause: true })).execute()
 * // alter table "session" set (ttl_pause = true)
 * ```
 */
export function rowLevelTtl(expiry: RowLevelTtlExpiry | null, options?: RowLevelTtlOptions): TableOptionCall {
  const api = 'rowLevelTtl()'
  const parameters = renderRowLevelTtlParameters(expiry, options, api)
  const marker = createSchemaMarker('ttl', { parameters })
  return (<B>(qb: B) => {
    if (expiry === null && isCreateTableBuilder(qb)) {
      throw new QueryRefusedError(
        api,
        'rowLevelTtl(null, ...) only changes the options of an existing TTL',
        "on createTable give { expireAfter } or { expirationExpression }, e.g. rowLevelTtl({ expireAfter: '30 days' })",
      )
    }
    return attachMarker(qb, marker, api, ['createTable', 'alterTable'])
  }) as TableOptionCall
}

/**
 * Removes row-level TTL from a table (`alter table ... reset (ttl)`), or resets some of its options
 * to CockroachDB's defaults (`reset (ttl_job_cron, ttl_pause)`).
 *
 * ```ts
 * import { resetRowLevelTtl } from 'kysely-cockroachdb'
 *
 * await db.schema.alterTable('session').$call(resetRowLevelTtl()).execute()
 * // alter table "session" reset (ttl)
 * await db.schema.alterTable('session').$call(resetRowLevelTtl(['jobCron'])).execute()
 * // alter table "session" reset (ttl_job_cron)
 * ```
 */
export function resetRowLevelTtl(keys: readonly RowLevelTtlKey[] = ['ttl']): AlterTableCall {
  const api = 'resetRowLevelTtl()'
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new QueryRefusedError(api, 'give the keys to reset', "write resetRowLevelTtl() for all of TTL, or resetRowLevelTtl(['jobCron'])")
  }
  const names = keys.map((key: unknown) => {
    if (typeof key !== 'string' || !Object.hasOwn(RESET_KEYS, key)) {
      throw new QueryRefusedError(
        api,
        `unknown key ${describeValue(key)}`,
        `use 'ttl' or one of ${Object.keys(RESET_KEYS).slice(1).join(', ')}`,
      )
    }
    return RESET_KEYS[key as RowLevelTtlKey]
  })
  const marker = createSchemaMarker('ttl-reset', { keys: [...new Set(names)] })
  return ((qb: AlterTableBuilder) => attachMarker(qb, marker, api, ['alterTable'])) as AlterTableCall
}
