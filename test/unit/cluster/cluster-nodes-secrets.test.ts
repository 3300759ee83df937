// The secret corpus of test/harness/password-corpus.ts through the host-list parser: its errors
// never carry a piece of the password, whether the string lists one host or several.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseClusterNodes } from '../../../src/cluster/cluster-nodes.js'
import { assertNoSecret, connectionStringCorpus, errorText } from '../../harness/password-corpus.js'

describe('secret corpus: parseClusterNodes', () => {
  const corpus = connectionStringCorpus({ seed: 4242, size: 380, hosts: ['db.example.com', '127.0.0.1', '[::1]'], port: 26257 })

  for (const [label, variant] of [
    ['as given', (url: string) => url],
    // The same strings with their host made a three-host list wherever the host is recognisable.
    [
      'with a host list',
      (url: string) => url.replace(/@(db\.example\.com|127\.0\.0\.1|\[::1\])(:26257)?\//, '@$1$2,n2.example.com,n3.example.com:26258/'),
    ],
  ] as const) {
    it(`errors never carry a piece of the password (${label})`, () => {
      let refused = 0
      for (const entry of corpus) {
        const connectionString = variant(entry.connectionString)
        let error: unknown
        try {
          parseClusterNodes(connectionString)
        } catch (caught) {
          error = caught
        }
        if (error === undefined) continue
        refused++
        // Stack frames name code locations, not input: on Node 22 "primordials:466:82" once matched a
        // 4-character piece ("466:") of a generated password. The stack's message line is still checked.
        const texts = errorText(error).map((text) => text.replace(/^\s+at .*$/gm, ''))
        assertNoSecret(texts, { ...entry, connectionString }, `parseClusterNodes (${entry.label} #${entry.index})`)
      }
      assert.ok(refused > 100, `only ${refused} refused`)
    })
  }

  it('passes each node the password of the URL, whatever characters it holds', () => {
    for (const entry of corpus.filter((e) => e.kind === 'valid')) {
      const url = entry.connectionString.replace(/@(db\.example\.com|127\.0\.0\.1|\[::1\])(:26257)?\//, '@$1$2,n2.example.com/')
      if (url === entry.connectionString) continue
      let nodes
      try {
        nodes = parseClusterNodes(url)
      } catch {
        continue // e.g. loopback and remote nodes with different default sslmodes
      }
      assert.equal(nodes.length, 2)
      assert.equal(nodes[0]!.options.password, nodes[1]!.options.password)
    }
  })
})
