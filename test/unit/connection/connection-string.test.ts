import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse as pgParse } from 'pg-connection-string'
import { CockroachDialect, parseConnectionString, redactConnectionString } from '../../../src/index.js'
import { connectionStringCorpus } from '../../harness/password-corpus.js'

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

/** Runs `fn` with HOME (where libpq looks for ~/.postgresql/root.crt) pointing at `home`. */
function withHome<T>(home: string, fn: () => T): T {
  const saved = process.env.HOME
  process.env.HOME = home
  try {
    return fn()
  } finally {
    process.env.HOME = saved
  }
}

describe('parseConnectionString follows libpq where it had drifted (issue 9, defect 5)', () => {
  const emptyHome = mkdtempSync(join(tmpdir(), 'crdb-home-empty-'))
  const caHome = mkdtempSync(join(tmpdir(), 'crdb-home-ca-'))
  mkdirSync(join(caHome, '.postgresql'))
  writeFileSync(join(caHome, '.postgresql', 'root.crt'), '-----BEGIN CERTIFICATE-----\nUk9PVA==\n-----END CERTIFICATE-----\n')

  it('accepts sslnegotiation=direct (PostgreSQL 17) and passes it to node-postgres', () => {
    const parsed = parseConnectionString('postgresql://u@db.example.com/x?sslmode=verify-full&sslnegotiation=direct')
    assert.equal(parsed.sslnegotiation, 'direct')
    assert.equal(parseConnectionString('postgresql://u@db.example.com/x?sslnegotiation=postgres').sslnegotiation, 'postgres')
    assert.equal(parseConnectionString('postgresql://u@db.example.com/x').sslnegotiation, undefined)
  })

  it('refuses sslnegotiation=direct without TLS and unknown sslnegotiation values, as libpq does', () => {
    assert.throws(
      () => parseConnectionString('postgresql://u@localhost/x?sslnegotiation=direct'),
      /sslnegotiation=direct needs sslmode=require, verify-ca or verify-full/,
    )
    assert.throws(
      () => parseConnectionString('postgresql://u@h.example.com/x?sslmode=disable&sslnegotiation=direct'),
      /sslnegotiation=direct needs sslmode=require/,
    )
    assert.throws(() => parseConnectionString('postgresql://u@h.example.com/x?sslnegotiation=fast'), /unknown sslnegotiation 'fast'/)
  })

  it('sslrootcert=system means verify-full, also by default for local hosts', () => {
    for (const url of ['postgresql://u@h.example.com/x?sslrootcert=system', 'postgresql://u@localhost/x?sslrootcert=system']) {
      const parsed = parseConnectionString(url)
      assert.equal(parsed.sslmode, 'verify-full', url)
      assert.ok(parsed.ssl, url)
      assert.equal(parsed.ssl.rejectUnauthorized, true, url)
      assert.equal(parsed.ssl.ca, undefined, url)
      assert.equal(parsed.ssl.checkServerIdentity, undefined, url)
    }
  })

  it('refuses sslrootcert=system with a weaker sslmode, as libpq does', () => {
    for (const mode of ['require', 'verify-ca', 'disable']) {
      assert.throws(
        () => parseConnectionString(`postgresql://u:secret@h.example.com/x?sslmode=${mode}&sslrootcert=system`),
        (error: Error) => {
          assert.match(error.message, new RegExp(`sslmode=${mode} cannot be used with sslrootcert=system`))
          assert.match(error.message, /verify-full/)
          assert.doesNotMatch(error.message, /secret/)
          return true
        },
      )
    }
  })

  it('verify-full and verify-ca without sslrootcert use ~/.postgresql/root.crt when it exists', () => {
    const root = readFileSync(join(caHome, '.postgresql', 'root.crt'), 'utf8')
    withHome(caHome, () => {
      const full = parseConnectionString('postgresql://u@h.example.com/x?sslmode=verify-full')
      assert.ok(full.ssl)
      assert.equal(full.ssl.ca, root)
      assert.equal(full.ssl.checkServerIdentity, undefined)
      const ca = parseConnectionString('postgresql://u@h.example.com/x?sslmode=verify-ca')
      assert.ok(ca.ssl)
      assert.equal(ca.ssl.ca, root)
      assert.equal(typeof ca.ssl.checkServerIdentity, 'function')
      // libpq: with a root certificate present, require verifies the chain as verify-ca does.
      const required = parseConnectionString('postgresql://u@h.example.com/x?sslmode=require')
      assert.ok(required.ssl)
      assert.equal(required.ssl.ca, root)
      assert.equal(required.ssl.rejectUnauthorized, undefined)
      // An explicit sslrootcert wins.
      const explicit = parseConnectionString(`postgresql://u@h.example.com/x?sslmode=verify-full&sslrootcert=${caPath}`)
      assert.ok(explicit.ssl)
      assert.match(String(explicit.ssl.ca), /MIIB/)
      // system: the trust store, not the file.
      const system = parseConnectionString('postgresql://u@h.example.com/x?sslrootcert=system')
      assert.ok(system.ssl)
      assert.equal(system.ssl.ca, undefined)
    })
    withHome(emptyHome, () => {
      const full = parseConnectionString('postgresql://u@h.example.com/x?sslmode=verify-full')
      assert.ok(full.ssl)
      assert.equal(full.ssl.ca, undefined)
      assert.throws(
        () => parseConnectionString('postgresql://u@h.example.com/x?sslmode=verify-ca'),
        /verify-ca needs sslrootcert.*root\.crt/,
      )
    })
  })

  it('counts [::1], LOCALHOST, 127.x.x.x and Unix sockets as local: sslmode defaults to disable', () => {
    for (const url of [
      'postgresql://u@[::1]:26257/x',
      'postgresql://u@LOCALHOST:26257/x',
      'postgresql://u@Localhost/x',
      'postgresql://u@127.0.0.2/x',
      'postgresql://u@%2Fvar%2Frun%2Fcockroach/x',
      'postgresql://u@/x?host=/var/run/cockroach',
    ]) {
      const parsed = parseConnectionString(url)
      assert.equal(parsed.sslmode, 'disable', url)
      assert.equal(parsed.ssl, false, url)
    }
    assert.equal(parseConnectionString('postgresql://u@[::1]/x').host, '::1')
    assert.equal(parseConnectionString('postgresql://u@%2Fvar%2Frun%2Fcockroach/x').host, '/var/run/cockroach')
    assert.equal(parseConnectionString('postgresql://u@localhost.example.com/x').sslmode, 'verify-full')
  })

  // Every spelling of a loopback address is local (IPv4 127.0.0.0/8, RFC 1122 3.2.1.3; IPv6 ::1,
  // RFC 4291 2.5.3, compressed or not; IPv4-mapped IPv6 of 127/8, RFC 4291 2.5.5.2); addresses next
  // to them are not.
  it('counts every spelling of a loopback address as local, and only those', () => {
    const table: [host: string, sslmode: 'disable' | 'verify-full'][] = [
      ['[::1]', 'disable'],
      ['[0:0:0:0:0:0:0:1]', 'disable'],
      ['[0000:0000:0000:0000:0000:0000:0000:0001]', 'disable'],
      ['[0::1]', 'disable'],
      ['[::0:1]', 'disable'],
      ['[::ffff:127.0.0.1]', 'disable'],
      ['[::ffff:7f00:1]', 'disable'],
      ['[0:0:0:0:0:ffff:127.1.2.3]', 'disable'],
      ['127.0.0.1', 'disable'],
      ['127.255.255.254', 'disable'],
      ['127.1.2.3', 'disable'],
      ['[::2]', 'verify-full'],
      ['[::]', 'verify-full'],
      ['[1::1]', 'verify-full'],
      ['[::ffff:128.0.0.1]', 'verify-full'],
      ['[::ffff:10.0.0.1]', 'verify-full'],
      ['126.255.255.255', 'verify-full'],
      ['128.0.0.1', 'verify-full'],
      ['0.0.0.0', 'verify-full'],
      ['127.0.0.1.example.com', 'verify-full'],
    ]
    assert.deepEqual(
      table.map(([host]) => [host, parseConnectionString(`postgresql://root@${host}/x`).sslmode]),
      table,
    )
  })

  it('Unix sockets never use TLS, whatever sslmode says (libpq ignores sslmode for them)', () => {
    const parsed = parseConnectionString('postgresql://u@/x?host=/var/run/cockroach&sslmode=verify-full')
    assert.equal(parsed.ssl, false)
  })

  it('refuses a host list with a clear message instead of reading it as one host name', () => {
    for (const url of [
      'postgresql://u:secret@h1.example.com,h2.example.com/x',
      'postgresql://u:secret@h1.example.com:26257,h2.example.com:26258/x',
      'postgresql://u:secret@/x?host=h1.example.com,h2.example.com',
    ]) {
      assert.throws(
        () => parseConnectionString(url),
        (error: Error) => {
          assert.match(error.message, /several hosts \('h1\.example\.com(:26257)?,h2\.example\.com(:26258)?'\)/, url)
          assert.match(error.message, /one host/)
          assert.doesNotMatch(error.message, /secret/)
          return true
        },
      )
    }
  })

  it('reads what pg-connection-string reads (libpq mode) for every valid string of the corpus', () => {
    const corpus = connectionStringCorpus({ seed: 95, size: 190, hosts: ['db.example.com', '127.0.0.1', '[::1]'], port: 26257 })
    const valid = corpus.filter((e) => e.kind === 'valid')
    assert.ok(valid.length > 20)
    for (const { connectionString, password } of valid) {
      const ours = parseConnectionString(connectionString)
      const theirs = pgParse(connectionString, { useLibpqCompat: true })
      assert.equal(ours.host, theirs.host, connectionString)
      assert.equal(ours.port, Number(theirs.port), connectionString)
      assert.equal(ours.user, theirs.user, connectionString)
      assert.equal(ours.password, theirs.password, connectionString)
      assert.equal(ours.password, password, connectionString)
      assert.equal(ours.database, theirs.database, connectionString)
      assert.equal(ours.application_name, theirs.application_name, connectionString)
    }
  })
})

describe('redactConnectionString', () => {
  it('hides passwords in the authority and in parameters', () => {
    assert.equal(redactConnectionString('postgresql://u:pw@h/x'), 'postgresql://u:****@h/x')
    assert.equal(
      redactConnectionString('postgresql://u@h/x?password=pw&sslmode=disable'),
      'postgresql://u@h/x?password=****&sslmode=disable',
    )
  })

  it('masks a password parameter up to the next known parameter: an unencoded & may be part of it', () => {
    assert.equal(redactConnectionString('postgresql://u@h/x?password=pw&a=b'), 'postgresql://u@h/x?password=****')
    assert.equal(
      redactConnectionString('postgresql://u@h/x?application_name=a&password=p&w&sslmode=disable'),
      'postgresql://u@h/x?application_name=a&password=****&sslmode=disable',
    )
  })

  it('shows only the scheme (and the user name) of a string it cannot read for certain', () => {
    assert.equal(redactConnectionString('postgresql://app:pa/ss@db:26257/bank'), 'postgresql://****')
    assert.equal(redactConnectionString('app:secretpw@db:26257/bank'), '****')
    assert.equal(redactConnectionString('postgresql://app:secret@pw x/bank'), 'postgresql://app:****@****')
  })
})

describe('CockroachDialect config validation', () => {
  it('fails at construction for a bad URL, not at the first query', () => {
    assert.throws(() => new CockroachDialect({ connectionString: 'postgresql://u@h/x?sslmode=bogus' }), /unknown sslmode/)
  })

  it('rejects an unknown int8 mode', () => {
    assert.throws(() => new CockroachDialect({ connectionString: 'postgresql://u@localhost/x', int8: 'float' as never }), {
      name: 'QueryRefusedError',
      message: /^CockroachDialect: unknown int8 mode "float"\. Use one of: string, bigint, number/,
    })
  })

  it('requires exactly one of pool and connectionString', () => {
    assert.throws(() => new CockroachDialect({}), /Give `connectionString`/)
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
