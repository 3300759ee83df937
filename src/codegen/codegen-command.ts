import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Config } from 'kysely-codegen'
import { Kysely } from 'kysely'
import { CockroachDialect } from '../dialect/cockroach-dialect.js'
import { INT8_MODES } from '../connection/int8-type-parsers.js'
import type { Int8Mode } from '../connection/int8-type-parsers.js'
import { isQueryRefusedError, QueryRefusedError } from '../errors/query-refused-error.js'

/** Where the command writes; the bin uses the process' streams. */
export interface CodegenCommandIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

const USAGE = `Usage: kysely-cockroachdb codegen [options]
       kysely-cockroachdb migrations check <folder> [--json]   (see kysely-cockroachdb migrations --help)

Generates the Kysely DB type of a CockroachDB (or PostgreSQL) database with kysely-codegen,
introspecting through kysely-cockroachdb's CockroachIntrospector.

Options of this command:
  --int8=string|bigint|number   How the application's CockroachDialect returns INT8 (its int8 option).
                                Default: string.
  --include-hidden-columns      Also generate hidden columns (implicit rowid, NOT VISIBLE, shard columns).
  --help, -h                    Print this message.
  --version                     Print the version of kysely-cockroachdb.

kysely-codegen's options (same meaning as in kysely-codegen 0.20), among them:
  --url                 Connection URL: postgresql://, postgres:// or cockroachdb://, or env(VAR).
                        Default: env(DATABASE_URL).
  --out-file            Output file. Default: kysely-codegen's (node_modules/kysely-codegen/dist/db.d.ts).
  --print               Print the types instead of writing them.
  --verify              Fail if the output file is not up to date.
  --default-schema      Default schema(s), e.g. --default-schema=public.
  --camel-case          Camel-case names (for Kysely's CamelCasePlugin).
  --include-pattern, --exclude-pattern   Table globs, e.g. 'public.*', '*._*'.
  --runtime-enums[=pascal-case|screaming-snake-case]
  --singularize, --type-only-imports, --custom-imports, --overrides, --type-mapping,
  --date-parser, --numeric-parser, --no-domains, --partitions, --env-file, --config-file,
  --log-level=debug|info|warn|error|silent
`

/** This package's package.json, found upwards from the running bin (the ESM build has no CommonJS twin for it). */
function readManifest(): { version?: string; peerDependencies?: Record<string, string> } {
  let dir = dirname(realpathSync(process.argv[1] ?? '.'))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (manifest.name === 'kysely-cockroachdb') return manifest
    }
    const parent = dirname(dir)
    if (parent === dir) return {}
    dir = parent
  }
}

/** kysely-codegen is an optional peer: its absence is one line saying what to install, not a stack. */
async function importKyselyCodegen(io: CodegenCommandIo): Promise<typeof import('kysely-codegen') | undefined> {
  try {
    return await import('kysely-codegen')
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown }
    // Only kysely-codegen itself missing; a dependency of kysely-codegen missing is a broken install.
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /['"]kysely-codegen['"]/.test(String(message))) {
      const range = readManifest().peerDependencies?.['kysely-codegen'] ?? 'latest'
      io.stderr(
        `kysely-cockroachdb codegen: kysely-codegen is not installed; install it with \`npm install --save-dev kysely-codegen@${range}\`.\n`,
      )
      return undefined
    }
    throw error
  }
}

/**
 * Runs `kysely-cockroachdb codegen <args>`: kysely-codegen's `generate()` on a Kysely instance built
 * on {@link CockroachDialect}. Returns the process exit code. Internal: the bin
 * (src/codegen/codegen-cli.ts) calls it with `process.argv.slice(2)`, e.g.
 * `runCodegenCommand(['codegen', '--url', url, '--out-file', 'src/db.ts'])`.
 *
 * @internal
 */
export async function runCodegenCommand(
  argv: readonly string[],
  io: CodegenCommandIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) },
): Promise<number> {
  const [command, ...rest] = argv
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout(USAGE)
    return 0
  }
  if (command === '--version' || (command === 'codegen' && rest.includes('--version'))) {
    io.stdout(`${readManifest().version ?? 'unknown'}\n`)
    return 0
  }
  if (command !== 'codegen') {
    io.stderr(`kysely-cockroachdb: unknown command ${command === undefined ? '(none)' : `'${command}'`}.\n\n${USAGE}`)
    return 1
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(USAGE)
    return 0
  }
  const codegen = await importKyselyCodegen(io)
  if (codegen === undefined) {
    return 1
  }
  const { Cli, ConnectionStringParser, DEFAULT_URL, generate, Logger } = codegen
  const { CockroachCodegenDialect } = await import('./codegen-dialect.js')
  let db: Kysely<unknown> | undefined
  try {
    const { int8, includeHiddenColumns, codegenArgs } = takeOwnFlags(rest)
    // kysely-codegen's own parsing: its flags, its config file (cosmiconfig) and its validation.
    const options = new Cli().parseOptions(codegenArgs) as Config
    if (options.dialect != null && options.dialect !== 'postgres') {
      throw new QueryRefusedError(
        'kysely-cockroachdb codegen',
        `--dialect=${options.dialect} cannot be used here: kysely-cockroachdb codegen always generates with ` +
          "kysely-codegen's postgres dialect",
        'drop the --dialect flag (or the dialect setting in your config file)',
      )
    }
    const logger = options.logger ?? new Logger(options.logLevel)
    // env(VAR) and --env-file resolution as kysely-codegen does it; the dialect it infers is ignored
    // (it would take cockroachdb:// for sqlite, kysely-codegen#186).
    const { connectionString } = new ConnectionStringParser().parse({
      connectionString: options.url ?? DEFAULT_URL,
      dialect: 'postgres',
      envFile: options.envFile,
      logger,
    })
    // kysely-codegen reads the tables through db.introspection: the dialect's introspection option
    // decides whether hidden columns are among them.
    db = new Kysely<unknown>({ dialect: new CockroachDialect({ connectionString, int8, introspection: { includeHiddenColumns } }) })
    const dialect = new CockroachCodegenDialect({
      int8,
      dateParser: options.dateParser,
      defaultSchemas: options.defaultSchemas,
      domains: options.domains,
      numericParser: options.numericParser,
      partitions: options.partitions,
    })
    await generate({
      camelCase: options.camelCase,
      customImports: options.customImports,
      db,
      defaultSchemas: options.defaultSchemas,
      dialect,
      excludePattern: options.excludePattern,
      includePattern: options.includePattern,
      logger,
      outFile: options.outFile,
      overrides: options.overrides,
      partitions: options.partitions,
      postprocess: options.postprocess,
      print: options.print,
      runtimeEnums: options.runtimeEnums,
      serializer: options.serializer,
      singularize: options.singularize,
      typeMapping: options.typeMapping,
      typeOnlyImports: options.typeOnlyImports,
      verify: options.verify,
    })
    return 0
  } catch (error) {
    // A refusal of this command names it already; anything else (kysely-codegen's, the database's) gets the name.
    const message = error instanceof Error ? error.message : String(error)
    io.stderr(
      isQueryRefusedError(error) && error.api === 'kysely-cockroachdb codegen'
        ? `${message}\n`
        : `kysely-cockroachdb codegen: ${message}\n`,
    )
    return 1
  } finally {
    await db?.destroy()
  }
}

function takeOwnFlags(args: readonly string[]): { int8: Int8Mode; includeHiddenColumns: boolean; codegenArgs: string[] } {
  let int8: string = 'string'
  let includeHiddenColumns = false
  const codegenArgs: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--int8') {
      const value = args[i + 1]
      if (value === undefined || value.startsWith('-')) {
        throw new QueryRefusedError('kysely-cockroachdb codegen', '--int8 needs a value', `give one of ${INT8_MODES.join(', ')}`)
      }
      int8 = value
      i++
    } else if (arg.startsWith('--int8=')) {
      int8 = arg.slice('--int8='.length)
    } else if (arg === '--include-hidden-columns' || arg === '--include-hidden-columns=true') {
      includeHiddenColumns = true
    } else if (arg === '--include-hidden-columns=false') {
      includeHiddenColumns = false
    } else {
      codegenArgs.push(arg)
    }
  }
  if (!(INT8_MODES as readonly string[]).includes(int8)) {
    throw new QueryRefusedError(
      'kysely-cockroachdb codegen',
      `unknown --int8 value '${int8}'`,
      `use the int8 option of your CockroachDialect: ${INT8_MODES.join(', ')}`,
    )
  }
  return { int8: int8 as Int8Mode, includeHiddenColumns, codegenArgs }
}
