// The documentation as npm shows it and node_modules holds it: the README, CHANGELOG and docs/ of
// the packed tarball. package.json names no repository, so a relative link only works if its target
// ships in the tarball: every relative link must resolve to a file of the tarball (and its #anchor
// to a heading there); anything else must be an absolute http(s) URL.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { headingAnchors, markdownLinks } from '../../harness/markdown-links.js'
import { unpackPackage } from '../../harness/packed-package.js'

describe('the links of the packed README, CHANGELOG and docs/', () => {
  let unpacked: { readonly dir: string; remove(): void }
  let markdownFiles: string[] = []

  function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry)
      return statSync(path).isDirectory() ? walk(path) : [path]
    })
  }

  before(() => {
    unpacked = unpackPackage()
    markdownFiles = walk(unpacked.dir)
      .filter((f) => f.endsWith('.md'))
      .map((f) => relative(unpacked.dir, f))
      .sort()
  })

  after(() => unpacked?.remove())

  it('ship the pages the README links to', () => {
    assert.ok(markdownFiles.includes('README.md'), markdownFiles.join(', '))
    assert.ok(
      markdownFiles.some((f) => f.startsWith(`docs${sep}`)),
      `no docs/ in the tarball: ${markdownFiles.join(', ')}`,
    )
  })

  it('resolve inside the tarball, or are absolute http(s) URLs', () => {
    const broken: string[] = []
    const anchorsOf = new Map<string, Set<string>>()
    const anchors = (file: string) => {
      if (!anchorsOf.has(file)) anchorsOf.set(file, headingAnchors(readFileSync(join(unpacked.dir, file), 'utf8')))
      return anchorsOf.get(file)!
    }
    for (const file of markdownFiles) {
      for (const link of markdownLinks(readFileSync(join(unpacked.dir, file), 'utf8'))) {
        const { href } = link
        const shown = `${file}: [${link.text}](${href})`
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) {
          if (!/^(https?|mailto):/i.test(href)) broken.push(`${shown}: only http(s) and mailto URLs work on npm`)
          continue
        }
        const [path = '', anchor] = href.split('#', 2)
        const target = path === '' ? file : relative(unpacked.dir, resolve(unpacked.dir, dirname(file), decodeURIComponent(path)))
        if (target.startsWith('..')) {
          broken.push(`${shown}: points outside the package`)
        } else if (!existsSync(join(unpacked.dir, target))) {
          broken.push(`${shown}: ${target} is not in the tarball (package.json "files")`)
        } else if (anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor)) {
          broken.push(`${shown}: ${target} has no heading #${anchor} (headings: ${[...anchors(target)].join(', ')})`)
        }
      }
    }
    assert.deepEqual(broken, [])
  })
})
