// `npm run demo` (scripts/demo.ts) on the throwaway PostgreSQL: every step runs, and what it prints
// is headings and plain lines, never a raw value such as `1n` or a dangling "rows".
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { repositoryRoot } from '../../harness/packed-package.js'

const nodeMajor = Number(process.versions.node.split('.')[0])

describe('the demo', () => {
  it(
    'prints headings and plain lines only, and says which Node it runs on',
    { skip: nodeMajor < 22 && 'the demo runs on Node 22 with kysely 0.29 (npm run demo fetches one); this is the Node 20 leg' },
    () => {
      const url = process.env.PG_URL
      assert.ok(url, 'PG_URL is not set: run the tests with `npm test`')
      const output = execFileSync(process.execPath, [join(repositoryRoot, '.build', 'scripts', 'demo.js')], {
        cwd: repositoryRoot,
        env: { ...process.env, DEMO_DATABASE_URL: url, NODE_OPTIONS: '' },
      }).toString()
      const lines = output.split('\n').filter((line) => line.trim() !== '')
      assert.match(lines[0] ?? '', new RegExp(`^== Node ${process.version.replace(/\./g, '\\.')}, connected to$`))
      assert.ok(
        lines.some((line) => line.startsWith('== Transferred 100 from alice to bob inside withRetry')),
        output,
      )
      for (const line of lines) {
        assert.ok(line.startsWith('== ') || line.startsWith('   '), `neither a heading nor a line under one: ${JSON.stringify(line)}`)
        assert.doesNotMatch(line, /\b\d+n\b/, `a raw bigint: ${JSON.stringify(line)}`)
        assert.doesNotMatch(line, /[;:,] rows$|\[Object|\{ [a-z]+: /, `a raw value: ${JSON.stringify(line)}`)
      }
    },
  )
})
