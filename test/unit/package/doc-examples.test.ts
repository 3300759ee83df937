// The example extraction of test/harness/doc-examples.ts, which test/integration/package/packed-types.test.ts
// type-checks against the packed package.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { extractExamples } from '../../harness/doc-examples.js'

describe('extractExamples', () => {
  it('finds ```ts blocks in Markdown (also indented in a list) with the line of their first code line', () => {
    const md = [
      '# t',
      '',
      '```ts',
      'const a = 1',
      '```',
      '',
      '- item',
      '',
      '  ```ts kysely@0.28',
      '  a()',
      '  ```',
      '```sh',
      'x',
      '```',
    ].join('\n')
    assert.deepEqual(extractExamples('x.md', md), [
      { file: 'x.md', line: 4, code: 'const a = 1', kysely: undefined },
      { file: 'x.md', line: 10, code: 'a()', kysely: '0.28' },
    ])
  })

  it('finds ```ts blocks inside TSDoc comments, without the comment prefix', () => {
    const source = ['/**', ' * Does x.', ' *', ' * ```ts', ' * f()', ' *', ' *   g()', ' * ```', ' */', 'export function f() {}'].join('\n')
    assert.deepEqual(extractExamples('src/x.ts', source), [{ file: 'src/x.ts', line: 5, code: 'f()\n\n  g()', kysely: undefined }])
  })

  it('refuses a block that is never closed, naming where it starts', () => {
    assert.throws(() => extractExamples('x.md', 'a\n```ts\nb\n'), /^Error: x\.md:2: /)
  })
})
