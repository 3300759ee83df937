// The package bin as package.json names it, with the shebang in the source and in the compiled file
// the tests run (.build/src; the same ESM output as dist/esm). Running it: test/integration/codegen/codegen.test.ts.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'

const root = resolve(new URL('../../../..', import.meta.url).pathname)
const bin = join(root, '.build/src/codegen/codegen-cli.js')

describe('kysely-cockroachdb bin', () => {
  it('is the package bin, with a shebang', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> }
    assert.equal(manifest.bin?.['kysely-cockroachdb'], './dist/esm/codegen/codegen-cli.js')
    assert.match(readFileSync(join(root, 'src/codegen/codegen-cli.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/)
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/)
  })
})
