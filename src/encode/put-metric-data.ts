/**
 * Aggregate → MetricDatum(s).
 *
 * A (period, series) aggregate with at most `maxValues` populated buckets becomes one datum:
 * exact StatisticValues plus Values/Counts. With more buckets it is split into shares of
 * consecutive buckets, one datum each, all with the same name, dimensions and timestamp.
 * CloudWatch merges such datums (adds SampleCount and Sum, takes min of Minimum and max of
 * Maximum, concatenates the distributions), so what a dashboard reads stays exact:
 *  - SampleCount of each share is exact (the bucket counts);
 *  - the first share carries the exact Minimum, the last the exact Maximum; the bounds between
 *    shares are bucket edges, which lie between the samples of the two shares;
 *  - share Sums add up to the exact Sum: each share gets Σ count × value of its buckets,
 *    kept inside [count × Minimum, count × Maximum], and the rounding residual is spread
 *    over the shares' slack.
 * Every published value lies inside its share's [Minimum, Maximum].
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
 */
import type { Aggregate, Bucket } from '../store/aggregate.js'
import type { Dimension } from '../dimensions/validate.js'
import type { StandardUnit } from '../limits.js'
import { kMaxValuesPerDatum } from '../limits.js'
import type { MetricDatum } from './datum.js'

/** What the encoder needs to know about a series. */
export interface SeriesDescriptor {
  metric: string
  unit: StandardUnit
  dimensions: readonly Dimension[]
}

/** Encodes one aggregate into datums; returns [] for an empty aggregate. */
export function encodeAggregate (s: SeriesDescriptor, periodStartMs: number, agg: Aggregate, maxValues = kMaxValuesPerDatum): MetricDatum[] {
  if (!(agg.count > 0)) return []
  const buckets = agg.buckets()
  const timestamp = new Date(periodStartMs)
  const total = agg.total
  if (buckets.length <= maxValues) {
    return [datum(s, timestamp, buckets, agg.count, total, agg.min, agg.max)]
  }
  const shares = Math.ceil(buckets.length / maxValues)
  const per = Math.ceil(buckets.length / shares)
  const parts: Array<{ b: Bucket[], count: number, min: number, max: number, sum: number }> = []
  for (let i = 0; i < buckets.length; i += per) {
    const b = buckets.slice(i, i + per)
    const first = i === 0
    const last = i + per >= buckets.length
    const min = first ? agg.min : Math.max(agg.min, b[0].lower)
    const max = last ? agg.max : Math.min(agg.max, b[b.length - 1].upper)
    let count = 0
    let sum = 0
    for (const x of b) { count += x.count; sum += x.count * clamp(x.value, min, max) }
    parts.push({ b, count, min, max, sum: clamp(sum, count * min, count * max) })
  }
  // Spread the residual over the shares' slack, largest slack first, so the shares add
  // up to the exact total and each stays within [count·min, count·max].
  let residual = total - parts.reduce((a, p) => a + p.sum, 0)
  const order = parts.map((_, i) => i).sort((x, y) => slack(parts[y], residual) - slack(parts[x], residual))
  for (const i of order) {
    if (residual === 0) break
    const p = parts[i]
    const room = slack(p, residual)
    const d = residual > 0 ? Math.min(residual, room) : -Math.min(-residual, room)
    p.sum += d
    residual -= d
  }
  // Whatever floating-point rounding is left goes to the share with the most room.
  if (residual !== 0) parts[order[0]].sum += residual
  return parts.map(p => datum(s, timestamp, p.b, p.count, p.sum, p.min, p.max))
}

function slack (p: { count: number, min: number, max: number, sum: number }, residual: number): number {
  return residual > 0 ? p.count * p.max - p.sum : p.sum - p.count * p.min
}

function clamp (v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

function datum (s: SeriesDescriptor, timestamp: Date, b: Bucket[], count: number, sum: number, min: number, max: number): MetricDatum {
  const values = new Array<number>(b.length)
  const counts = new Array<number>(b.length)
  for (let i = 0; i < b.length; i++) { values[i] = clamp(b[i].value, min, max) + 0; counts[i] = b[i].count }
  return {
    MetricName: s.metric,
    Dimensions: s.dimensions as Dimension[],
    Timestamp: timestamp,
    Unit: s.unit,
    StorageResolution: 60,
    // `+ 0` turns -0 into 0: the order samples arrived in must not show in the output.
    StatisticValues: { SampleCount: count, Sum: sum + 0, Minimum: min + 0, Maximum: max + 0 },
    Values: values,
    Counts: counts,
  }
}
