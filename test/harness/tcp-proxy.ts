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
// - hold(): the statement is held back (with everything the client sends after it) and the test
//   gets the session, to cut it itself: destroy the sockets, or have the server end the backend
//   (pg_terminate_backend) while the client waits for the reply. See test/harness/connection-cut.ts.
//
// For the cluster tests (three proxies as three "nodes" of one PostgreSQL) a proxy also plays a
// node's life: setAdmission() refuses new connections (listener closed: ECONNREFUSED), resets them,
// answers them as a draining CockroachDB node does (57P01 "server is not accepting clients, try
// another node", cockroach pkg/sql/pgwire/server.go ErrDrainingNewConn), or blackholes them (accept,
// never answer); drain() also ends each session with 57P01 "server is shutting down"
// (ErrDrainingExistingConn) once it is idle; down()/up() stop and restart the node.
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

/**
 * One client connection through the proxy, caught at (or found by) a statement it sent.
 */
export interface ProxiedSession {
  /** The statement the session was caught at. */
  readonly sql: string
  /**
   * The local port of the proxy's connection to the server: `client_port` of the backend in
   * `pg_stat_activity`, which is how a test finds the backend to terminate.
   */
  readonly serverSidePort: number
  /** Resolves once the proxy has closed both sockets, whichever side ended first. */
  readonly closed: Promise<void>
  /** Destroys both sockets now: the client sees the connection drop with no reply. */
  cut(): void
  /** Forwards what was held back and goes on forwarding (a no-op on a closed session). */
  release(): void
  /**
   * Destroys only the client's socket: the client sees the connection drop while the held statement
   * waits here. release() then still delivers it to the server (and the server side is closed once
   * the server has answered it).
   */
  cutClient(): void
}

/** How a proxy treats new connections, see {@link TcpProxy.setAdmission}. */
export type Admission = 'accept' | 'refuse' | 'reset' | 'draining' | 'blackhole'

interface ActiveRule {
  readonly match: (sql: string) => boolean
  readonly when: CutTiming | 'hold'
  remaining: number
  readonly fired: (sql: string, session: ProxiedSession) => void
}

interface SentWaiter {
  readonly match: (sql: string) => boolean
  readonly resolve: (sql: string) => void
}

// Startup-phase request codes that are followed by another untyped startup packet.
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

export class TcpProxy {
  readonly #server: Server
  readonly #target: { readonly host: string; readonly port: number }
  readonly #connections = new Set<ProxyConnection>()
  readonly #rules: ActiveRule[] = []
  readonly #sentWaiters: SentWaiter[] = []
  readonly #blackholed = new Set<Socket>()
  #cuts = 0
  #opened = 0
  #admission: Admission = 'accept'
  #port = 0
  #draining: { readonly timer: NodeJS.Timeout | undefined } | undefined

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
    proxy.#port = (server.address() as AddressInfo).port
    return proxy
  }

  /**
   * How new connections are treated from now on: `'accept'` (forwarded), `'refuse'` (the listener
   * is closed: ECONNREFUSED; re-opened on the same port by the next mode), `'reset'` (accepted, then
   * reset), `'draining'` (the startup packet is answered with CockroachDB's FATAL 57P01 "server is
   * not accepting clients, try another node" and the connection closed) or `'blackhole'` (accepted,
   * never answered, never forwarded). Existing connections are not touched.
   */
  async setAdmission(mode: Admission): Promise<void> {
    const wasRefusing = this.#admission === 'refuse'
    this.#admission = mode
    if (mode === 'refuse' && !wasRefusing) {
      // close() stops listening at once; its callback would wait for the open connections.
      this.#server.close()
    } else if (mode !== 'refuse' && wasRefusing) {
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject)
        this.#server.listen(this.#port, '127.0.0.1', () => {
          this.#server.off('error', reject)
          resolve()
        })
      })
    }
    if (mode !== 'blackhole') {
      for (const socket of this.#blackholed) socket.destroy()
      this.#blackholed.clear()
    }
  }

  get admission(): Admission {
    return this.#admission
  }

  /**
   * CockroachDB's drain, emulated: new connections are answered as `'draining'`; each open session
   * gets an unsolicited FATAL 57P01 "server is shutting down" and is closed as soon as it is idle
   * (at once if it is, else after the ReadyForQuery that ends its transaction); sessions still
   * busy after `transactionsTimeoutMs` (CockroachDB's server.shutdown.transactions.timeout, default
   * 10 s) are cut.
   */
  async drain(options: { readonly transactionsTimeoutMs?: number } = {}): Promise<void> {
    await this.setAdmission('draining')
    const timeoutMs = options.transactionsTimeoutMs ?? 10_000
    const timer = setTimeout(() => {
      for (const connection of this.#connections) {
        this.#cuts++
        connection.destroy()
      }
    }, timeoutMs)
    timer.unref()
    this.#draining = { timer }
    for (const connection of this.#connections) connection.endWhenIdle()
  }

  /** The node stops: new connections are refused and every open one is cut. */
  async down(): Promise<void> {
    this.#stopDraining()
    await this.setAdmission('refuse')
    this.cutAll()
  }

  /** The node is back: new connections are accepted. */
  async up(): Promise<void> {
    this.#stopDraining()
    await this.setAdmission('accept')
  }

  #stopDraining(): void {
    clearTimeout(this.#draining?.timer)
    this.#draining = undefined
  }

  /** @internal Whether sessions end once idle (a drain is on). */
  get drainingSessions(): boolean {
    return this.#draining !== undefined
  }

  /** Starts a proxy in front of the server of `url` (a postgres:// URL). */
  static async forUrl(url: string): Promise<TcpProxy> {
    const parsed = new URL(url)
    return TcpProxy.start({ host: parsed.hostname, port: Number(parsed.port || 5432) })
  }

  get port(): number {
    return this.#port
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
    return new Promise((resolve) => this.#addRule(rule.match, rule.when, times, (sql) => resolve(sql)))
  }

  /**
   * Holds back the first statement matching `match` (and everything its connection sends after
   * it) and resolves with that connection, for the test to cut or release.
   */
  hold(match: (sql: string) => boolean): Promise<ProxiedSession> {
    return new Promise((resolve) => this.#addRule(match, 'hold', 1, (_sql, session) => resolve(session)))
  }

  /** Resolves with the text of the next statement matching `match` that the proxy forwards. */
  nextSent(match: (sql: string) => boolean): Promise<string> {
    return new Promise((resolve) => this.#sentWaiters.push({ match, resolve }))
  }

  /** The open connections that have sent a statement matching `match`. */
  sessionsThatSent(match: (sql: string) => boolean): ProxiedSession[] {
    return [...this.#connections].flatMap((connection) => {
      const sql = connection.sent.find(match)
      return sql === undefined ? [] : [connection.session(sql)]
    })
  }

  #addRule(
    match: (sql: string) => boolean,
    when: CutTiming | 'hold',
    times: number,
    onLast: (sql: string, session: ProxiedSession) => void,
  ): void {
    const active: ActiveRule = {
      match,
      when,
      remaining: times,
      fired: (sql, session) => {
        if (active.remaining === 0) {
          onLast(sql, session)
        }
      },
    }
    this.#rules.push(active)
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
    this.#stopDraining()
    for (const connection of this.#connections) {
      connection.destroy()
    }
    for (const socket of this.#blackholed) socket.destroy()
    if (this.#admission === 'refuse') return
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

  /** @internal Tells the waiters of nextSent() that `sql` was forwarded. */
  forwarded(sql: string): void {
    for (let i = this.#sentWaiters.length - 1; i >= 0; i--) {
      const waiter = this.#sentWaiters[i]!
      if (waiter.match(sql)) {
        this.#sentWaiters.splice(i, 1)
        waiter.resolve(sql)
      }
    }
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
    client.on('error', () => undefined)
    switch (this.#admission) {
      case 'refuse':
        client.destroy()
        return
      case 'reset':
        client.resetAndDestroy()
        return
      case 'blackhole':
        this.#blackholed.add(client)
        client.on('close', () => this.#blackholed.delete(client))
        return
      case 'draining':
        answerStartupWithError(client, 'server is not accepting clients, try another node')
        return
      case 'accept': {
        const upstream = connect(this.#target.port, this.#target.host)
        const connection = new ProxyConnection(this, client, upstream)
        this.#connections.add(connection)
        if (this.#draining !== undefined) connection.endWhenIdle()
      }
    }
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
  /** A held message: nothing from the client is forwarded until release(). */
  #held: { readonly message: Buffer; readonly sql: string } | undefined
  readonly #whenClosed: Promise<void>
  #markClosed!: () => void
  /** Server-to-client framing, to see ReadyForQuery: bytes of an incomplete message. */
  #fromServerPending: Buffer = Buffer.alloc(0)
  /** The client sent an SSLRequest: the server's first reply is one byte, 'N' or 'S'. */
  #sslReplyPending = false
  /** Client messages that each get a ReadyForQuery ('Q' and Sync 'S') not yet answered. */
  #outstanding = 0
  /** The status byte of the last ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' failed one. */
  #status: string | undefined
  #endWhenIdle = false
  /** Set by cutClient(): the client socket is gone, the server side is kept for a held statement. */
  #clientCut = false
  /** The statements forwarded so far. */
  readonly sent: string[] = []

  constructor(proxy: TcpProxy, client: Socket, upstream: Socket) {
    this.#proxy = proxy
    this.#client = client
    this.#upstream = upstream
    this.#whenClosed = new Promise((resolve) => (this.#markClosed = resolve))
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    client.on('data', (chunk: Buffer) => this.#fromClient(chunk))
    upstream.on('data', (chunk: Buffer) => this.#fromServer(chunk))
    upstream.on('error', () => this.destroy())
    upstream.on('close', () => this.destroy())
    client.on('error', () => this.#clientGone())
    client.on('close', () => this.#clientGone())
  }

  #clientGone(): void {
    // After cutClient() the server side stays open for the held statement.
    if (!this.#clientCut) this.destroy()
  }

  destroy(): void {
    if (this.#closed) {
      return
    }
    this.#closed = true
    this.#proxy.forget(this)
    this.#client.destroy()
    this.#upstream.destroy()
    this.#markClosed()
  }

  /** A handle on this connection for a test. */
  session(sql: string): ProxiedSession {
    return Object.freeze({
      sql,
      serverSidePort: this.#upstream.localPort!,
      closed: this.#whenClosed,
      cut: () => {
        if (!this.#closed) {
          this.#proxy.recordCut(this)
          this.destroy()
        }
      },
      release: () => this.#release(),
      cutClient: () => {
        this.#clientCut = true
        this.#client.destroy()
      },
    })
  }

  /** Ends the session with 57P01 "server is shutting down" once it is idle (now, if it is). */
  endWhenIdle(): void {
    this.#endWhenIdle = true
    this.#endIfIdle()
  }

  #endIfIdle(): void {
    if (!this.#endWhenIdle || this.#closed || this.#held !== undefined) return
    if (this.#status === 'I' && this.#outstanding === 0 && this.#pending.length === 0) {
      this.#closed = true
      this.#proxy.forget(this)
      this.#upstream.destroy()
      this.#client.end(errorResponse('server is shutting down'))
      this.#client.once('close', () => this.#markClosed())
      setTimeout(() => this.#client.destroy(), 1000).unref()
    }
  }

  #release(): void {
    const held = this.#held
    if (held === undefined || this.#closed) {
      return
    }
    this.#held = undefined
    this.#forward(held.message, held.sql)
    this.#drain()
    if (this.#clientCut) {
      // Nobody reads the reply: close the server side once it has answered (the server then
      // finishes the statement, e.g. commits, and sees its client go).
      this.#upstream.once('data', () => this.destroy())
    }
  }

  #cut(rule: ActiveRule, sql: string): void {
    this.#proxy.recordCut(this)
    this.destroy()
    rule.fired(sql, this.session(sql))
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
    if (this.#clientCut) return
    this.#client.write(chunk)
    this.#track(chunk)
  }

  /** Follows the server's messages for ReadyForQuery ('Z', its status byte). */
  #track(chunk: Buffer): void {
    let buffer = this.#fromServerPending.length === 0 ? chunk : Buffer.concat([this.#fromServerPending, chunk])
    if (this.#sslReplyPending && buffer.length > 0) {
      this.#sslReplyPending = false
      buffer = buffer.subarray(1)
    }
    while (buffer.length >= 5) {
      const total = buffer.readInt32BE(1) + 1
      if (buffer.length < total) break
      if (buffer[0] === 0x5a /* Z */) {
        this.#status = String.fromCharCode(buffer[5]!)
        this.#outstanding = Math.max(0, this.#outstanding - 1)
      }
      buffer = buffer.subarray(total)
    }
    this.#fromServerPending = Buffer.from(buffer)
    this.#endIfIdle()
  }

  #fromClient(chunk: Buffer): void {
    if (this.#closed) {
      return
    }
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    this.#drain()
  }

  #drain(): void {
    while (!this.#closed && this.#held === undefined) {
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
      if (rule !== undefined && rule.when === 'hold') {
        this.#held = { message, sql: sql! }
        rule.fired(sql!, this.session(sql!))
        return
      }
      if (rule !== undefined) {
        this.#cutOnReply = { rule, sql: sql! }
      }
      this.#forward(message, sql)
    }
  }

  #forward(message: Buffer, sql: string | undefined): void {
    if (!this.#startup && (message[0] === 0x51 /* Q */ || message[0] === 0x53) /* S */) this.#outstanding++
    this.#upstream.write(message)
    if (sql !== undefined) {
      this.sent.push(sql)
      this.#proxy.forwarded(sql)
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
      } else {
        this.#sslReplyPending = true
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

/** A FATAL 57P01 ErrorResponse ('E', then S, V, C, M fields), as CockroachDB's pgwire server sends. */
function errorResponse(message: string): Buffer {
  const fields = Buffer.concat([
    ...[
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', '57P01'],
      ['M', message],
    ].map(([type, value]) => Buffer.concat([Buffer.from(type!, 'ascii'), Buffer.from(value!, 'utf8'), Buffer.from([0])])),
    Buffer.from([0]),
  ])
  const header = Buffer.alloc(5)
  header.write('E', 0, 'ascii')
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
}

/** Reads the startup packet (answering an SSLRequest with 'N'), then answers with a FATAL 57P01. */
function answerStartupWithError(client: Socket, message: string): void {
  let pending = Buffer.alloc(0)
  client.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= 8) {
      const length = pending.readInt32BE(0)
      if (pending.length < length) return
      const code = pending.readInt32BE(4)
      pending = pending.subarray(length)
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        client.write('N')
        continue
      }
      client.end(errorResponse(message))
      return
    }
  })
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
