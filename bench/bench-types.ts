// The contract between the benchmark runner (scripts/bench.mjs -> bench/run.ts) and the workloads in
// bench/workloads/. Each workload module exports `workload: Workload`.

export interface BenchContext {
  /** URL of the throwaway PostgreSQL server's default database (create your own databases on it). */
  readonly pgUrl: string
  /** `npm run bench -- --quick`: the whole suite must finish in under two minutes. */
  readonly quick: boolean
  log(message: string): void
}

/** A checked target, e.g. "at most 1.10x raw pg". */
export interface TargetCheck {
  readonly description: string
  readonly ratio: number
  readonly limit: number
  /** 'max': ratio must be <= limit; 'min': ratio must be >= limit. */
  readonly kind: 'max' | 'min'
  readonly met: boolean
}

/** One bar of the README chart: a ratio against a named baseline (1.0 = same as the baseline). */
export interface ChartBar {
  readonly label: string
  readonly ratio: number
}

export interface WorkloadResult {
  /** Markdown (tables of medians, spread and ratios) for bench/RESULTS.md. */
  readonly markdown: string
  readonly targets: readonly TargetCheck[]
  readonly chart: readonly ChartBar[]
}

export interface Workload {
  /** Short id used on the command line, e.g. `point-select`. */
  readonly name: string
  readonly title: string
  run(context: BenchContext): Promise<WorkloadResult>
}
