// Draws bench/chart.svg from bench/results.json: one horizontal bar per ratio a workload reported
// against its baseline, grouped by workload, with a line at 1.0 (same as the baseline). Hand-written
// SVG with no dependencies, on an opaque background so it reads in GitHub's light and dark themes.
//
//   node scripts/bench-chart.mjs [results.json] [chart.svg]     (defaults: bench/results.json, bench/chart.svg)
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const PLOT_WIDTH = 400
/** Room right of the plot for the value and its target. */
const VALUE_WIDTH = 190
/** Average advance of a 12px sans-serif character, for sizing the label column without a font engine. */
const CHAR_WIDTH = 6.4
const BAR_HEIGHT = 16
const ROW_HEIGHT = 22
const GROUP_HEADER = 26
const TOP = 96
const FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif"
const MET = '#2da44e'
const MISSED = '#cf222e'
const CONTEXT = '#8c959f'
/** Ratios beyond this are drawn to the edge, with their value printed: one outlier must not flatten the rest. */
const MAX_SCALE = 2

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/**
 * The target a bar shows, if any: bars and targets carry the same median ratio, so a target of the
 * same workload with that exact ratio is the bar's. Bars without one are context (grey).
 */
function targetOf(group, bar) {
  return group.targets.find((t) => t.ratio === bar.ratio)
}

/** Returns the SVG text for a results object as written by bench/run.ts. */
export function renderChart(results) {
  const groups = results.workloads.filter((w) => w.chart.length > 0)
  const ratios = groups.flatMap((g) => g.chart.map((b) => b.ratio)).filter(Number.isFinite)
  const limits = groups.flatMap((g) => g.targets.map((t) => t.limit))
  const top = Math.max(1.25, ...ratios.map((r) => r * 1.08), ...limits.map((l) => l * 1.08))
  const scaleMax = Math.min(MAX_SCALE, Math.ceil(top * 4) / 4)
  const longest = Math.max(...groups.flatMap((g) => g.chart.map((b) => b.label.length)), 20)
  const LABEL_WIDTH = Math.ceil(24 + longest * CHAR_WIDTH)
  const PLOT_LEFT = LABEL_WIDTH + 12
  const WIDTH = Math.max(900, PLOT_LEFT + PLOT_WIDTH + VALUE_WIDTH)
  const x = (ratio) => PLOT_LEFT + (Math.min(Math.max(ratio, 0), scaleMax) / scaleMax) * PLOT_WIDTH
  const rows = groups.reduce((n, g) => n + g.chart.length, 0)
  const plotHeight = groups.length * GROUP_HEADER + rows * ROW_HEIGHT
  const height = TOP + plotHeight + 50

  const parts = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `font-family="${FONT}" font-size="12" role="img" aria-labelledby="title">`,
    `<title id="title">kysely-cockroachdb benchmarks: ratios against baselines</title>`,
    `<rect width="${WIDTH}" height="${height}" rx="6" fill="#ffffff" stroke="#d0d7de"/>`,
    `<text x="16" y="26" font-size="16" font-weight="600" fill="#1f2328">kysely-cockroachdb benchmarks: ratio to baseline</text>`,
  )
  const m = results.machine
  const subtitle =
    `${results.mode === 'quick' ? 'QUICK RUN (not for publishing) · ' : ''}${results.generatedAt.slice(0, 10)} · Node ${m.node} · ` +
    `kysely ${m.kysely} · ${m.postgres.replace(/ \(.*\)$/, '')} on the same machine · ${m.cpu}, ${m.cores} cores`
  parts.push(`<text x="16" y="46" fill="#59636e">${escape(subtitle)}</text>`)
  const legend = [
    [MET, 'target met'],
    [MISSED, 'target missed'],
    [CONTEXT, 'context, no target'],
  ]
  let lx = 16
  for (const [color, text] of legend) {
    parts.push(`<rect x="${lx}" y="58" width="12" height="12" rx="2" fill="${color}"/>`)
    parts.push(`<text x="${lx + 17}" y="68" fill="#1f2328">${escape(text)}</text>`)
    lx += 30 + text.length * 6.5
  }
  parts.push(
    `<text x="${lx + 10}" y="68" fill="#59636e">1.0 = same as the baseline; each label says which way is better; │ marks the target.</text>`,
  )

  // Grid and axis labels.
  const step = scaleMax > 2 ? 0.5 : 0.25
  for (let tick = 0; tick <= scaleMax + 1e-9; tick += step) {
    const tx = x(tick).toFixed(1)
    parts.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${TOP + plotHeight}" stroke="#eaeef2"/>`)
    parts.push(`<text x="${tx}" y="${TOP + plotHeight + 16}" text-anchor="middle" fill="#59636e">${tick.toFixed(2)}</text>`)
  }

  let y = TOP
  groups.forEach((group) => {
    parts.push(`<text x="16" y="${y + 17}" font-weight="600" fill="#1f2328">${escape(group.title)}</text>`)
    y += GROUP_HEADER
    for (const bar of group.chart) {
      const width = Math.max(1, x(bar.ratio) - PLOT_LEFT)
      const clipped = bar.ratio > scaleMax
      const target = targetOf(group, bar)
      const color = target === undefined ? CONTEXT : target.met ? MET : MISSED
      const goal = target === undefined ? '' : `(target ${target.kind === 'max' ? '≤' : '≥'} ${target.limit})`
      parts.push(
        `<text x="${LABEL_WIDTH}" y="${y + 15}" text-anchor="end" fill="#1f2328">${escape(bar.label)}</text>`,
        `<rect x="${PLOT_LEFT}" y="${y + 3}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${color}">` +
          `<title>${escape(`${bar.label}: ${bar.ratio.toFixed(3)}x ${goal}`.trim())}</title></rect>`,
      )
      if (target !== undefined) {
        const tx = x(target.limit).toFixed(1)
        parts.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + BAR_HEIGHT + 5}" stroke="#1f2328" stroke-width="2"/>`)
      }
      const textX = Math.max(PLOT_LEFT + width, target === undefined ? 0 : x(target.limit)) + 6
      parts.push(
        `<text x="${textX.toFixed(1)}" y="${y + 15}" fill="#1f2328">${bar.ratio.toFixed(2)}x${clipped ? ' →' : ''}` +
          `<tspan dx="5" fill="#59636e">${escape(goal)}</tspan></text>`,
      )
      y += ROW_HEIGHT
    }
  })

  const one = x(1).toFixed(1)
  parts.push(
    `<line x1="${one}" y1="${TOP - 10}" x2="${one}" y2="${TOP + plotHeight}" stroke="#cf222e" stroke-width="1.5" stroke-dasharray="5 3"/>`,
    `<text x="${one}" y="${TOP - 14}" text-anchor="middle" fill="#cf222e">1.0</text>`,
    `<text x="16" y="${height - 12}" fill="#59636e">Bars: median of per-round paired ratios. Generated from bench/results.json by scripts/bench-chart.mjs.</text>`,
    '</svg>',
  )
  return parts.join('\n') + '\n'
}

export function writeChart(resultsPath, svgPath) {
  const results = JSON.parse(readFileSync(resultsPath, 'utf8'))
  writeFileSync(svgPath, renderChart(results))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [resultsPath = 'bench/results.json', svgPath = 'bench/chart.svg'] = process.argv.slice(2)
  writeChart(resultsPath, svgPath)
  console.log(`[bench-chart] wrote ${svgPath} from ${resultsPath}`)
}
