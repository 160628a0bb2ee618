/**
 * Reference model for end-to-end checks: the raw samples a test recorded (exact statistics
 * and exact percentiles), and the datums a service received merged as CloudWatch merges them
 * (datums with the same namespace, name, dimensions, unit and timestamp: SampleCount and Sum
 * add up, Minimum/Maximum are the extremes, the Values/Counts distributions are concatenated;
 * percentiles are nearest rank over the merged distribution).
 */
import type { MetricDatum } from '@aws-sdk/client-cloudwatch'

/** The project's seeded PRNG, under the name the tests use. */
export { seededRandom as mulberry32 } from '../../src/core/seeded-random.js'

/** A standard normal deviate (Box-Muller) from a uniform source. */
export function gaussian (rand: () => number): number {
  let u = 0
  while (u === 0) u = rand()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand())
}

/** The key CloudWatch merges datums by. Dimensions are compared as a set (sorted by name). */
export function seriesKey (namespace: string, metric: string, dims: ReadonlyArray<{ Name?: string, Value?: string }> | Readonly<Record<string, string>> | undefined,
  unit: string, timestampMs: number): string {
  let pairs: Array<[string, string]>
  if (dims === undefined) pairs = []
  else if (Array.isArray(dims)) pairs = (dims as Array<{ Name?: string, Value?: string }>).map(d => [String(d.Name), String(d.Value)])
  else pairs = Object.entries(dims as Record<string, string>)
  pairs.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  return JSON.stringify([namespace, metric, pairs, unit, timestampMs])
}

/** Neumaier's compensated sum: the reference Sum of the raw samples. */
export class ExactSum {
  #s = 0
  #c = 0
  add (x: number): void {
    const t = this.#s + x
    if (Math.abs(this.#s) >= Math.abs(x)) this.#c += (this.#s - t) + x
    else this.#c += (x - t) + this.#s
    this.#s = t
  }

  get value (): number { return this.#s + this.#c }
}

/** The raw samples of one (series, minute), with weights. */
export class RawSeries {
  readonly values: number[] = []
  readonly weights: number[] = []
  #sum = new ExactSum()
  count = 0
  min = Infinity
  max = -Infinity
  add (v: number, w = 1): void {
    this.values.push(v)
    this.weights.push(w)
    this.#sum.add(v * w)
    this.count += w
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
  }

  get sum (): number { return this.#sum.value }

  /** Exact percentile by nearest rank over the weighted raw samples. */
  percentile (q: number): number {
    const idx = this.values.map((_, i) => i).sort((a, b) => this.values[a] - this.values[b])
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (const i of idx) {
      seen += this.weights[i]
      if (seen >= rank) return this.values[i]
    }
    return this.max
  }
}

/** What a dashboard reads for one merged (series, minute). */
export interface Merged {
  datums: number
  count: number
  sum: number
  min: number
  max: number
  /** value → total count over every merged datum. */
  dist: Map<number, number>
}

/**
 * Merges datums as CloudWatch does. `namespaceOf` gives each datum's namespace (the
 * request's). Datums must carry StatisticValues (the exact stats) and may carry Values/Counts.
 */
export function mergeLikeCloudWatch (items: Array<{ namespace: string, datum: MetricDatum }>): Map<string, Merged> {
  const out = new Map<string, Merged>()
  for (const { namespace, datum: d } of items) {
    const key = seriesKey(namespace, d.MetricName!, d.Dimensions ?? [], d.Unit ?? 'None', new Date(d.Timestamp!).getTime())
    let m = out.get(key)
    if (m === undefined) { m = { datums: 0, count: 0, sum: 0, min: Infinity, max: -Infinity, dist: new Map() }; out.set(key, m) }
    m.datums++
    const s = d.StatisticValues!
    m.count += s.SampleCount!
    m.sum += s.Sum!
    m.min = Math.min(m.min, s.Minimum!)
    m.max = Math.max(m.max, s.Maximum!)
    const vs = d.Values ?? []
    const cs = d.Counts ?? vs.map(() => 1)
    for (let i = 0; i < vs.length; i++) m.dist.set(vs[i], (m.dist.get(vs[i]) ?? 0) + cs[i])
  }
  return out
}

/** Nearest-rank percentile over a merged Values/Counts distribution (what CloudWatch computes). */
export function nearestRank (dist: Map<number, number>, q: number): number {
  const entries = [...dist.entries()].sort((a, b) => a[0] - b[0])
  const total = entries.reduce((a, e) => a + e[1], 0)
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (const [v, c] of entries) {
    seen += c
    if (seen >= rank) return v
  }
  return entries[entries.length - 1][0]
}

/** |a - b| relative to |b| (0 when both are 0). */
export function relErr (a: number, b: number): number {
  if (a === b) return 0
  return Math.abs(a - b) / Math.abs(b)
}
