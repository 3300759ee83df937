// Finds the ```ts examples of the documentation: fenced blocks in Markdown, and fenced blocks inside
// the TSDoc comments of src/*.ts (each line's leading ` * ` removed). Pure: text in, examples out;
// test/integration/package/packed-types.test.ts writes them into a consumer project and type-checks them.

export interface DocExample {
  /** The file the example comes from, relative to the repository root (e.g. `docs/retries.md`). */
  readonly file: string
  /** The 1-based line of the example's first code line in that file. */
  readonly line: number
  readonly code: string
  /**
   * What follows the language on the fence line, e.g. `kysely@0.28` in "```ts kysely@0.28": such an
   * example is checked only against that kysely minor (for APIs that differ between 0.28 and 0.29).
   */
  readonly kysely: string | undefined
}

const FENCE_OPEN = /^(\s*)```(?:ts|typescript)(?:\s+(.*?))?\s*$/
const FENCE_CLOSE = /^\s*```\s*$/
const KYSELY_TAG = /(?:^|\s)kysely@(\d+\.\d+)(?:\s|$)/

/**
 * The examples of one file. `.ts` files contribute the fenced blocks inside their comments; any other
 * file is read as Markdown.
 */
export function extractExamples(file: string, text: string): DocExample[] {
  const lines = text.split('\n')
  const content = file.endsWith('.ts') ? lines.map(commentContent) : lines
  const examples: DocExample[] = []
  for (let i = 0; i < content.length; i++) {
    const open = content[i] === undefined ? null : FENCE_OPEN.exec(content[i]!)
    if (!open) continue
    const indent = open[1]!.length
    const body: string[] = []
    let j = i + 1
    for (; j < content.length; j++) {
      const current = content[j]
      if (current === undefined) {
        throw new Error(`${file}:${i + 1}: the \`\`\`ts block is not closed before its comment ends`)
      }
      if (FENCE_CLOSE.test(current)) break
      // Markdown code in a list item is indented like the fence; the example itself is not.
      body.push(current.slice(Math.min(indent, current.length - current.trimStart().length)))
    }
    if (j === content.length) throw new Error(`${file}:${i + 1}: the \`\`\`ts block is not closed`)
    examples.push({ file, line: i + 2, code: body.join('\n'), kysely: KYSELY_TAG.exec(open[2] ?? '')?.[1] })
    i = j
  }
  return examples
}

/** A TSDoc line's text without its ` * ` prefix, or undefined for a line outside a comment body. */
function commentContent(line: string): string | undefined {
  const match = /^\s*\*(?!\/)(?: ?)(.*)$/.exec(line)
  return match ? match[1] : undefined
}
