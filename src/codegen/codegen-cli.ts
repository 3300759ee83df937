#!/usr/bin/env node
// The `kysely-cockroachdb` bin: `kysely-cockroachdb codegen [options]` (see codegen-command.ts) and
// `kysely-cockroachdb migrations check <folder>` (src/migration/check/migrations-check-command.ts,
// imported only for that command: it needs no kysely-codegen).
const argv = process.argv.slice(2)
const run =
  argv[0] === 'migrations'
    ? import('../migration/check/migrations-check-command.js').then(({ runMigrationsCommand }) => runMigrationsCommand(argv.slice(1)))
    : import('./codegen-command.js').then(({ runCodegenCommand }) => runCodegenCommand(argv))

run.then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  },
)
