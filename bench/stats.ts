// Statistics and scheduling shared by the benchmark workloads: interleaved rounds, medians, spread
// and paired ratios, and the Markdown formatting of them.

/** The median, the interquartile range and the extremes of a set of measurements. */
export interface Summary {
  readonly median: number
  readonly p25: number
  readonly p75: number
  readonly min: number
  readonly max: number
  readonly count: number
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) {
    throw new Error('quantile of an empty sample')
  }
  // Linear interpolation between closest ranks (type 7, as R and NumPy default to).
  const position = (sorted.length - 1) * q
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower)
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    count: sorted.length,
  }
}

export function median(values: readonly number[]): number {
  return summarize(values).median
}

/** One contender of a measured comparison. `run` performs one measured repetition and returns its figures. */
export interface Contender<S> {
  readonly name: string
  run(): Promise<S>
}

export interface RoundsOptions {
  /** Unmeasured repetitions of every contender before the measured rounds (JIT, pools, caches). */
  readonly warmup: number
  readonly rounds: number
  readonly log?: (message: string) => void
  readonly label?: string
  /**
   * Force a full garbage collection before every run (needs --expose-gc, which scripts/bench.mjs
   * passes), so one contender's garbage is not collected on the next one's time. Worth it for long
   * runs that leave a lot of garbage (bulk inserts, streams). Not for short CPU-bound runs: forced
   * full collections every few milliseconds are nothing like an application's steady state, and
   * were seen to penalise the compiler that ran right after them.
   */
  readonly collectGarbage?: boolean
}

/**
 * Runs every contender once per round, `rounds` times after `warmup` unmeasured rounds. The order
 * rotates every round (A B C, B C A, C A B, ...), so slow drift on a shared machine (thermal
 * throttling, a noisy neighbour, autovacuum) lands on every contender alike, and so does whatever
 * advantage the first or last slot of a round has. Returns each contender's samples in round order,
 * so `samples[c][r]` of different contenders were taken close together in time and can be paired.
 */
export async function runRounds<S>(contenders: readonly Contender<S>[], options: RoundsOptions): Promise<Map<string, S[]>> {
  const samples = new Map<string, S[]>(contenders.map((c) => [c.name, []]))
  const total = options.warmup + options.rounds
  for (let round = 0; round < total; round++) {
    const measured = round >= options.warmup
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(round + i) % contenders.length]!
      if (options.collectGarbage === true) {
        collectGarbage()
      }
      const sample = await contender.run()
      if (measured) {
        samples.get(contender.name)!.push(sample)
      }
    }
    if (options.log && measured) {
      options.log(`${options.label ?? 'round'} ${round - options.warmup + 1}/${options.rounds} done`)
    }
  }
  return samples
}

/**
 * The ratio of a contender to its baseline, computed per round (the two were measured back to back)
 * and summarised over the rounds. Pairing cancels drift between rounds that comparing two medians
 * taken over the whole run would not.
 */
export function pairedRatio(contender: readonly number[], baseline: readonly number[]): Summary {
  if (contender.length !== baseline.length || contender.length === 0) {
    throw new Error(`pairedRatio: ${contender.length} contender samples vs ${baseline.length} baseline samples`)
  }
  return summarize(contender.map((value, i) => value / baseline[i]!))
}

/** Number formatting for the tables: three significant digits, thousands separated. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) {
    return String(value)
  }
  const magnitude = Math.abs(value)
  if (magnitude >= 10 ** digits) {
    return Math.round(value).toLocaleString('en-US')
  }
  return Number(value.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 })
}

export function formatRatio(value: number): string {
  return `${value.toFixed(3)}x`
}

/** "median (p25-p75)" for a summary, in the given unit. */
export function formatSummary(summary: Summary, unit = '', scale = 1): string {
  const f = (v: number) => formatNumber(v * scale)
  return `${f(summary.median)}${unit} (${f(summary.p25)}-${f(summary.p75)})`
}

export function formatRatioSummary(summary: Summary): string {
  return `**${formatRatio(summary.median)}** (${summary.p25.toFixed(3)}-${summary.p75.toFixed(3)})`
}

/** A Markdown table; cells are used as they are. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/** Wall time and this process's CPU time (user + system) of one measured run, in milliseconds. */
export interface Timing {
  readonly ms: number
  readonly cpuMs: number
}

/** Starts a stopwatch for wall and CPU time; call the returned function to read both. */
export function startTimer(): () => Timing {
  const wall = nowMs()
  const cpu = process.cpuUsage()
  return () => {
    const ms = nowMs() - wall
    const { user, system } = process.cpuUsage(cpu)
    return { ms, cpuMs: (user + system) / 1000 }
  }
}

/** A full garbage collection, if the process runs with --expose-gc. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (typeof gc === 'function') {
    gc()
  }
}

/** Nanosecond wall-clock time in milliseconds (monotonic). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
