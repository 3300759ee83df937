// `kysely-cockroachdb migrations check <folder> [--json] [--error rule] [--warn rule] [--off rule]`.
// Loaded by the bin (src/codegen/codegen-cli.ts) without kysely-codegen.
import { checkMigrations, formatMigrationCheckReport, isMigrationLoadError } from './check-migrations.js'
import { RULE_SEVERITY } from './migration-check-rules.js'
import type { MigrationCheckRule } from './migration-check-rules.js'

/** Where the command writes. @internal */
export interface MigrationsCommandIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

const USAGE = `Usage: kysely-cockroachdb migrations check <folder> [options]

Runs every migration's up and down in <folder> against a recording connection (no database) and
reports what breaks or hurts on CockroachDB, each with its fix. Exit status: 0 no errors, 1 errors,
2 usage or load failure.

Options:
  --json            Print the report as JSON (the statements each migration sent included).
  --error <rule>    Report <rule> as an error.   --warn <rule>   as a warning.   --off <rule>   not at all.
  --help, -h        Print this message.

Rules: ${Object.keys(RULE_SEVERITY).join(', ')}.
`

/**
 * Runs `kysely-cockroachdb migrations <args>`; returns the exit code, e.g.
 * `runMigrationsCommand(['check', 'migrations', '--json'])`.
 *
 * @internal
 */
export async function runMigrationsCommand(
  argv: readonly string[],
  io: MigrationsCommandIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) },
): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    io.stdout(USAGE)
    return 0
  }
  if (sub !== 'check') {
    io.stderr(`kysely-cockroachdb migrations: unknown command ${sub === undefined ? '(none)' : `'${sub}'`}.\n\n${USAGE}`)
    return 2
  }
  let folder: string | undefined
  let json = false
  const severity: Partial<Record<MigrationCheckRule, 'error' | 'warning' | 'off'>> = {}
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    const level = arg === '--error' ? 'error' : arg === '--warn' ? 'warning' : arg === '--off' ? 'off' : undefined
    if (arg === '--json') {
      json = true
    } else if (level !== undefined) {
      const rule = rest[++i]
      if (rule === undefined || !Object.hasOwn(RULE_SEVERITY, rule)) {
        io.stderr(`kysely-cockroachdb migrations check: ${arg} needs a rule, one of ${Object.keys(RULE_SEVERITY).join(', ')}.\n`)
        return 2
      }
      severity[rule as MigrationCheckRule] = level
    } else if (arg.startsWith('-') || folder !== undefined) {
      io.stderr(`kysely-cockroachdb migrations check: unexpected argument '${arg}'.\n\n${USAGE}`)
      return 2
    } else {
      folder = arg
    }
  }
  if (folder === undefined) {
    io.stderr(`kysely-cockroachdb migrations check: give the migration folder.\n\n${USAGE}`)
    return 2
  }
  try {
    const report = await checkMigrations({ migrations: { folder }, severity })
    io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : formatMigrationCheckReport(report))
    if (report.migrations.length === 0) {
      // Most likely the wrong folder (or .ts files the compiled build does not hold): say so.
      io.stderr(
        `kysely-cockroachdb migrations check: warning: no migrations found in ${folder} (files ending .js, .mjs, .cjs, .ts, .mts or .cts that export up()); give the migration folder.\n`,
      )
    }
    return report.errors.length > 0 ? 1 : 0
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    io.stderr(`kysely-cockroachdb migrations check: ${isMigrationLoadError(error) ? message : `cannot read ${folder}: ${message}`}\n`)
    return 2
  }
}
