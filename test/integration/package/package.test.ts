// The packed package, installed the way a user gets it: the tarball `npm test` packed right after
// its build (PACKAGE_TARBALL; else `npm pack` here), unpacked into a fresh node_modules outside the
// repository next to the peer dependencies, then loaded with `import` and with `require()` in
// child processes on this Node.
//
// What the CommonJS build supports: kysely 0.28 (which ships CommonJS) on Node >= 20; and kysely 0.29,
// which is ESM only and needs Node >= 22, wherever Node can require() ES modules
// (`process.features.require_module`: on by default from Node 22.12). The ESM build supports both.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'

// Compiled to .build/test/, so the repository root is two levels up.
const root = fileURLToPath(new URL('../../../../', import.meta.url))
const nodeMajor = Number(process.versions.node.split('.')[0])

interface Probe {
  readonly exports: readonly string[]
  readonly resolved: string
  readonly sql: string
  readonly kyselyIsPeer: boolean
}

// Loads the package and the consumer's kysely, then compiles a query through the dialect, which
// needs its adapter, driver and query compiler to be built against that same kysely.
const probeBody = (load: string, resolve: string) => `
  const [pkg, kysely] = await Promise.all([${load}('kysely-cockroachdb'), ${load}('kysely')])
  const dialect = new pkg.CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb' })
  const db = new kysely.Kysely({ dialect })
  const sql = db.selectFrom('account').selectAll().where('id', '=', 1).compile().sql
  const driver = dialect.createDriver()
  const kyselyIsPeer = driver instanceof kysely.PostgresDriver
  await db.destroy()
  const exports = Object.keys(pkg).filter((k) => k !== 'default' && k !== '__esModule').sort()
  console.log(JSON.stringify({ exports, resolved: ${resolve}, sql, kyselyIsPeer }))
`

const esmProbe = probeBody('import', "import.meta.resolve('kysely-cockroachdb')")
const cjsProbe = `(async () => {${probeBody('(async (m) => require(m))', "require.resolve('kysely-cockroachdb')")}})()`

describe('the packed package', () => {
  let work: string
  const consumers = new Map<string, string>()

  function run(consumer: string, type: 'module' | 'commonjs', source: string): Probe {
    const out = execFileSync(process.execPath, ['--input-type', type, '--eval', source], {
      cwd: consumer,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return JSON.parse(out.toString()) as Probe
  }

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'kysely-crdb-pack-'))
    const tarball =
      process.env.PACKAGE_TARBALL ||
      join(work, execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root }).toString().trim().split('\n').pop()!)
    // One consumer per kysely minor: kysely-cockroachdb from the tarball, the peers linked from
    // this repository's node_modules (kysely 0.28 is installed there as `kysely-0.28`).
    for (const [minor, kyselyDir] of [
      ['0.28', 'kysely-0.28'],
      ['0.29', 'kysely'],
    ] as const) {
      const consumer = join(work, `kysely-${minor}`)
      const modules = join(consumer, 'node_modules')
      mkdirSync(modules, { recursive: true })
      execFileSync('tar', ['-xzf', tarball, '-C', modules])
      renameSync(join(modules, 'package'), join(modules, 'kysely-cockroachdb'))
      symlinkSync(join(root, 'node_modules', kyselyDir), join(modules, 'kysely'), 'dir')
      symlinkSync(join(root, 'node_modules', 'pg'), join(modules, 'pg'), 'dir')
      symlinkSync(join(root, 'node_modules', 'pg-cursor'), join(modules, 'pg-cursor'), 'dir')
      // The package's one dependency, which npm installs with it.
      symlinkSync(join(root, 'node_modules', 'pg-connection-string'), join(modules, 'pg-connection-string'), 'dir')
      consumers.set(minor, consumer)
    }
  })

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  const cases = [
    { minor: '0.28', type: 'module', skip: false },
    { minor: '0.28', type: 'commonjs', skip: false },
    { minor: '0.29', type: 'module', skip: nodeMajor < 22 && 'kysely 0.29 needs Node >= 22' },
    {
      minor: '0.29',
      type: 'commonjs',
      skip:
        nodeMajor < 22
          ? 'kysely 0.29 needs Node >= 22'
          : !process.features.require_module && `Node ${process.versions.node} cannot require() ES modules`,
    },
  ] as const

  for (const { minor, type, skip } of cases) {
    it(`loads with ${type === 'module' ? 'import' : 'require()'} and kysely ${minor}`, { skip }, () => {
      const probe = run(consumers.get(minor)!, type, type === 'module' ? esmProbe : cjsProbe)
      const entry = type === 'module' ? 'dist/esm/index.js' : 'dist/cjs/index.js'
      assert.ok(
        probe.resolved.replace(/^file:\/\//, '').endsWith(`/node_modules/kysely-cockroachdb/${entry}`),
        `resolved ${probe.resolved}`,
      )
      assert.ok(probe.exports.includes('CockroachDialect'), `exports: ${probe.exports.join(', ')}`)
      assert.equal(probe.sql, 'select * from "account" where "id" = $1')
      assert.equal(probe.kyselyIsPeer, true, "the driver must extend the consumer's kysely PostgresDriver")
    })
  }

  // An application that loads both builds (an ESM app with a CommonJS dependency that requires the
  // package) has two copies of every error class: `instanceof` fails across them, so every
  // is<ClassName> is a brand check on a registered symbol (Symbol.for), which both copies share.
  it('recognises the errors of one build with the brand checks of the other', () => {
    const source = `
      import { createRequire } from 'node:module'
      const esm = await import('kysely-cockroachdb')
      const cjs = createRequire(import.meta.url)('kysely-cockroachdb')
      const make = (pkg) => {
        const cause = Object.assign(new Error('restart transaction'), { code: '40001' })
        let refused
        try { new pkg.CockroachDialect({}) } catch (error) { refused = error }
        return {
          QueryRefusedError: refused,
          AmbiguousCommitError: new pkg.AmbiguousCommitError(cause, { attempt: 1, statement: 'commit' }),
          RetryExhaustedError: new pkg.RetryExhaustedError(cause, { attempts: 3, elapsedMs: 10, limit: 'maxAttempts', limitValue: 3 }),
          MigrationLockTimeoutError: new pkg.MigrationLockTimeoutError({ lockTable: 'l', acquireTimeoutMs: 1, clearStatement: 'x', seen: false }),
          MigrationLeaseLostError: new pkg.MigrationLeaseLostError({ lockTable: 'l', owner: 'o', leaseDurationMs: 1 }),
        }
      }
      const result = {}
      for (const [from, other, otherName] of [[esm, cjs, 'cjs'], [cjs, esm, 'esm']]) {
        for (const [name, error] of Object.entries(make(from))) {
          result[name + ' checked by ' + otherName] = {
            brand: other['is' + name](error),
            base: other.isKyselyCockroachError(error),
            instanceofOther: error instanceof other[name],
            others: Object.keys(make(other)).filter((n) => n !== name && other['is' + n](error)),
          }
        }
      }
      console.log(JSON.stringify({ twoCopies: esm.QueryRefusedError !== cjs.QueryRefusedError, result }))
    `
    const out = execFileSync(process.execPath, ['--input-type', 'module', '--eval', source], {
      cwd: consumers.get('0.28')!,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const { twoCopies, result } = JSON.parse(out.toString()) as {
      twoCopies: boolean
      result: Record<string, { brand: boolean; base: boolean; instanceofOther: boolean; others: string[] }>
    }
    assert.equal(twoCopies, true, 'the ESM and the CommonJS build must be two copies for this test to mean anything')
    assert.equal(Object.keys(result).length, 10)
    for (const [label, checks] of Object.entries(result)) {
      assert.deepEqual(checks, { brand: true, base: true, instanceofOther: false, others: [] }, label)
    }
  })

  it('exports the same names from the ESM and CommonJS builds', () => {
    const consumer = consumers.get('0.28')!
    assert.deepEqual(run(consumer, 'commonjs', cjsProbe).exports, run(consumer, 'module', esmProbe).exports)
  })
})
