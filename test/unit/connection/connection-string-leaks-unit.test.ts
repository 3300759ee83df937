// The secret corpus (issue 9, defect 4) through every entry point that parses a connection string,
// without connecting: no error message, stack, cause (recursively) or warning may contain the
// password or any 4-character piece of it; errors about a bad part still name it (the port 99999,
// the sslmode). Connect failures and the codegen command: test/integration/connection/connection-string-leaks.test.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CockroachDialect, isQueryRefusedError, parseConnectionString, redactConnectionString } from '../../../src/index.js'
import { assertNoSecret, connectionStringCorpus, errorText, thrown, warningsDuring } from '../../harness/password-corpus.js'

// The integration test draws its corpus from SEED + 1.
const SEED = 0x5ec2e7

describe('secret corpus: parsing entry points', () => {
  const corpus = connectionStringCorpus({
    seed: SEED,
    size: 570,
    hosts: ['db.example.com', 'localhost', '127.0.0.1', 'free-tier.gcp-us-central1.cockroachlabs.cloud', '[::1]'],
    port: 26257,
  })

  it('holds hundreds of strings of each kind', () => {
    assert.ok(corpus.filter((e) => e.kind === 'valid').length >= 80)
    assert.ok(corpus.filter((e) => e.kind === 'malformed').length >= 300)
    assert.ok(corpus.filter((e) => e.kind === 'raw').length >= 80)
  })

  it('parseConnectionString: errors never carry a piece of the password, and name the bad part', async () => {
    const warnings = await warningsDuring(async () => {
      for (const entry of corpus) {
        const error = thrown(() => parseConnectionString(entry.connectionString))
        if (entry.kind === 'valid') {
          assert.equal(error, undefined, `${entry.label} #${entry.index} should parse: ${String(error)}`)
          continue
        }
        if (entry.kind === 'raw' && error === undefined) continue
        assert.ok(error instanceof Error, `${entry.label} #${entry.index} should be refused: ${entry.connectionString}`)
        assertNoSecret(errorText(error), entry, `parseConnectionString (${entry.label} #${entry.index})`)
        assert.ok(isQueryRefusedError(error) && error.api === 'parseConnectionString', String(error))
        assert.match(error.message, /^parseConnectionString: /)
        if (entry.names !== undefined) {
          assert.ok(error.message.includes(entry.names), `${entry.label} #${entry.index}: ${error.message} should name ${entry.names}`)
        }
      }
    })
    for (const entry of corpus) assertNoSecret(warnings, entry, 'process warnings')
  })

  it('new CockroachDialect({ connectionString }): the same', () => {
    for (const entry of corpus) {
      const error = thrown(() => new CockroachDialect({ connectionString: entry.connectionString }))
      if (entry.kind !== 'raw') {
        // A host list is one string parseConnectionString refuses and the dialect takes (issue 12: one node each).
        const valid = entry.kind === 'valid' || entry.label === 'host list'
        assert.equal(error === undefined, valid, `${entry.label} #${entry.index}: ${String(error)}`)
      }
      if (error !== undefined) assertNoSecret(errorText(error), entry, `CockroachDialect (${entry.label} #${entry.index})`)
    }
  })

  it('redactConnectionString never returns a piece of the password, valid string or not', () => {
    for (const entry of corpus) {
      // A raw password that still makes a valid URL (`app:pass@word/bank`: password 'pass', host
      // 'word') is read as that URL by any parser; its refused siblings must not leak.
      if (entry.kind === 'raw' && thrown(() => parseConnectionString(entry.connectionString)) === undefined) continue
      assertNoSecret([redactConnectionString(entry.connectionString)], entry, `redactConnectionString (${entry.label} #${entry.index})`)
    }
  })

  it('the four strings of the issue', () => {
    const cases = [
      ['postgresql://app:pa/ss@db:26257/bank', 'pa/ss'],
      ['postgresql://alice:p@ss:w/rd#?&% x@127.0.0.1:5432/db', 'p@ss:w/rd#?&% x'],
      ['app:secretpw@db:26257/bank', 'secretpw'],
      ['postgresql//app:secretpw@db/bank', 'secretpw'],
    ] as const
    for (const [connectionString, password] of cases) {
      const entry = { connectionString, password }
      const error = thrown(() => parseConnectionString(connectionString))
      assert.ok(error instanceof Error, connectionString)
      assertNoSecret(errorText(error), entry, 'parseConnectionString')
      assertNoSecret([redactConnectionString(connectionString)], entry, 'redactConnectionString')
    }
  })
})
