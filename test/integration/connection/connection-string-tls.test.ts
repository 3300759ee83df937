// sslmode, sslrootcert and sslnegotiation against a real TLS server (issue 9, defect 5): the
// throwaway PostgreSQL gets a self-signed certificate for `localhost` (generated here with openssl)
// through ALTER SYSTEM + pg_reload_conf(), and is set back afterwards. Also a Unix-socket connection,
// and the secret check on every TLS failure (defect 4).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, sql } from 'kysely'
import pg from 'pg'
import { CockroachDialect } from '../../../src/index.js'
import { adminQuery, postgresTarget } from '../../harness/targets.js'
import { waitFor } from '../../harness/wait-for.js'
import { assertNoSecret, errorText } from '../../harness/password-corpus.js'

const PASSWORD = 'Tl5/p@ss#w?rd&%'
const ENCODED = encodeURIComponent(PASSWORD)

function opensslSelfSigned(dir: string, name: string, subjectAltName: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${subjectAltName}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  return { cert, key }
}

describe('TLS against the throwaway PostgreSQL', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'crdb-tls-'))
  const emptyHome = join(dir, 'home-empty')
  const caHome = join(dir, 'home-ca')
  const otherHome = join(dir, 'home-other-ca')
  let port: number
  let server: { cert: string; key: string }
  let other: { cert: string; key: string }
  let garbage: string
  let socketDir: string
  const savedHome = process.env.HOME

  before(async () => {
    port = Number(new URL(postgresTarget.adminUrl).port)
    // The server's certificate names localhost only, not 127.0.0.1: verify-full by IP must fail
    // on the host name while verify-ca passes.
    server = opensslSelfSigned(dir, 'localhost', 'DNS:localhost')
    other = opensslSelfSigned(dir, 'other-ca', 'DNS:other.example')
    garbage = join(dir, 'garbage.crt')
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n')
    mkdirSync(join(caHome, '.postgresql'), { recursive: true })
    mkdirSync(join(otherHome, '.postgresql'), { recursive: true })
    mkdirSync(emptyHome, { recursive: true })
    writeFileSync(join(caHome, '.postgresql', 'root.crt'), readFileSync(server.cert))
    writeFileSync(join(otherHome, '.postgresql', 'root.crt'), readFileSync(other.cert))

    // The server process must own its key (PostgreSQL refuses a key others can read).
    const { rows } = await adminQuery(postgresTarget, 'show data_directory')
    const owner = statSync(String((rows[0] as { data_directory: string }).data_directory))
    for (const path of [dir, server.cert, server.key]) chownSync(path, owner.uid, owner.gid)
    chmodSync(dir, 0o755)
    chmodSync(server.key, 0o600)
    await adminQuery(postgresTarget, `alter system set ssl_cert_file = '${server.cert}'`)
    await adminQuery(postgresTarget, `alter system set ssl_key_file = '${server.key}'`)
    await adminQuery(postgresTarget, `alter system set ssl = on`)
    await adminQuery(postgresTarget, 'select pg_reload_conf()')
    // The reload is asynchronous: wait until new sessions see it.
    await waitFor(
      async () => {
        const { rows: ssl } = await adminQuery(postgresTarget, `select setting from pg_settings where name = 'ssl'`)
        return (ssl[0] as { setting: string }).setting === 'on'
      },
      { what: 'ssl = on after pg_reload_conf()' },
    )
    const { rows: sockets } = await adminQuery(postgresTarget, 'show unix_socket_directories')
    socketDir = String((sockets[0] as { unix_socket_directories: string }).unix_socket_directories).split(',')[0] as string
    process.env.HOME = emptyHome
  })

  after(async () => {
    process.env.HOME = savedHome
    for (const setting of ['ssl', 'ssl_cert_file', 'ssl_key_file']) {
      await adminQuery(postgresTarget, `alter system reset ${setting}`)
    }
    await adminQuery(postgresTarget, 'select pg_reload_conf()')
    rmSync(dir, { recursive: true, force: true })
  })

  const url = (host: string, params: string) => `postgresql://postgres:${ENCODED}@${host}:${port}/postgres?${params}`

  /** Connects through CockroachDialect; returns whether the session is encrypted, or the error. */
  async function attempt(connectionString: string): Promise<{ ssl: boolean } | { error: Error }> {
    const db = new Kysely<unknown>({ dialect: new CockroachDialect({ connectionString }) })
    try {
      const { rows } = await sql<{ ssl: boolean | null }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db)
      return { ssl: rows[0]?.ssl === true }
    } catch (error) {
      assert.ok(error instanceof Error)
      assertNoSecret(errorText(error), { password: PASSWORD, connectionString }, connectionString)
      return { error }
    } finally {
      await db.destroy()
    }
  }

  async function connects(connectionString: string, encrypted = true): Promise<void> {
    const result = await attempt(connectionString)
    assert.ok('ssl' in result, `${connectionString}: ${'error' in result ? result.error.message : ''}`)
    assert.equal(result.ssl, encrypted, connectionString)
  }

  async function fails(connectionString: string, reason: RegExp): Promise<void> {
    const result = await attempt(connectionString)
    assert.ok('error' in result, `${connectionString} connected`)
    assert.match(errorText(result.error).join('\n'), reason, connectionString)
  }

  it('sslmode=require encrypts without checking the certificate (no root certificate anywhere)', async () => {
    await connects(url('127.0.0.1', 'sslmode=require'))
  })

  it('sslmode=require with sslrootcert=system is refused before connecting, as libpq refuses it', () => {
    assert.throws(
      () => new CockroachDialect({ connectionString: url('127.0.0.1', 'sslmode=require&sslrootcert=system') }),
      /sslmode=require cannot be used with sslrootcert=system/,
    )
  })

  it('verify-full fails against the self-signed server: no root certificate, system roots, another CA, a bad file', async () => {
    await fails(url('localhost', 'sslmode=verify-full'), /self[- ]signed certificate/)
    await fails(url('localhost', 'sslrootcert=system'), /self[- ]signed certificate/)
    await fails(url('localhost', `sslmode=verify-full&sslrootcert=${other.cert}`), /self[- ]signed certificate/)
    await fails(url('localhost', `sslmode=verify-full&sslrootcert=${garbage}`), /./)
  })

  it('verify-full checks the host name; verify-ca and require with a root certificate do not', async () => {
    await connects(url('localhost', `sslmode=verify-full&sslrootcert=${server.cert}`))
    await fails(url('127.0.0.1', `sslmode=verify-full&sslrootcert=${server.cert}`), /IP: 127\.0\.0\.1 is not in the cert's list|altnames/i)
    await connects(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${server.cert}`))
    await connects(url('127.0.0.1', `sslmode=require&sslrootcert=${server.cert}`))
    await fails(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${other.cert}`), /self[- ]signed certificate/)
    await fails(url('127.0.0.1', `sslmode=require&sslrootcert=${other.cert}`), /self[- ]signed certificate/)
  })

  it('verify-full without sslrootcert uses ~/.postgresql/root.crt, as libpq does', async () => {
    process.env.HOME = caHome
    try {
      await connects(url('localhost', 'sslmode=verify-full'))
      await connects(url('127.0.0.1', 'sslmode=verify-ca'))
      // Still checks the host name.
      await fails(url('127.0.0.1', 'sslmode=verify-full'), /IP: 127\.0\.0\.1 is not in the cert's list|altnames/i)
      process.env.HOME = otherHome
      await fails(url('localhost', 'sslmode=verify-full'), /self[- ]signed certificate/)
      // require with a root certificate present verifies the chain, as verify-ca (libpq's rule).
      await fails(url('127.0.0.1', 'sslmode=require'), /self[- ]signed certificate/)
    } finally {
      process.env.HOME = emptyHome
    }
  })

  it('sslnegotiation reaches node-postgres: direct TLS is refused by PostgreSQL 15, postgres negotiation works', async (t) => {
    if (!('sslnegotiation' in pg.defaults)) {
      t.skip('this node-postgres has no sslnegotiation (added in pg 8.22)')
      return
    }
    await connects(url('127.0.0.1', 'sslmode=require&sslnegotiation=postgres'))
    // PostgreSQL before 17 reads the TLS ClientHello as a startup packet and hangs up.
    const direct = await attempt(url('127.0.0.1', 'sslmode=require&sslnegotiation=direct&connect_timeout=10'))
    assert.ok('error' in direct)
  })

  it('a Unix-socket host is local: no TLS, even with sslmode=verify-full (libpq ignores sslmode there)', async () => {
    await connects(`postgresql://postgres@/postgres?host=${encodeURIComponent(socketDir)}&port=${port}`, false)
    await connects(`postgresql://postgres@${encodeURIComponent(socketDir)}:${port}/postgres?sslmode=verify-full`, false)
  })
})
