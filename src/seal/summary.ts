/**
 * Per-series summaries of a minute, as the `seal` event, `snapshot()` and the status page
 * show them: the exact statistics, three percentiles and the populated buckets.
 */
import type { SeriesInfo } from '../encode/datum.js'
import type { Histogram } from '../store/histogram.js'

/** One series of a minute: exact statistics, percentiles and the histogram. */
export interface SeriesSummary extends SeriesInfo {
  count: number
  sum: number
  min: number
  max: number
  p50: number
  p90: number
  p99: number
  /** The histogram: [published value, weighted count] per populated bucket, ascending. */
  buckets: Array<[number, number]>
}

/** One minute's series: an open minute (`snapshot()`), or a sealed one (the `seal` event). */
export interface MinuteSummary {
  periodStart: number
  /** A delta of a minute published before (late samples). Always false for an open minute. */
  late: boolean
  series: SeriesSummary[]
}

/** The summary of one series' histogram; percentiles by nearest rank, as CloudWatch computes them. */
export function summarize (s: SeriesInfo, h: Histogram): SeriesSummary {
  const buckets = h.buckets()
  const q = (x: number): number => {
    const rank = Math.max(1, Math.ceil(x * h.count))
    let seen = 0
    for (const b of buckets) { seen += b.count; if (seen >= rank) return Math.min(h.max, Math.max(h.min, b.value)) }
    return h.max
  }
  return {
    namespace: s.namespace, metric: s.metric, unit: s.unit, dimensions: s.dimensions,
    count: h.count, sum: h.total, min: h.min, max: h.max, p50: q(0.5), p90: q(0.9), p99: q(0.99),
    buckets: buckets.map(b => [Math.min(h.max, Math.max(h.min, b.value)), b.count]),
  }
}
