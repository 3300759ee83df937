#!/usr/bin/env node
// The `kysely-cockroachdb` bin: `kysely-cockroachdb codegen [options]` (see codegen-command.ts).
import { runCodegenCommand } from './codegen-command.js'

runCodegenCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  },
)
