// Pure: the health of one node as the cluster pool sees it, and how a connection error moves it.
// No timers, no sockets: the pool passes the clock and the random draw in.
import { getSqlState, isConnectionError, readProperty } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'
import { backoffDelay } from '../util/backoff-delay.js'

/**
 * The state of a node in {@link NodeStatus}:
 *
 * - `'up'`: new connections go to it;
 * - `'draining'`: it refused a connection with 57P01 ("server is not accepting clients, try another
 *   node") or ended an idle one with 57P01 ("server is shutting down"); its idle connections are
 *   closed, its busy ones closed when released, and it is probed with backoff;
 * - `'down'`: connecting to it failed or timed out; probed with backoff.
 *
 * ```ts
 * import type { NodeState } from 'kysely-cockroachdb'
 *
 * const healthy = (state: NodeState) => state === 'up'
 * ```
 */
export type NodeState = 'up' | 'draining' | 'down'

/**
 * What a failed connection attempt or a broken connection says about its node:
 *
 * - `'draining'`: SQLSTATE 57P01 admin_shutdown. CockroachDB answers a new connection to a draining
 *   node with 57P01 "server is not accepting clients, try another node" and ends idle sessions
 *   with 57P01 "server is shutting down" (cockroach pkg/sql/pgwire/server.go, ErrDrainingNewConn
 *   and ErrDrainingExistingConn; docs v24.3 node-shutdown.md, the SQL wait and drain phases);
 * - `'down'`: the socket failed or closed, the connect timed out, or another connection-level error;
 * - `'refused'`: the server answered with an error that every node would give alike (28P01 bad
 *   password, 3D000 unknown database, ...): no failover, the caller gets it.
 *
 * @internal
 */
export type NodeVerdict = 'draining' | 'down' | 'refused'

/** @internal */
export function classifyNodeError(error: unknown): NodeVerdict {
  const state = getSqlState(error)
  const message = readProperty(error, 'message')
  if (state === SqlState.AdminShutdown || (typeof message === 'string' && message.includes('server is not accepting clients'))) {
    return 'draining'
  }
  if (state !== undefined && !isConnectionError(error)) {
    return 'refused'
  }
  // Everything else a connect can fail with is the node or the path to it: ECONNREFUSED, a reset,
  // pg's 'timeout expired' / 'Connection terminated' on a connect timeout, 57P02/57P03, class 08.
  return 'down'
}

/** @internal */
export interface ProbeLimits {
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

/**
 * One node's state machine: up -> down/draining on a failure, probed at growing intervals,
 * back up after a successful probe (or a successful connect).
 *
 * @internal
 */
export class NodeHealth {
  #state: NodeState = 'up'
  #lastError: unknown
  #failures = 0
  #nextProbeAt: number | undefined
  readonly #limits: ProbeLimits

  constructor(limits: ProbeLimits) {
    this.#limits = limits
  }

  get state(): NodeState {
    return this.#state
  }

  get lastError(): unknown {
    return this.#lastError
  }

  get nextProbeAt(): number | undefined {
    return this.#nextProbeAt
  }

  /**
   * Records a failure. Returns the new state if it changed (the pool emits an event then), else
   * undefined. A node that was draining and then fails to connect at all is down.
   */
  fail(verdict: 'draining' | 'down', error: unknown, now: number, random: number): NodeState | undefined {
    const before = this.#state
    const next: NodeState = verdict === 'draining' && before !== 'down' ? 'draining' : verdict === 'down' ? 'down' : before
    this.#state = next
    this.#lastError = error
    // The package's one backoff, with equal jitter: the fixed half keeps a dead node from being
    // probed in a tight loop, the random half spreads the probes of many processes.
    this.#nextProbeAt = now + backoffDelay(this.#failures, { ...this.#limits, jitter: 'equal' }, random)
    this.#failures++
    return next === before ? undefined : next
  }

  /** A connect or a probe succeeded. Returns true if the node was not up before. */
  succeed(): boolean {
    const was = this.#state
    this.#state = 'up'
    this.#lastError = undefined
    this.#failures = 0
    this.#nextProbeAt = undefined
    return was !== 'up'
  }
}
