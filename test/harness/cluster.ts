// Three "nodes" of one PostgreSQL: three TcpProxy instances in front of the test server, and the
// multi-host URL that lists them. Each proxy can refuse, reset, blackhole, drain, go down and come
// back (see tcp-proxy.ts).
import pg from 'pg'
import { TcpProxy } from './tcp-proxy.js'
import { waitFor } from './wait-for.js'

export class ProxyCluster {
  readonly proxies: readonly TcpProxy[]
  readonly #url: URL

  private constructor(proxies: readonly TcpProxy[], url: URL) {
    this.proxies = proxies
    this.#url = url
  }

  static async start(databaseUrl: string, size = 3): Promise<ProxyCluster> {
    const url = new URL(databaseUrl)
    const target = { host: url.hostname, port: Number(url.port || 5432) }
    const proxies = await Promise.all(Array.from({ length: size }, () => TcpProxy.start(target)))
    return new ProxyCluster(proxies, url)
  }

  /** `postgresql://user:pw@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/db?sslmode=disable&<extra>`. */
  url(extra: Record<string, string> = {}): string {
    const { username, password, pathname } = this.#url
    const auth = username === '' ? '' : `${username}${password === '' ? '' : `:${password}`}@`
    const hosts = this.proxies.map((p) => `127.0.0.1:${p.port}`).join(',')
    const query = new URLSearchParams({ sslmode: 'disable', ...extra })
    return `postgresql://${auth}${hosts}${pathname}?${query.toString()}`
  }

  /** The node key the pool reports for proxy `i`. */
  nodeKey(i: number): string {
    return `127.0.0.1:${this.proxies[i]!.port}`
  }

  /**
   * After a test: every proxy back up with no rules, then waits until no proxied connection and no
   * backend with `applicationName` is left (so a test that leaked a client fails here, by name).
   */
  async resetAfterTest(adminUrl: string, applicationName: string): Promise<void> {
    for (const proxy of this.proxies) {
      proxy.clearRules()
      await proxy.up()
    }
    await pollUntil(() => this.proxies.every((p) => p.openConnections === 0), 'the proxies to have no open connection')
    await pollUntil(async () => (await backendsOf(adminUrl, applicationName)) === 0, 'no backend of the test left')
  }

  async close(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.close()))
  }
}

/** waitFor (test/harness/wait-for.ts) with the argument order of these tests; polls every 20 ms. */
export async function pollUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(condition, { what, timeoutMs, intervalMs: 20 })
}

/** Backends in `pg_stat_activity` with `application_name`, on the server of `adminUrl`. */
export async function backendsOf(adminUrl: string, applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
      [applicationName],
    )
    return rows[0]!.n
  } finally {
    await client.end()
  }
}
