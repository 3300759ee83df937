// `npm run demo`: builds, finds a server (COCKROACH_URL, else a `cockroach` binary on PATH started
// as a throwaway single node, else a throwaway PostgreSQL, saying that CockroachDB-only steps are
// skipped) and runs scripts/demo.ts on Node 22 with kysely 0.29.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { startCockroach } from './lib/cockroach-server.mjs'
import { node22 } from './lib/node22.mjs'
import { startPostgres } from './lib/postgres-server.mjs'

const require = createRequire(import.meta.url)
const log = (message) => console.log(message)
const stops = []
let exitCode = 0
try {
  log('[demo] compiling')
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { stdio: 'inherit' })
  const node = node22({ log })
  const nodeVersion = execFileSync(node, ['-p', 'process.version']).toString().trim()
  log(
    node === process.execPath
      ? `[demo] running on this Node, ${nodeVersion}, with kysely 0.29`
      : `[demo] running on Node ${nodeVersion} from tools/node22 (the pinned Node 22 from the npm registry; kysely 0.29 needs Node 22, this is ${process.version}), with kysely 0.29`,
  )
  let url
  const crdb = await startCockroach({ log })
  if (!crdb.skipped) {
    stops.push(crdb.stop)
    url = crdb.url
  } else {
    log('[demo] No CockroachDB here (COCKROACH_URL unset, no `cockroach` on PATH): using a throwaway PostgreSQL.')
    log('[demo] CockroachDB-only steps (UPSERT) are skipped and their portable equivalents run instead.')
    const pg = await startPostgres({ log })
    stops.push(pg.stop)
    url = pg.url
  }
  execFileSync(node, ['.build/scripts/demo.js'], { stdio: 'inherit', env: { ...process.env, DEMO_DATABASE_URL: url } })
} catch (error) {
  exitCode = 1
  console.error(`[demo] failed: ${error instanceof Error ? error.message : error}`)
} finally {
  while (stops.length) stops.pop()()
}
process.exit(exitCode)
