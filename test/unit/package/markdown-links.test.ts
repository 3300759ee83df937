// The Markdown reading of test/harness/markdown-links.ts, which test/integration/package/packed-docs.test.ts
// runs over the packed README, CHANGELOG and docs/.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { headingAnchors, markdownLinks } from '../../harness/markdown-links.js'

describe('markdownLinks and headingAnchors', () => {
  it('find links, images and reference links, but nothing in code', () => {
    const md = [
      '# T',
      '',
      'See [a](docs/x.md#y), ![c](b.svg) and [ref].',
      '',
      '```ts',
      '[no](z.md)',
      '```',
      '',
      '`[no](w.md)`',
      '',
      '- [li](q.md)',
      '',
      '[ref]: r.md',
    ].join('\n')
    assert.deepEqual(
      markdownLinks(md).map((l) => `${l.kind}:${l.href}`),
      ['link:docs/x.md#y', 'image:b.svg', 'link:r.md', 'link:q.md'],
    )
  })

  it('gives headings the anchors GitHub gives them', () => {
    const md = [
      '# Retry transactions: `withRetry`',
      '## Types: `kysely-cockroachdb codegen`',
      '## Testing',
      '## Testing',
      '### AS OF SYSTEM TIME (follower reads)',
    ].join('\n\n')
    assert.deepEqual(
      [...headingAnchors(md)],
      ['retry-transactions-withretry', 'types-kysely-cockroachdb-codegen', 'testing', 'testing-1', 'as-of-system-time-follower-reads'],
    )
  })
})
