// The reader of tsc's output that the declaration tests (test/integration/package/peer-ranges/types.test.ts) trust: a
// diagnostic it drops is an error those tests never see.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseDiagnostics } from '../../harness/tsc-diagnostics.js'

describe('parseDiagnostics', () => {
  it('reads file diagnostics with the file, the code and the line', () => {
    const line = "cjs.cts(1,24): error TS1479: The current file is a CommonJS module whose imports will produce 'require' calls"
    assert.deepEqual(parseDiagnostics(`${line}\n`), [{ file: 'cjs.cts', code: 1479, text: line }])
    const nested = 'node_modules/kysely-cockroachdb/dist/cjs/index.d.ts(3,1): error TS2307: Cannot find module'
    assert.deepEqual(parseDiagnostics(nested), [{ file: 'node_modules/kysely-cockroachdb/dist/cjs/index.d.ts', code: 2307, text: nested }])
  })

  // tsc prints these without a file prefix (TypeScript's diagnosticMessages.json: TS2688, TS6053,
  // TS18003); they fail the compilation as much as any other.
  it('reads global diagnostics that have no file prefix', () => {
    const lines = [
      "error TS2688: Cannot find type definition file for 'node'.",
      "error TS6053: File '/tmp/x/esm.mts' not found.",
      "error TS18003: No inputs were found in config file '/tmp/x/tsconfig.json'.",
    ]
    assert.deepEqual(parseDiagnostics(lines.join('\n')), [
      { file: '', code: 2688, text: lines[0] },
      { file: '', code: 6053, text: lines[1] },
      { file: '', code: 18003, text: lines[2] },
    ])
  })

  it('ignores lines that are not error diagnostics', () => {
    const output = ['  The file is in the program because:', '    Root file specified for compilation', 'Found 0 errors.', ''].join('\n')
    assert.deepEqual(parseDiagnostics(output), [])
  })
})
