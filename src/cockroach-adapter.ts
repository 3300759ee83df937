import { PostgresAdapter } from 'kysely'
import type { MigrationLeaseOptions } from './migration-lease-options.js'

export class CockroachAdapter extends PostgresAdapter {
  readonly options: MigrationLeaseOptions
  constructor(options: MigrationLeaseOptions = {}) {
    super()
    this.options = Object.freeze({ ...options })
  }
  override get supportsTransactionalDdl(): boolean {
    return false
  }
}
