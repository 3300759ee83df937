import type { ResolvedMigrationLeaseOptions } from './migration-lease-options.js'
import type { LeaseSqlRunner, MigrationLockTable } from './migration-lock-table.js'

/**
 * One migrator's hold on the migration lock: renews the lease every `renewIntervalMs` on the
 * renewal session until stopped, and remembers whether the lease was lost on the way.
 *
 * A failed renewal (network error, 40001) is not a lost lease: the next one may get through, and
 * release checks ownership again. A renewal that finds another owner is: renewing stops, and
 * release reports it.
 *
 * @internal
 */
export class MigrationLease {
  readonly table: MigrationLockTable
  readonly owner: string
  /** Where renewals run: a separate session when one could be built, else the migration connection. */
  readonly renewer: LeaseSqlRunner
  readonly #options: ResolvedMigrationLeaseOptions
  #timer: ReturnType<typeof setTimeout> | undefined
  #inFlight: Promise<void> | undefined
  #stopped = false
  #lost = false
  #lastRenewalError: unknown = undefined
  #failedRenewals = 0

  constructor(table: MigrationLockTable, owner: string, renewer: LeaseSqlRunner, options: ResolvedMigrationLeaseOptions) {
    this.table = table
    this.owner = owner
    this.renewer = renewer
    this.#options = options
  }

  /** True once a renewal found that someone else holds (or cleared) the lock row. */
  get lost(): boolean {
    return this.#lost
  }

  /** The error of the latest renewal, if it failed (cleared by a successful one). */
  get lastRenewalError(): unknown {
    return this.#lastRenewalError
  }

  /** How many renewals in a row failed with an error. */
  get failedRenewals(): number {
    return this.#failedRenewals
  }

  start(): void {
    this.#schedule()
  }

  /** Stops renewing and waits for a renewal in flight, so none can land after release. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    await this.#inFlight
  }

  #schedule(): void {
    if (this.#stopped || this.#lost) {
      return
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#inFlight = this.#renew().finally(() => {
        this.#inFlight = undefined
        this.#schedule()
      })
    }, this.#options.renewIntervalMs)
    // The migration itself keeps the process alive; a pending renewal must not, should the
    // caller never release (e.g. a crash in code that skips Kysely's finally).
    this.#timer.unref?.()
  }

  async #renew(): Promise<void> {
    try {
      const held = await this.table.renew(this.renewer, this.owner, this.#options.leaseDurationMs)
      this.#lastRenewalError = undefined
      this.#failedRenewals = 0
      if (!held) {
        this.#lost = true
      }
    } catch (error) {
      this.#lastRenewalError = error
      this.#failedRenewals++
    }
  }
}
