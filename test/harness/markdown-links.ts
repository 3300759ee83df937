// The links and heading anchors of a Markdown file, read with marked's lexer (so links inside code
// blocks and code spans are not links, and reference-style links are resolved). Pure: text in,
// links and anchors out; test/integration/package/packed-docs.test.ts checks them against the files of the tarball.
import { marked } from 'marked'

export interface MarkdownLink {
  readonly kind: 'link' | 'image'
  readonly text: string
  readonly href: string
}

/** Every link and image of `markdown`, in document order. */
export function markdownLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = []
  walk(marked.lexer(markdown), (token) => {
    if (token.type === 'link' || token.type === 'image') {
      links.push({ kind: token.type, text: String(token.text), href: String(token.href) })
    }
  })
  return links
}

/**
 * The anchors GitHub (and npm's README view) gives the headings of `markdown`: lower case, spaces
 * to hyphens, punctuation other than `-` and `_` dropped, a repeated heading suffixed `-1`, `-2`, ...
 * (github-slugger's rule).
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  walk(marked.lexer(markdown), (token) => {
    if (token.type !== 'heading') return
    const base = String(token.text)
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  })
  return anchors
}

interface Token {
  readonly type?: unknown
  readonly [key: string]: unknown
}

/** Visits every token, also those nested in paragraphs, lists, tables and block quotes. */
function walk(value: unknown, visit: (token: Token) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit)
    return
  }
  if (typeof value !== 'object' || value === null) return
  const token = value as Token
  if (typeof token.type === 'string') visit(token)
  // Nested tokens live under `tokens` (inline), `items` (lists), `header`/`rows` (tables).
  for (const key of ['tokens', 'items', 'header', 'rows']) walk(token[key], visit)
}
