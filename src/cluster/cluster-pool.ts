// The dialect's pool for several nodes, on pg.Client. Not one pg.Pool per node: per-node pools
// would split `max` statically (a node that is down strands its share, a caller waits on one
// node's queue while another has a free client), and pg-pool 3.x has neither per-connection
// lifetime jitter (`maxLifetimeSeconds` is one fixed value, pg-pool/index.js `_afterConnect`) nor
// a public way to close the idle clients of one chosen node, which draining needs.
//
// It keeps pg-pool's semantics where Kysely and CockroachPool rely on them: connect() resolves a
// client with release(destroy?), `max`, idleTimeoutMillis, connectionTimeoutMillis as the bound on
// waiting for a client (message 'timeout exceeded when trying to connect', pg-pool's), end()
// rejecting later connects with pg-pool's 'Cannot use a pool after calling end on the pool', an
// 'error' listener on every client so a server-ended idle session never crashes the process.
import pg from 'pg'
import type { ClientConfig } from 'pg'
import type { ClusterNodeConfig } from './cluster-nodes.js'
import { classifyNodeError, NodeHealth } from './node-health.js'
import type { ClusterEvent, NodeStatus, ResolvedClusterOptions } from './cluster-options.js'
import { currentConnectionScope } from './connection-scope.js'
import type { ConnectionScope } from './connection-scope.js'

/** A pg.Client with pg-pool's `release`. @internal */
export interface ClusterClient extends pg.Client {
  release(destroy?: boolean | Error): void
}

interface Slot {
  readonly client: pg.Client
  readonly node: NodeRecord
  readonly expiresAt: number
  lifetimeTimer: NodeJS.Timeout | undefined
  idleTimer: NodeJS.Timeout | undefined
  error: unknown
  uses: number
  expired: boolean
}

interface NodeRecord {
  readonly key: string
  readonly config: ClientConfig
  readonly health: NodeHealth
  /** Most recently used last. */
  readonly idle: Slot[]
  readonly inUse: Set<Slot>
  connecting: number
  probe: NodeJS.Timeout | undefined
  probing: boolean
}

interface Waiter {
  readonly resolve: (client: ClusterClient) => void
  readonly reject: (error: unknown) => void
  readonly failed: Set<string>
  /** From the caller's ConnectionScope: a node to keep off while another is up, and who to tell. */
  readonly scope: ConnectionScope | undefined
  timer: NodeJS.Timeout | undefined
}

/** Connects in flight per node, so a failover does not stampede the survivors' password hashing. */
const MAX_CONNECTS_PER_NODE = 4
/** Between two rebalance closes, so the surplus moves gradually. */
const REBALANCE_STEP_MS = 100

/**
 * Spreads connections over the nodes of a cluster. @internal
 */
export class ClusterPool {
  readonly #nodes: readonly NodeRecord[]
  readonly #options: ResolvedClusterOptions
  readonly #slots = new WeakMap<pg.Client, Slot>()
  readonly #waiters: Waiter[] = []
  #roundRobin = 0
  #ended = false
  #rebalanceTimer: NodeJS.Timeout | undefined
  /** Connects and probes in flight: end() waits for them, so no client outlives the pool. */
  readonly #opening = new Set<Promise<void>>()
  /** Clients being closed: end() waits for them too. */
  readonly #closing = new Set<Promise<void>>()
  /** end()'s wait for the last busy client to be released and closed. */
  #drained: (() => void) | undefined

  constructor(nodes: readonly ClusterNodeConfig[], clientConfig: ClientConfig, options: ResolvedClusterOptions) {
    this.#options = options
    this.#nodes = nodes.map((node) => ({
      key: node.key,
      config: Object.freeze({
        ...stripUndefined(node.options),
        ...clientConfig,
        connectionTimeoutMillis: options.connectTimeoutFor(node.options),
      }),
      health: new NodeHealth({ baseDelayMs: options.probeBackoffMs.initial, maxDelayMs: options.probeBackoffMs.max }),
      idle: [],
      inUse: new Set(),
      connecting: 0,
      probe: undefined,
      probing: false,
    }))
  }

  /** pg's Client class: Kysely 0.29 and CockroachPool build control clients from it and `options`. */
  get Client(): typeof pg.Client {
    return pg.Client
  }

  /** The client options of an up node (the first one if none is up). */
  get options(): ClientConfig {
    return (this.#nodes.find((node) => node.health.state === 'up') ?? (this.#nodes[0] as NodeRecord)).config
  }

  get totalCount(): number {
    return this.#nodes.reduce((sum, node) => sum + node.idle.length + node.inUse.size, 0)
  }

  get idleCount(): number {
    return this.#nodes.reduce((sum, node) => sum + node.idle.length, 0)
  }

  get waitingCount(): number {
    return this.#waiters.length
  }

  nodeStatus(): readonly NodeStatus[] {
    return Object.freeze(
      this.#nodes.map((node) =>
        Object.freeze({
          node: node.key,
          state: node.health.state,
          total: node.idle.length + node.inUse.size,
          idle: node.idle.length,
          inUse: node.inUse.size,
          lastError: node.health.lastError,
          nextProbeAt: node.health.nextProbeAt,
        }),
      ),
    )
  }

  connect(): Promise<ClusterClient> {
    if (this.#ended) {
      return Promise.reject(new Error('Cannot use a pool after calling end on the pool'))
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, failed: new Set(), scope: currentConnectionScope(), timer: undefined }
      const waitMs = this.#options.acquireTimeoutMs
      if (waitMs > 0) {
        waiter.timer = setTimeout(() => {
          this.#removeWaiter(waiter)
          reject(new Error('timeout exceeded when trying to connect'))
        }, waitMs)
      }
      this.#waiters.push(waiter)
      this.#pump()
    })
  }

  async end(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    clearTimeout(this.#rebalanceTimer)
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.reject(new Error('Cannot use a pool after calling end on the pool'))
    }
    for (const node of this.#nodes) {
      clearTimeout(node.probe)
      for (const slot of node.idle.splice(0)) void this.#close(slot)
    }
    await Promise.all(this.#opening)
    // Busy clients are closed when released, and end() resolves once none is left, as pg-pool's
    // does (pg-pool index.js `_pulseQueue`: while `this.ending`, `_endCallback()` runs only once
    // `this._clients.length` is 0).
    await new Promise<void>((resolve) => {
      this.#drained = resolve
      this.#checkDrained()
    })
  }

  #checkDrained(): void {
    if (this.#drained === undefined || this.#closing.size > 0 || this.#opening.size > 0) return
    if (this.#nodes.some((node) => node.inUse.size > 0 || node.idle.length > 0)) return
    const resolve = this.#drained
    this.#drained = undefined
    resolve()
  }

  // ---- handing out --------------------------------------------------------------------------

  #pump(): void {
    // Idle clients first, in waiter order (a waiter that avoids a node skips its clients).
    for (let i = 0; i < this.#waiters.length;) {
      const waiter = this.#waiters[i] as Waiter
      const avoided = this.#avoidedBy(waiter)
      const slot = this.#takeIdle(avoided)
      if (slot === undefined) {
        // Nothing idle on any up node: no later waiter finds anything either.
        if (avoided === undefined) break
        i++
        continue
      }
      this.#waiters.splice(i, 1)
      this.#handOut(slot, waiter)
    }
    if (this.#waiters.length === 0) return
    while (this.#openOne()) {
      // One connect per waiter not yet served by a connect in flight.
    }
    this.#makeRoomElsewhere()
  }

  /**
   * The node `waiter` asked to keep off (ConnectionScope.avoidNode: withRetry's fence, away from
   * the node whose COMMIT was lost), as long as another node is up; otherwise none, and the waiter
   * takes that node like any other.
   */
  #avoidedBy(waiter: Waiter): NodeRecord | undefined {
    const key = waiter.scope?.avoidNode
    if (key === undefined) return undefined
    const avoided = this.#nodes.find((node) => node.key === key)
    if (avoided === undefined) return undefined
    return this.#nodes.some((node) => node !== avoided && node.health.state === 'up') ? avoided : undefined
  }

  /** The first waiter that takes a client of `node`. */
  #waiterFor(node: NodeRecord): Waiter | undefined {
    const index = this.#waiters.findIndex((waiter) => this.#avoidedBy(waiter) !== node)
    return index === -1 ? undefined : (this.#waiters.splice(index, 1)[0] as Waiter)
  }

  /**
   * The pool is full, nothing is connecting, and the waiters left all avoid a node that holds idle
   * clients: close one of those, so that a connect to another node can start.
   */
  #makeRoomElsewhere(): void {
    if (this.totalCount < this.#options.max || this.#nodes.some((node) => node.connecting > 0)) return
    for (const waiter of this.#waiters) {
      const avoided = this.#avoidedBy(waiter)
      if (avoided !== undefined && avoided.idle.length > 0) {
        this.#closeIdle(avoided.idle[0] as Slot, 'rebalance')
        this.#openOne()
        return
      }
    }
  }

  /** An idle client of the next up node (not `avoid`) in round-robin order, most recently used first. */
  #takeIdle(avoid?: NodeRecord): Slot | undefined {
    const count = this.#nodes.length
    for (let i = 0; i < count; i++) {
      const node = this.#nodes[(this.#roundRobin + i) % count] as NodeRecord
      if (node.health.state !== 'up' || node.idle.length === 0 || node === avoid) continue
      this.#roundRobin = (this.#roundRobin + i + 1) % count
      const slot = node.idle.pop() as Slot
      clearTimeout(slot.idleTimer)
      return slot
    }
    return undefined
  }

  #handOut(slot: Slot, waiter: Waiter): void {
    clearTimeout(waiter.timer)
    slot.node.inUse.add(slot)
    slot.uses++
    const client = slot.client as ClusterClient
    waiter.scope?.onAcquire?.(slot.node.key)
    waiter.resolve(client)
  }

  /**
   * Starts one connect, if there is room, for the waiters. Returns false when nothing more can be
   * started now (the waiters then wait for a release or a connect to finish).
   */
  #openOne(): boolean {
    const pending = this.#nodes.reduce((sum, node) => sum + node.connecting, 0)
    if (this.totalCount + pending >= this.#options.max) return false
    // Demand beyond the connects in flight: each of those will serve one waiter.
    if (pending >= this.#waiters.length) return false
    // For the first waiter no connect in flight is counted for (FIFO, as connects are handed out).
    const node = this.#chooseNode(this.#avoidedBy(this.#waiters[pending] as Waiter))
    if (node === undefined) return false
    void this.#open(node)
    return true
  }

  /**
   * The up node with the fewest connections (ties in round-robin order). Fewest-first rather than
   * plain round robin: after a node returns, round robin would give it only 1/N of the new
   * connections, so the pool would rebalance only after a full maxLifetime; fewest-first gives it
   * new connections until it has caught up, and is round robin once balanced.
   * Never a node known to be down while another is up, nor `avoid` (see #avoidedBy). With no up
   * node, the down or draining nodes the oldest waiter has not yet tried, earliest probe first.
   */
  #chooseNode(avoid: NodeRecord | undefined): NodeRecord | undefined {
    const load = (node: NodeRecord) => node.idle.length + node.inUse.size + node.connecting
    const ordered = this.#nodes.map((_, i) => this.#nodes[(this.#roundRobin + i) % this.#nodes.length] as NodeRecord)
    const up = ordered.filter((node) => node.health.state === 'up' && node !== avoid)
    if (up.length > 0) {
      const open = up.filter((node) => node.connecting < MAX_CONNECTS_PER_NODE)
      return open.length === 0 ? undefined : open.reduce((best, node) => (load(node) < load(best) ? node : best))
    }
    if (this.#nodes.some((node) => node.connecting > 0)) return undefined
    const tried = (this.#waiters[0] as Waiter).failed
    return ordered.filter((node) => !tried.has(node.key)).sort((a, b) => (a.health.nextProbeAt ?? 0) - (b.health.nextProbeAt ?? 0))[0]
  }

  async #open(node: NodeRecord): Promise<void> {
    await this.#tracked(this.#openOn(node))
  }

  /** Awaits `work`, counted in #opening meanwhile, so that end() waits for connects and probes in flight. */
  async #tracked(work: Promise<void>): Promise<void> {
    this.#opening.add(work)
    try {
      await work
    } finally {
      this.#opening.delete(work)
    }
  }

  async #openOn(node: NodeRecord): Promise<void> {
    const client = newClient(node)
    let error: unknown
    try {
      await client.connect()
    } catch (caught) {
      error = caught
    } finally {
      node.connecting--
    }
    if (error !== undefined) {
      this.#connectFailed(node, error)
      return
    }
    if (this.#ended) {
      await client.end().catch(() => undefined)
      return
    }
    if (node.health.succeed()) this.#nodeUp(node)
    const slot = this.#track(node, client)
    this.#emit({ type: 'connectionOpened', node: node.key })
    const waiter = node.health.state === 'up' ? this.#waiterFor(node) : undefined
    if (waiter !== undefined) this.#handOut(slot, waiter)
    else this.#makeIdle(slot)
    this.#pump()
  }

  #connectFailed(node: NodeRecord, error: unknown): void {
    const verdict = classifyNodeError(error)
    if (verdict === 'refused') {
      // Every node would answer the same (a wrong password, an unknown database): no failover.
      const waiter = this.#waiters.shift()
      if (waiter !== undefined) {
        clearTimeout(waiter.timer)
        waiter.reject(error)
      }
      this.#pump()
      return
    }
    this.#mark(node, verdict, error)
    for (const waiter of [...this.#waiters]) {
      waiter.failed.add(node.key)
      if (waiter.failed.size >= this.#nodes.length && !this.#nodes.some((n) => n.health.state === 'up')) {
        // Every node failed while this caller waited: it gets the last error (a connection error,
        // which withRetry retries before COMMIT).
        this.#removeWaiter(waiter)
        clearTimeout(waiter.timer)
        waiter.reject(error)
      }
    }
    this.#pump()
  }

  #removeWaiter(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter)
    if (index !== -1) this.#waiters.splice(index, 1)
  }

  // ---- clients ------------------------------------------------------------------------------

  #track(node: NodeRecord, client: pg.Client): Slot {
    const { maxLifetimeMs, lifetimeJitterMs } = this.#options
    // The jitter only subtracts, so no connection outlives maxLifetimeMs: users set CockroachDB's
    // server.shutdown.connections.timeout above it (docs v24.3 node-shutdown.md).
    const lifetime = maxLifetimeMs === 0 ? Infinity : maxLifetimeMs - this.#options.random() * lifetimeJitterMs
    const slot: Slot = {
      client,
      node,
      expiresAt: Date.now() + lifetime,
      lifetimeTimer: undefined,
      idleTimer: undefined,
      error: undefined,
      uses: 0,
      expired: false,
    }
    if (lifetime !== Infinity) {
      slot.lifetimeTimer = setTimeout(() => this.#expire(slot), lifetime)
      slot.lifetimeTimer.unref()
    }
    this.#slots.set(client, slot)
    // Never without a listener: an unheard 'error' event would crash the process.
    client.on('error', (error) => this.#clientError(slot, error))
    const release = (destroy?: boolean | Error) => this.#release(slot, destroy)
    Object.defineProperty(client, 'release', { value: release, configurable: true, writable: true })
    return slot
  }

  #release(slot: Slot, destroy?: boolean | Error): void {
    const { node } = slot
    if (!node.inUse.delete(slot)) return
    const broken = destroy !== undefined && destroy !== false
    if (broken && slot.error !== undefined) this.#brokenConnection(node, slot.error)
    let reason: Extract<ClusterEvent, { type: 'connectionRecycled' }>['reason'] | undefined
    if (broken) reason = 'broken'
    else if (this.#ended) reason = undefined
    else if (node.health.state !== 'up') reason = 'draining'
    else if (slot.expired) reason = 'maxLifetime'
    else if (this.#options.maxUses > 0 && slot.uses >= this.#options.maxUses) reason = 'maxLifetime'
    if (reason !== undefined || this.#ended) {
      void this.#close(slot, reason)
      this.#pump()
      return
    }
    const waiter = this.#waiterFor(node)
    if (waiter !== undefined) {
      this.#handOut(slot, waiter)
      return
    }
    this.#makeIdle(slot)
    // Waiters left avoid this node: they may need the room (#makeRoomElsewhere).
    if (this.#waiters.length > 0) this.#pump()
  }

  #makeIdle(slot: Slot): void {
    slot.node.idle.push(slot)
    const idleMs = this.#options.idleTimeoutMs
    if (idleMs > 0) {
      slot.idleTimer = setTimeout(() => this.#closeIdle(slot, 'idleTimeout'), idleMs)
      if (this.#options.allowExitOnIdle) slot.idleTimer.unref()
    }
  }

  #closeIdle(slot: Slot, reason: 'idleTimeout' | 'maxLifetime' | 'draining' | 'rebalance' | 'broken'): void {
    const index = slot.node.idle.indexOf(slot)
    if (index === -1) return
    slot.node.idle.splice(index, 1)
    void this.#close(slot, reason)
  }

  #expire(slot: Slot): void {
    slot.expired = true
    this.#closeIdle(slot, 'maxLifetime')
    this.#pump()
  }

  async #close(slot: Slot, reason?: 'idleTimeout' | 'maxLifetime' | 'draining' | 'rebalance' | 'broken'): Promise<void> {
    clearTimeout(slot.idleTimer)
    clearTimeout(slot.lifetimeTimer)
    if (reason !== undefined) this.#emit({ type: 'connectionRecycled', node: slot.node.key, reason })
    const closing = slot.client.end().catch(() => undefined)
    this.#closing.add(closing)
    try {
      await closing
    } finally {
      this.#closing.delete(closing)
      this.#checkDrained()
    }
  }

  /** An error event on a client: idle ones are closed here, busy ones when released. */
  #clientError(slot: Slot, error: unknown): void {
    slot.error ??= error
    const { node } = slot
    if (node.idle.includes(slot)) {
      this.#closeIdle(slot, 'broken')
      this.#brokenConnection(node, error)
    }
  }

  /**
   * A connection of `node` broke. 57P01 (CockroachDB's "server is shutting down" to an idle
   * session, or a terminated backend) means the node is draining: leave it now, before its other
   * connections break. Any other loss could be that one connection (a cut, a load balancer's idle
   * timeout): probe the node at once, and mark it down only if the probe fails.
   */
  #brokenConnection(node: NodeRecord, error: unknown): void {
    if (this.#ended) return
    if (classifyNodeError(error) === 'draining') {
      this.#mark(node, 'draining', error)
    } else if (node.health.state === 'up') {
      this.#probeNow(node)
    }
  }

  // ---- node state ---------------------------------------------------------------------------

  #mark(node: NodeRecord, verdict: 'draining' | 'down', error: unknown): void {
    const changed = node.health.fail(verdict, error, Date.now(), this.#options.random())
    if (changed !== undefined) {
      this.#emit(changed === 'down' ? { type: 'nodeDown', node: node.key, error } : { type: 'nodeDraining', node: node.key, error })
      // Leave the node before its connections break: its idle ones now, busy ones on release.
      for (const slot of [...node.idle]) this.#closeIdle(slot, 'draining')
    }
    this.#scheduleProbe(node)
  }

  #nodeUp(node: NodeRecord): void {
    clearTimeout(node.probe)
    node.probe = undefined
    this.#emit({ type: 'nodeUp', node: node.key })
    this.#scheduleRebalance()
  }

  #scheduleProbe(node: NodeRecord): void {
    if (this.#ended || node.probing) return
    clearTimeout(node.probe)
    const at = node.health.nextProbeAt ?? Date.now()
    node.probe = setTimeout(() => void this.#probe(node), Math.max(0, at - Date.now()))
    node.probe.unref()
  }

  #probeNow(node: NodeRecord): void {
    if (this.#ended || node.probing) return
    clearTimeout(node.probe)
    node.probe = setTimeout(() => void this.#probe(node), 0)
    node.probe.unref()
  }

  /** Connect, `select 1`, end. It counts toward the per-node connect limit, not toward `max`. */
  async #probe(node: NodeRecord): Promise<void> {
    await this.#tracked(this.#probeOnce(node))
  }

  async #probeOnce(node: NodeRecord): Promise<void> {
    node.probe = undefined
    if (this.#ended || node.probing) return
    node.probing = true
    const client = newClient(node)
    let error: unknown
    try {
      await client.connect()
      await answerWithin(client.query('select 1'), node.config.connectionTimeoutMillis ?? 0, node.key)
    } catch (caught) {
      error = caught
    } finally {
      node.connecting--
      node.probing = false
      // With the query still active pg's end() destroys the socket (pg 8.23 lib/client.js end():
      // "a hung query could block end forever — force disconnect"), so a timed-out probe ends now.
      await client.end().catch(() => undefined)
    }
    if (this.#ended) return
    if (error === undefined) {
      if (node.health.succeed()) this.#nodeUp(node)
    } else {
      const verdict = classifyNodeError(error)
      this.#mark(node, verdict === 'refused' ? 'down' : verdict, error)
    }
    this.#pump()
  }

  /**
   * After a node comes back: while the up nodes differ by 2 or more connections, close one idle
   * connection of the fullest node every REBALANCE_STEP_MS; new demand then opens on the emptiest.
   */
  #scheduleRebalance(): void {
    if (!this.#options.rebalance || this.#rebalanceTimer !== undefined || this.#ended) return
    this.#rebalanceTimer = setTimeout(() => {
      this.#rebalanceTimer = undefined
      const up = this.#nodes.filter((node) => node.health.state === 'up')
      if (up.length < 2) return
      const load = (node: NodeRecord) => node.idle.length + node.inUse.size
      const fullest = up.reduce((a, b) => (load(b) > load(a) ? b : a))
      const emptiest = up.reduce((a, b) => (load(b) < load(a) ? b : a))
      if (load(fullest) - load(emptiest) < 2 || fullest.idle.length === 0) return
      this.#closeIdle(fullest.idle[0] as Slot, 'rebalance')
      this.#scheduleRebalance()
    }, REBALANCE_STEP_MS)
    this.#rebalanceTimer.unref()
  }

  #emit(event: ClusterEvent): void {
    const listener = this.#options.onEvent
    if (listener === undefined) return
    try {
      listener(Object.freeze(event))
    } catch (error) {
      process.emitWarning(`CockroachDialect: cluster.onEvent threw on '${event.type}': ${String(error)}`)
    }
  }
}

/**
 * `query`, or an error once `timeoutMs` (the node's connect timeout; 0: none) has passed with no
 * answer: a node that accepts connections but never answers must not keep its probe, and so
 * end(), waiting forever (review of issue 12, finding 5).
 */
async function answerWithin<T>(query: Promise<T>, timeoutMs: number, node: string): Promise<T> {
  if (!(timeoutMs > 0)) return await query
  // The query rejects once the probe's client is ended; nobody needs that rejection then.
  query.catch(() => undefined)
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`CockroachDialect: node ${node} did not answer the health probe's select 1 within ${timeoutMs} ms`)),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([query, timedOut])
  } finally {
    clearTimeout(timer)
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([key, v]) => v !== undefined && key !== 'sslmode')) as Partial<T>
}

/** A client for `node`, counted as connecting (the caller counts it down when the connect ends). */
function newClient(node: NodeRecord): pg.Client {
  node.connecting++
  const client = new pg.Client(node.config)
  // From the start: an 'error' event with no listener would crash the process (a server that
  // ends the session between the connect and #track, or while end() closes it).
  client.on('error', () => undefined)
  return client
}
