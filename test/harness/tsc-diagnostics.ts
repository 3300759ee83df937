// Reads `tsc --pretty false` output for the declaration tests (test/integration/package/peer-ranges/types.test.ts).

export interface Diagnostic {
  /** The file relative to the project; empty for a global diagnostic (no file prefix). */
  readonly file: string
  readonly code: number
  readonly text: string
}

const DIAGNOSTIC = /^(?:(.*?)\(\d+,\d+\): )?error TS(\d+): /

/**
 * `tsc --pretty false` output, one diagnostic a line: `file(line,col): error TS1234: message`, the
 * file relative to the project, or `error TS1234: message` for a global one (TS2688 "Cannot find type
 * definition file", TS6053 "File not found", TS18003 "No inputs were found"), whose file is ''.
 */
export function parseDiagnostics(output: string): Diagnostic[] {
  return output.split('\n').flatMap((text) => {
    const match = DIAGNOSTIC.exec(text)
    return match === null ? [] : [{ file: match[1] ?? '', code: Number(match[2]), text }]
  })
}
