import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'

interface PackageJson {
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
}

const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as PackageJson

describe('package.json', () => {
  it('gives peer dependencies ranges, never exact versions users would have to match', () => {
    for (const [name, range] of Object.entries(pkg.peerDependencies)) {
      assert.match(range, /^(\^|>=)/, `${name}: ${range}`)
    }
  })

  it('needs only kysely and pg; pg-cursor, @types/pg and kysely-codegen are optional', () => {
    const required = Object.keys(pkg.peerDependencies).filter((name) => pkg.peerDependenciesMeta[name]?.optional !== true)
    assert.deepEqual(required.sort(), ['kysely', 'pg'])
  })
})
