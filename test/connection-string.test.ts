import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CockroachDialect, parseConnectionString, redactConnectionString } from '../src/index.js'

const certDir = mkdtempSync(join(tmpdir(), 'crdb-certs-'))
const caPath = join(certDir, 'ca.crt')
writeFileSync(caPath, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')

describe('parseConnectionString', () => {
  it('reads a local insecure CockroachDB URL', () => {
    const parsed = parseConnectionString('postgresql://root@localhost:26257/defaultdb?sslmode=disable')
    assert.equal(parsed.host, 'localhost')
    assert.equal(parsed.port, 26257)
    assert.equal(parsed.user, 'root')
    assert.equal(parsed.database, 'defaultdb')
    assert.equal(parsed.ssl, false)
    assert.equal(parsed.sslmode, 'disable')
  })

  it('accepts the cockroachdb:// scheme of sqlalchemy-cockroachdb with CockroachDB default port', () => {
    const parsed = parseConnectionString('cockroachdb://maxroach:p%40ss@db.example.com/bank?sslmode=verify-full')
    assert.equal(parsed.port, 26257)
    assert.equal(parsed.password, 'p@ss')
    assert.deepEqual(parsed.ssl, { servername: 'db.example.com', rejectUnauthorized: true })
  })

  it('keeps PostgreSQL default port for postgres:// URLs without one', () => {
    assert.equal(parseConnectionString('postgres://u@db.example.com/x?sslmode=disable').port, 5432)
  })

  it('gives sslmode=require libpq meaning: encrypted, certificate not verified', () => {
    const parsed = parseConnectionString('postgresql://u@db.example.com:26257/x?sslmode=require')
    assert.deepEqual(parsed.ssl, { servername: 'db.example.com', rejectUnauthorized: false })
  })

  it('treats require with a root certificate as verify-ca, as libpq does', () => {
    const parsed = parseConnectionString(`postgresql://u@db.example.com/x?sslmode=require&sslrootcert=${caPath}`)
    assert.ok(parsed.ssl)
    assert.match(String(parsed.ssl.ca), /BEGIN CERTIFICATE/)
    assert.equal(parsed.ssl.rejectUnauthorized, undefined)
    assert.equal(parsed.ssl.checkServerIdentity?.('db.example.com', {} as never), undefined)
  })

  it('verify-ca checks the chain but not the host name, and needs sslrootcert', () => {
    const parsed = parseConnectionString(`postgresql://u@10.0.0.5/x?sslmode=verify-ca&sslrootcert=${caPath}`)
    assert.ok(parsed.ssl)
    assert.equal(typeof parsed.ssl.checkServerIdentity, 'function')
    assert.equal(parsed.ssl.servername, undefined)
    assert.throws(() => parseConnectionString('postgresql://u@h/x?sslmode=verify-ca'), /verify-ca needs sslrootcert/)
  })

  it('verify-full with sslrootcert=system uses the system trust store', () => {
    const parsed = parseConnectionString('postgresql://u@h.example.com/x?sslmode=verify-full&sslrootcert=system')
    assert.deepEqual(parsed.ssl, { servername: 'h.example.com', rejectUnauthorized: true })
  })

  it('defaults to verify-full for remote hosts and disable for localhost', () => {
    assert.equal(parseConnectionString('postgresql://u@h.example.com/x').sslmode, 'verify-full')
    assert.equal(parseConnectionString('postgresql://u@localhost/x').sslmode, 'disable')
    assert.equal(parseConnectionString('postgresql://u@127.0.0.1/x').sslmode, 'disable')
  })

  it('passes the CockroachDB Cloud cluster routing option through', () => {
    const parsed = parseConnectionString(
      'postgresql://u:pw@free-tier.gcp-us-central1.cockroachlabs.cloud:26257/defaultdb?sslmode=verify-full&options=--cluster%3Dmy-cluster-123',
    )
    assert.equal(parsed.options, '--cluster=my-cluster-123')
  })

  it('reads application_name and connect_timeout', () => {
    const parsed = parseConnectionString('postgresql://u@localhost/x?application_name=billing&connect_timeout=5')
    assert.equal(parsed.application_name, 'billing')
    assert.equal(parsed.connectionTimeoutMillis, 5000)
  })

  it('supports IPv6 hosts', () => {
    assert.equal(parseConnectionString('postgresql://u@[::1]:26257/x?sslmode=disable').host, '::1')
  })

  it('rejects an unknown sslmode, naming it and the valid ones', () => {
    assert.throws(
      () => parseConnectionString('postgresql://u:secret@h/x?sslmode=verify_full'),
      (error: Error) => {
        assert.match(error.message, /unknown sslmode 'verify_full'/)
        assert.match(error.message, /disable, require, verify-ca, verify-full/)
        assert.doesNotMatch(error.message, /secret/)
        return true
      },
    )
  })

  it('explains why prefer and allow cannot be honoured', () => {
    assert.throws(() => parseConnectionString('postgresql://u@h/x?sslmode=prefer'), /cannot fall back/)
    assert.throws(() => parseConnectionString('postgresql://u@h/x?sslmode=allow'), /cannot fall back/)
  })

  it('rejects malformed URLs without echoing the password', () => {
    assert.throws(
      () => parseConnectionString('postgresql://admin:hunter2@host:notaport/db'),
      (error: Error) => {
        assert.match(error.message, /not a valid URL/)
        assert.match(error.message, /admin:\*\*\*\*@/)
        assert.doesNotMatch(error.message, /hunter2/)
        return true
      },
    )
  })

  it('rejects unsupported schemes, unknown parameters, bad ports and bad timeouts', () => {
    assert.throws(() => parseConnectionString('mysql://u:pw@h/x'), /unsupported connection string scheme 'mysql:'/)
    assert.throws(() => parseConnectionString('postgresql://u@h/x?sslmdoe=disable'), /unknown connection string parameter 'sslmdoe'/)
    assert.throws(() => parseConnectionString('postgresql://u@h/x?port=70000'), /invalid port '70000'/)
    assert.throws(() => parseConnectionString('postgresql://u@h/x?connect_timeout=soon'), /invalid connect_timeout/)
    assert.throws(() => parseConnectionString(''), /non-empty string/)
  })

  it('names an unreadable certificate file', () => {
    assert.throws(
      () => parseConnectionString('postgresql://u@h/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt'),
      /cannot read the sslrootcert file '\/nonexistent\/ca.crt'/,
    )
  })

  it('requires sslcert and sslkey together', () => {
    assert.throws(() => parseConnectionString(`postgresql://u@h/x?sslmode=verify-full&sslcert=${caPath}`), /sslcert and sslkey/)
  })
})

describe('redactConnectionString', () => {
  it('hides passwords in the authority and in parameters', () => {
    assert.equal(redactConnectionString('postgresql://u:pw@h/x'), 'postgresql://u:****@h/x')
    assert.equal(redactConnectionString('postgresql://u@h/x?password=pw&a=b'), 'postgresql://u@h/x?password=****&a=b')
  })
})

describe('CockroachDialect config validation', () => {
  it('fails at construction for a bad URL, not at the first query', () => {
    assert.throws(() => new CockroachDialect({ connectionString: 'postgresql://u@h/x?sslmode=bogus' }), /unknown sslmode/)
  })

  it('rejects an unknown int8 mode', () => {
    assert.throws(
      () => new CockroachDialect({ connectionString: 'postgresql://u@localhost/x', int8: 'float' as never }),
      /unknown int8 mode 'float'. Use one of: string, bigint, number/,
    )
  })

  it('requires exactly one of pool and connectionString', () => {
    assert.throws(() => new CockroachDialect({}), /give `connectionString`/)
    assert.throws(
      () => new CockroachDialect({ connectionString: 'postgresql://u@localhost/x', pool: async () => ({}) as never }),
      /either `pool` or `connectionString`/,
    )
    assert.throws(() => new CockroachDialect({ pool: {} as never }), /`pool` must be a pg.Pool/)
  })

  it('rejects control characters in applicationName', () => {
    assert.throws(
      () => new CockroachDialect({ connectionString: 'postgresql://u@localhost/x', applicationName: 'a\nb' }),
      /applicationName must be a string without control characters/,
    )
  })
})
