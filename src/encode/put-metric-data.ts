/**
 * Histogram → MetricDatum(s).
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
import { bucketBounds, valueLength, type Histogram } from '../store/histogram.js'
import { datumBytesWith, kDatumBytes } from './batcher.js'
import type { StandardUnit } from '../limits.js'
import { kMaxMagnitude, kMaxValuesPerDatum, kMinMagnitude } from '../limits.js'
import type { Dimension, MetricDatum } from './datum.js'

/** What the encoder needs to know about a series. */
export interface SeriesDescriptor {
  metric: string
  unit: StandardUnit
  dimensions: readonly Dimension[]
}

/** Told of a datum the encoder would not send (a number CloudWatch refuses), with what was wrong. */
export type OnUnpublishable = (d: MetricDatum, problem: string) => void

/**
 * Encodes one aggregate into datums; returns [] for an empty aggregate. The last guard before
 * the wire: a datum holding a number CloudWatch refuses (not finite, a magnitude beyond 2^360
 * or non-zero below 2^-360) is never returned; `onUnpublishable` is told of it. The checks on
 * ingest keep every minute within range, so this drops nothing unless they were bypassed.
 */
export function encodeHistogram (s: SeriesDescriptor, periodStartMs: number, agg: Histogram, maxValues = kMaxValuesPerDatum,
  onUnpublishable?: OnUnpublishable): MetricDatum[] {
  const out = encodeAll(s, periodStartMs, agg, maxValues)
  for (let i = 0; i < out.length; i++) {
    const problem = unpublishable(out[i])
    if (problem === undefined) continue
    onUnpublishable?.(out[i], problem)
    out.splice(i--, 1)
  }
  return out
}

/** Magnitudes CloudWatch takes: 0, or 2^-360 to 2^360 (NaN and ±Infinity fail). */
function publishable (v: number): boolean {
  const a = v < 0 ? -v : v
  return a <= kMaxMagnitude && (a >= kMinMagnitude || a === 0)
}

/**
 * What in `d` CloudWatch would refuse, or undefined. A Sum that cancels to a non-zero
 * magnitude below 2^-360 between samples of both signs is published as 0: it is within 2^-360
 * of the exact one, and 0 lies between such a datum's Minimum and Maximum.
 */
function unpublishable (d: MetricDatum): string | undefined {
  const sv = d.StatisticValues
  if (sv.Sum !== 0 && Math.abs(sv.Sum) < kMinMagnitude && sv.Minimum <= 0 && sv.Maximum >= 0) sv.Sum = 0
  if (!publishable(sv.SampleCount) || !(sv.SampleCount > 0)) return `SampleCount ${sv.SampleCount}`
  if (!publishable(sv.Sum)) return `Sum ${sv.Sum}`
  if (!publishable(sv.Minimum)) return `Minimum ${sv.Minimum}`
  if (!publishable(sv.Maximum)) return `Maximum ${sv.Maximum}`
  for (let i = 0; i < d.Values.length; i++) if (!publishable(d.Values[i])) return `Values entry ${d.Values[i]}`
  for (let i = 0; i < d.Counts.length; i++) if (!publishable(d.Counts[i])) return `Counts entry ${d.Counts[i]}`
  return undefined
}

function encodeAll (s: SeriesDescriptor, periodStartMs: number, agg: Histogram, maxValues: number): MetricDatum[] {
  if (!(agg.count > 0)) return []
  const dist = agg.distribution()
  const timestamp = new Date(periodStartMs)
  const total = agg.total
  const n = dist.values.length
  const p = agg.precisionBits
  if (n <= maxValues) {
    // The common case: the arrays become the datum's own Values/Counts, clamped in place.
    const values = dist.values
    for (let i = 0; i < n; i++) values[i] = clamp(values[i], agg.min, agg.max) + 0
    return [sized(datum(s, timestamp, values, dist.counts, agg.count, total, agg.min, agg.max), dist.keys, 0, p)]
  }
  const shares = Math.ceil(n / maxValues)
  const per = Math.ceil(n / shares)
  const parts: Array<{ values: number[], counts: number[], from: number, count: number, min: number, max: number, sum: number }> = []
  for (let i = 0; i < n; i += per) {
    const k = Math.min(n, i + per)
    const first = i === 0
    const last = k >= n
    const min = first ? agg.min : Math.max(agg.min, bucketBounds(dist.keys[i], p)[0])
    const max = last ? agg.max : Math.min(agg.max, bucketBounds(dist.keys[k - 1], p)[1])
    const values = dist.values.slice(i, k)
    const counts = dist.counts.slice(i, k)
    let count = 0
    let sum = 0
    for (let j = 0; j < values.length; j++) {
      values[j] = clamp(values[j], min, max) + 0
      count += counts[j]
      sum += counts[j] * values[j]
    }
    parts.push({ values, counts, from: i, count, min, max, sum: clamp(sum, count * min, count * max) })
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
  return parts.map(x => sized(datum(s, timestamp, x.values, x.counts, x.count, x.sum, x.min, x.max), dist.keys, x.from, p))
}

/**
 * Attaches the datum's JSON size, computed with the bucket-value length table (the values
 * not clamped to Minimum/Maximum are exactly the buckets' values).
 */
function sized (d: MetricDatum, keys: number[], from: number, p: number): MetricDatum {
  const reps = d.Values
  ;(d as MetricDatum & { [kDatumBytes]?: number })[kDatumBytes] = datumBytesWith(d, (i) => {
    const v = reps[i]
    const k = keys[from + i]
    return (v === d.StatisticValues.Minimum || v === d.StatisticValues.Maximum) ? -1 : valueLength(k, p)
  })
  return d
}

function slack (p: { count: number, min: number, max: number, sum: number }, residual: number): number {
  return residual > 0 ? p.count * p.max - p.sum : p.sum - p.count * p.min
}

function clamp (v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

function datum (s: SeriesDescriptor, timestamp: Date, values: number[], counts: number[], count: number, sum: number, min: number, max: number): MetricDatum {
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
