// A loopback TCP proxy between a connection pool and PostgreSQL that cuts connections on command,
// for fault-injection tests. It reads the PostgreSQL frontend protocol the client sends (startup
// packets, then typed messages: 'Q' simple queries and 'P' Parse messages carry the SQL text) so a
// test can cut the connection that sends a given statement:
//
// - 'before-send': the statement never reaches the server; the client sees the connection close
//   while waiting for the reply. E.g. a cut at BEGIN, or in the middle of a transaction.
// - 'after-server-reply': the statement is forwarded, the server's reply is thrown away and the
//   connection closed. For COMMIT this is the ambiguous case made certain: the server committed,
//   the client never hears it.
import { createServer, connect } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'

export type CutTiming = 'before-send' | 'after-server-reply'

export interface CutRule {
  /** Called with the SQL text of every statement clients send. */
  readonly match: (sql: string) => boolean
  readonly when: CutTiming
  /** How many matching statements to cut; 1 by default. */
  readonly times?: number
}

interface ActiveRule {
  readonly match: (sql: string) => boolean
  readonly when: CutTiming
  remaining: number
  readonly fired: (sql: string) => void
}

// Startup-phase request codes that are followed by another untyped startup packet.
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

export class TcpProxy {
  readonly #server: Server
  readonly #target: { readonly host: string; readonly port: number }
  readonly #connections = new Set<ProxyConnection>()
  readonly #rules: ActiveRule[] = []
  #cuts = 0
  #opened = 0

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server
    this.#target = Object.freeze({ ...target })
  }

  /** Starts a proxy on 127.0.0.1 (a free port) that forwards to `target`. */
  static async start(target: { readonly host: string; readonly port: number }): Promise<TcpProxy> {
    const server = createServer()
    const proxy = new TcpProxy(server, target)
    server.on('connection', (socket) => proxy.#accept(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    return proxy
  }

  /** Starts a proxy in front of the server of `url` (a postgres:// URL). */
  static async forUrl(url: string): Promise<TcpProxy> {
    const parsed = new URL(url)
    return TcpProxy.start({ host: parsed.hostname, port: Number(parsed.port || 5432) })
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const parsed = new URL(url)
    parsed.hostname = '127.0.0.1'
    parsed.port = String(this.port)
    return parsed.toString()
  }

  /** Connections the proxy has cut so far. */
  get cuts(): number {
    return this.#cuts
  }

  /** Connections accepted so far. */
  get opened(): number {
    return this.#opened
  }

  /** Connections open right now. */
  get openConnections(): number {
    return this.#connections.size
  }

  /**
   * Cuts the connection that sends a statement matching `rule.match`, `rule.times` times. The
   * promise resolves with the SQL text of the statement at the last cut.
   */
  cutOn(rule: CutRule): Promise<string> {
    const times = rule.times ?? 1
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError('CutRule.times must be a positive integer')
    }
    return new Promise((resolve) => {
      const active: ActiveRule = {
        match: rule.match,
        when: rule.when,
        remaining: times,
        fired: (sql) => {
          if (active.remaining === 0) {
            resolve(sql)
          }
        },
      }
      this.#rules.push(active)
    })
  }

  /** Forgets the rules that have not fired yet. */
  clearRules(): void {
    this.#rules.length = 0
  }

  /** Cuts every open connection now. */
  cutAll(): void {
    for (const connection of this.#connections) {
      this.#cuts++
      connection.destroy()
    }
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) {
      connection.destroy()
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** @internal Claims a rule for `sql`, or returns undefined. */
  takeRule(sql: string): ActiveRule | undefined {
    const index = this.#rules.findIndex((rule) => rule.match(sql))
    if (index === -1) {
      return undefined
    }
    const rule = this.#rules[index]!
    rule.remaining--
    if (rule.remaining === 0) {
      this.#rules.splice(index, 1)
    }
    return rule
  }

  /** @internal */
  recordCut(connection: ProxyConnection): void {
    this.#cuts++
    this.#connections.delete(connection)
  }

  /** @internal */
  forget(connection: ProxyConnection): void {
    this.#connections.delete(connection)
  }

  #accept(client: Socket): void {
    this.#opened++
    const upstream = connect(this.#target.port, this.#target.host)
    this.#connections.add(new ProxyConnection(this, client, upstream))
  }
}

class ProxyConnection {
  readonly #proxy: TcpProxy
  readonly #client: Socket
  readonly #upstream: Socket
  #pending: Buffer = Buffer.alloc(0)
  #startup = true
  #closed = false
  /** Set once a statement to cut after the server's reply was forwarded. */
  #cutOnReply: { readonly rule: ActiveRule; readonly sql: string } | undefined

  constructor(proxy: TcpProxy, client: Socket, upstream: Socket) {
    this.#proxy = proxy
    this.#client = client
    this.#upstream = upstream
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    client.on('data', (chunk: Buffer) => this.#fromClient(chunk))
    upstream.on('data', (chunk: Buffer) => this.#fromServer(chunk))
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.destroy())
      socket.on('close', () => this.destroy())
    }
  }

  destroy(): void {
    if (this.#closed) {
      return
    }
    this.#closed = true
    this.#proxy.forget(this)
    this.#client.destroy()
    this.#upstream.destroy()
  }

  #cut(rule: ActiveRule, sql: string): void {
    this.#proxy.recordCut(this)
    this.destroy()
    rule.fired(sql)
  }

  #fromServer(chunk: Buffer): void {
    if (this.#closed) {
      return
    }
    if (this.#cutOnReply !== undefined) {
      // The server has processed the statement (it only answers once it is done); the client
      // never learns the result.
      const { rule, sql } = this.#cutOnReply
      this.#cut(rule, sql)
      return
    }
    this.#client.write(chunk)
  }

  #fromClient(chunk: Buffer): void {
    if (this.#closed) {
      return
    }
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    while (!this.#closed) {
      const message = this.#nextMessage()
      if (message === undefined) {
        return
      }
      const sql = this.#startup ? undefined : statementText(message)
      const rule = sql === undefined ? undefined : this.#proxy.takeRule(sql)
      if (rule !== undefined && rule.when === 'before-send') {
        this.#cut(rule, sql!)
        return
      }
      if (rule !== undefined) {
        this.#cutOnReply = { rule, sql: sql! }
      }
      this.#upstream.write(message)
    }
  }

  /** Removes and returns the next complete message, or undefined if it has not fully arrived. */
  #nextMessage(): Buffer | undefined {
    const buffer = this.#pending
    if (this.#startup) {
      if (buffer.length < 8) return undefined
      const length = buffer.readInt32BE(0)
      if (buffer.length < length) return undefined
      const code = buffer.readInt32BE(4)
      if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) {
        this.#startup = false
      }
      this.#pending = buffer.subarray(length)
      return buffer.subarray(0, length)
    }
    if (buffer.length < 5) return undefined
    const total = buffer.readInt32BE(1) + 1
    if (buffer.length < total) return undefined
    this.#pending = buffer.subarray(total)
    return buffer.subarray(0, total)
  }
}

/** The SQL text of a simple Query ('Q') or a Parse ('P') message, else undefined. */
function statementText(message: Buffer): string | undefined {
  const type = String.fromCharCode(message[0]!)
  if (type === 'Q') {
    return cString(message, 5).text
  }
  if (type === 'P') {
    const name = cString(message, 5)
    return cString(message, name.end + 1).text
  }
  return undefined
}

function cString(buffer: Buffer, start: number): { readonly text: string; readonly end: number } {
  const end = buffer.indexOf(0, start)
  return { text: buffer.toString('utf8', start, end), end }
}
