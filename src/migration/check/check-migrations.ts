// The migration check's runner: loads the migrations, runs each one's `up` and then `down` on a
// Kysely of the recording dialect (recording-dialect.ts: nothing is sent anywhere), and applies the
// rules (migration-check-rules.ts). The I/O is here; the rules are pure.
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Kysely } from 'kysely'
import type { KyselyPlugin } from 'kysely'
import { classBrand, KyselyCockroachError } from '../../errors/kysely-cockroach-error.js'
import { checkDirection, classifyFindings } from './migration-check-rules.js'
import type { MigrationCheckAcknowledgement, MigrationCheckRule, MigrationFinding } from './migration-check-rules.js'
import { RecordingDialect } from './recording-dialect.js'
import type { RecordedQuery, RecordedStatementKind } from './recording-dialect.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'

/**
 * A migration as the check runs it: Kysely's `Migration` (`up`, optional `down`) and, optionally,
 * the `cockroachdb` acknowledgement a migration module may export.
 *
 * ```ts
 * import type { Kysely } from 'kysely'
 * import type { CheckableMigration } from 'kysely-cockroachdb'
 *
 * const migration: CheckableMigration = {
 *   async up(db: Kysely<unknown>) {
 *     await db.schema.createTable('tag').addColumn('name', 'text', (col) => col.primaryKey()).execute()
 *   },
 * }
 * ```
 */
export interface CheckableMigration {
  up(db: Kysely<unknown>): Promise<void>
  down?(db: Kysely<unknown>): Promise<void>
  readonly cockroachdb?: MigrationCheckAcknowledgement
}

/**
 * Options of {@link checkMigrations}.
 *
 * ```ts
 * import { CamelCasePlugin } from 'kysely'
 * import type { CheckMigrationsOptions } from 'kysely-cockroachdb'
 *
 * const options: CheckMigrationsOptions = {
 *   migrations: { folder: 'src/migrations' },
 *   plugins: [new CamelCasePlugin()],
 *   severity: { 'background-job': 'error' },
 * }
 * ```
 */
export interface CheckMigrationsOptions {
  /**
   * The migrations: a folder of migration files (loaded with `import()`, sorted by name as Kysely's
   * Migrator does; `.ts` files need Node's type stripping, Node >= 22.6), an object of migrations by
   * name, or a Kysely `MigrationProvider` (anything with `getMigrations()`).
   */
  readonly migrations:
    | { readonly folder: string }
    | Readonly<Record<string, CheckableMigration>>
    | { getMigrations(): Promise<Record<string, CheckableMigration>> }
  /** The plugins of the application's Kysely instance (so the recorded SQL is what it would send). */
  readonly plugins?: readonly KyselyPlugin[]
  /** Per-rule severity overrides; `'off'` disables a rule. */
  readonly severity?: Partial<Record<MigrationCheckRule, 'error' | 'warning' | 'off'>>
}

/**
 * A statement a migration sent, as the check recorded it.
 *
 * ```ts
 * import type { CheckedStatement } from 'kysely-cockroachdb'
 *
 * const ddlOnly = (statements: readonly CheckedStatement[]) => statements.filter((s) => s.kind === 'ddl')
 * ```
 */
export interface CheckedStatement {
  readonly sql: string
  readonly parameters: readonly unknown[]
  /** `ddl` schema change, `dml` data change, `txn` transaction control, `other` (reads). */
  readonly kind: RecordedStatementKind
}

/**
 * What {@link checkMigrations} returns: the statements each migration sent, and the findings,
 * errors and warnings apart (acknowledged ones listed separately, not counted).
 *
 * ```ts
 * import type { MigrationCheckReport } from 'kysely-cockroachdb'
 *
 * const failed = (report: MigrationCheckReport) => report.errors.length > 0
 * ```
 */
export interface MigrationCheckReport {
  readonly migrations: readonly {
    readonly name: string
    readonly up: readonly CheckedStatement[]
    readonly down: readonly CheckedStatement[]
  }[]
  readonly errors: readonly MigrationFinding[]
  readonly warnings: readonly MigrationFinding[]
  readonly acknowledged: readonly MigrationFinding[]
}

const EXTENSIONS = /\.(?:js|mjs|cjs|ts|mts|cts)$/
const DECLARATION = /\.d\.(?:ts|mts|cts)$/

const { brand, hasBrand } = classBrand<MigrationLoadError>('MigrationLoadError')

/**
 * Thrown by {@link checkMigrations} when a migration file cannot be loaded (a syntax error, a
 * missing import, a `.ts` file on a Node without type stripping).
 *
 * ```ts
 * import { checkMigrations, isMigrationLoadError } from 'kysely-cockroachdb'
 *
 * try {
 *   await checkMigrations({ migrations: { folder: 'migrations' } })
 * } catch (error) {
 *   if (isMigrationLoadError(error)) console.error(error.file)
 * }
 * ```
 */
export class MigrationLoadError extends KyselyCockroachError {
  override readonly name = 'MigrationLoadError'
  /** The file that failed to load. */
  readonly file: string

  constructor(file: string, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause)
    const hint =
      /\.[mc]?ts$/.test(file) &&
      /Unknown file extension|ERR_UNKNOWN_FILE_EXTENSION/.test(`${message} ${String((cause as { code?: unknown } | undefined)?.code)}`)
        ? 'Run it on Node >= 22.6 with --experimental-strip-types (default from Node 23.6), or check the compiled .js files.'
        : 'Fix the file, or check the compiled .js files.'
    super(`checkMigrations(): cannot load ${file}: ${message}. ${hint}`, { cause })
    this.file = file
    brand(this)
  }
}

/**
 * Whether `error` is a {@link MigrationLoadError} (a brand check, true across the ESM and CommonJS copies).
 *
 * ```ts
 * import { isMigrationLoadError } from 'kysely-cockroachdb'
 *
 * const cannotLoad = (error: unknown) => isMigrationLoadError(error)
 * ```
 */
export function isMigrationLoadError(error: unknown): error is MigrationLoadError {
  return hasBrand(error)
}

async function loadFolder(folder: string): Promise<Record<string, CheckableMigration>> {
  const directory = resolve(folder)
  const files = (await readdir(directory)).filter((f) => EXTENSIONS.test(f) && !DECLARATION.test(f)).sort()
  const migrations: Record<string, CheckableMigration> = {}
  for (const file of files) {
    const path = join(directory, file)
    let module: Record<string, unknown>
    try {
      module = (await import(pathToFileURL(path).href)) as Record<string, unknown>
    } catch (error) {
      throw new MigrationLoadError(path, error)
    }
    // As Kysely's FileMigrationProvider: the default export if it is a migration, else the module.
    const candidate = isMigration(module.default) ? module.default : module
    if (isMigration(candidate)) {
      migrations[file.slice(0, file.lastIndexOf('.'))] = candidate
    }
  }
  return migrations
}

function isMigration(value: unknown): value is CheckableMigration {
  return typeof value === 'object' && value !== null && typeof (value as { up?: unknown }).up === 'function'
}

async function resolveMigrations(source: CheckMigrationsOptions['migrations']): Promise<Record<string, CheckableMigration>> {
  if (typeof source !== 'object' || source === null) {
    throw new QueryRefusedError(
      'checkMigrations()',
      'migrations must be { folder }, an object of migrations or a MigrationProvider',
      "pass one, e.g. { folder: 'migrations' }",
    )
  }
  if (typeof (source as { folder?: unknown }).folder === 'string') {
    return loadFolder((source as { folder: string }).folder)
  }
  if (typeof (source as { getMigrations?: unknown }).getMigrations === 'function') {
    return (source as { getMigrations(): Promise<Record<string, CheckableMigration>> }).getMigrations()
  }
  return { ...(source as Record<string, CheckableMigration>) }
}

async function record(
  run: ((db: Kysely<unknown>) => Promise<void>) | undefined,
  plugins: readonly KyselyPlugin[],
): Promise<{ queries: RecordedQuery[]; error?: unknown }> {
  const queries: RecordedQuery[] = []
  if (run === undefined) {
    return { queries }
  }
  const db = new Kysely<unknown>({ dialect: new RecordingDialect(queries), plugins: [...plugins] })
  try {
    await run(db)
    return { queries }
  } catch (error) {
    return { queries, error }
  } finally {
    await db.destroy()
  }
}

function publicStatements(queries: readonly RecordedQuery[]): CheckedStatement[] {
  return queries.map((q) => Object.freeze({ sql: q.sql, parameters: q.parameters, kind: q.kind }))
}

/**
 * Checks migrations for what breaks or hurts on CockroachDB, without a database: each migration's
 * `up` and `down` run against a recording connection (statements compiled by the package's
 * CockroachDB compiler, reads returning no rows), and the rules of {@link MigrationCheckRule} look
 * at what they sent. The same check as `kysely-cockroachdb migrations check <folder>`.
 *
 * ```ts
 * import { checkMigrations } from 'kysely-cockroachdb'
 *
 * const report = await checkMigrations({ migrations: { folder: 'migrations' } })
 * for (const finding of report.errors) {
 *   console.error(`${finding.migration} ${finding.direction}: ${finding.message}. Fix: ${finding.fix}`)
 * }
 * if (report.errors.length > 0) process.exitCode = 1
 * ```
 */
export async function checkMigrations(options: CheckMigrationsOptions): Promise<MigrationCheckReport> {
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(
      'checkMigrations()',
      'options must be an object',
      "pass one such as { migrations: { folder: 'migrations' } }",
    )
  }
  const migrations = await resolveMigrations(options.migrations)
  const plugins = options.plugins ?? []
  const severity = options.severity ?? {}
  const report = {
    migrations: [] as { name: string; up: CheckedStatement[]; down: CheckedStatement[] }[],
    errors: [] as MigrationFinding[],
    warnings: [] as MigrationFinding[],
    acknowledged: [] as MigrationFinding[],
  }
  for (const name of Object.keys(migrations).sort()) {
    const migration = migrations[name]!
    const directions = {
      up: await record((db) => migration.up(db), plugins),
      down: await record(migration.down === undefined ? undefined : (db) => migration.down!(db), plugins),
    }
    report.migrations.push({ name, up: publicStatements(directions.up.queries), down: publicStatements(directions.down.queries) })
    for (const direction of ['up', 'down'] as const) {
      const { queries, error } = directions[direction]
      const drafts = checkDirection({ migration: name, direction, queries, error })
      const found = classifyFindings({ migration: name, direction }, drafts, migration.cockroachdb, severity)
      report.errors.push(...found.errors)
      report.warnings.push(...found.warnings)
      report.acknowledged.push(...found.acknowledged)
    }
  }
  return report
}

/** The report as the CLI prints it without --json. @internal */
export function formatMigrationCheckReport(report: MigrationCheckReport): string {
  const line = (f: MigrationFinding) =>
    `  ${f.migration} ${f.direction}${f.statement === undefined ? '' : ` #${f.statement}`} ${f.rule}: ${f.message.replace(/\.+$/, '')}. Fix: ${f.fix.replace(/\.+$/, '')}\n`
  let text = ''
  if (report.errors.length > 0) text += `Errors:\n${report.errors.map(line).join('')}`
  if (report.warnings.length > 0) text += `Warnings:\n${report.warnings.map(line).join('')}`
  if (report.acknowledged.length > 0) text += `Acknowledged:\n${report.acknowledged.map(line).join('')}`
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
  text +=
    `${count(report.migrations.length, 'migration')} checked: ${count(report.errors.length, 'error')}, ${count(report.warnings.length, 'warning')}` +
    `${report.acknowledged.length === 0 ? '' : `, ${report.acknowledged.length} acknowledged`}\n`
  return text
}
