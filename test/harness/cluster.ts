// Three "nodes" of one PostgreSQL: three TcpProxy instances in front of the test server, and the
// multi-host URL that lists them. Each proxy can refuse, reset, blackhole, drain, go down and come
// back (see tcp-proxy.ts).
import pg from 'pg'
import { TcpProxy } from './tcp-proxy.js'

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

  async close(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.close()))
  }
}

// MERGE NOTE: branch h/harness adds test/harness/wait-for.ts (waitFor(condition, { timeoutMs, what }));
// once merged, these tests can use it and this copy can go.
/** Polls `condition` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function pollUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
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
