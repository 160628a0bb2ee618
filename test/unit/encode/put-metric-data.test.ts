import { describe, expect, it } from 'vitest'
import { Histogram } from '../../../src/store/histogram.js'
import { encodeHistogram } from '../../../src/encode/put-metric-data.js'
import { batchDatums, datumBytes, kRequestBodyBudget } from '../../../src/encode/batcher.js'
import type { MetricDatum } from '../../../src/encode/datum.js'

const series = { metric: 'ModelLatency', unit: 'Microseconds' as const, dimensions: [{ Name: 'EndpointName', Value: 'ep' }] }
const t0 = Date.UTC(2026, 10, 25, 12, 0)

/** Percentile as CloudWatch computes it from published Values/Counts: nearest rank over the merged distribution. */
function cwPercentile (datums: MetricDatum[], q: number): number {
  const pairs = datums.flatMap(d => d.Values.map((v, i) => [v, d.Counts[i]] as const)).sort((a, b) => a[0] - b[0])
  const n = pairs.reduce((a, p) => a + p[1], 0)
  const rank = Math.max(1, Math.ceil(q * n))
  let seen = 0
  for (const [v, c] of pairs) { seen += c; if (seen >= rank) return v }
  return NaN
}

describe('encodeHistogram', () => {
  it('one datum with exact statistics when buckets fit', () => {
    const a = new Histogram()
    for (const v of [100, 200, 300]) a.add(v, 1)
    const [d, ...rest] = encodeHistogram(series, t0, a)
    expect(rest).toEqual([])
    expect(d.StatisticValues).toEqual({ SampleCount: 3, Sum: 600, Minimum: 100, Maximum: 300 })
    expect(d.Timestamp.getTime()).toBe(t0)
    expect(d.Unit).toBe('Microseconds')
    expect(d.StorageResolution).toBe(60)
    expect(d.Values).toHaveLength(3)
    expect(d.Counts).toEqual([1, 1, 1])
    // a single sample is published as itself (clamped into [min, max])
    const one = new Histogram(); one.add(1234.5, 1)
    expect(encodeHistogram(series, t0, one)[0].Values).toEqual([1234.5])
  })

  it('returns nothing for an empty aggregate', () => {
    expect(encodeHistogram(series, t0, new Histogram())).toEqual([])
  })

  it('splits >150 buckets into datums whose merge is exact and values lie within each share', () => {
    const a = new Histogram()
    const vals: number[] = []
    for (let i = 0; i < 50_000; i++) { const v = Math.exp(Math.random() * 12); vals.push(v); a.add(v, 1) }
    const ds = encodeHistogram(series, t0, a)
    expect(ds.length).toBeGreaterThan(1)
    let count = 0; let sum = 0
    for (const d of ds) {
      expect(d.Values.length).toBeLessThanOrEqual(150)
      expect(d.Values.length).toBe(d.Counts.length)
      const s = d.StatisticValues
      expect(s.SampleCount).toBe(d.Counts.reduce((x, y) => x + y, 0))
      for (const v of d.Values) { expect(v).toBeGreaterThanOrEqual(s.Minimum); expect(v).toBeLessThanOrEqual(s.Maximum) }
      expect(s.Sum).toBeGreaterThanOrEqual(s.SampleCount * s.Minimum)
      expect(s.Sum).toBeLessThanOrEqual(s.SampleCount * s.Maximum)
      count += s.SampleCount; sum += s.Sum
    }
    vals.sort((x, y) => x - y)
    expect(count).toBe(50_000)
    const exact = vals.reduce((x, y) => x + y, 0)
    expect(Math.abs(sum - exact) / exact).toBeLessThan(1e-12)
    expect(Math.min(...ds.map(d => d.StatisticValues.Minimum))).toBe(vals[0])
    expect(Math.max(...ds.map(d => d.StatisticValues.Maximum))).toBe(vals[vals.length - 1])
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exactQ = vals[Math.ceil(q * vals.length) - 1]
      expect(Math.abs(cwPercentile(ds, q) - exactQ) / exactQ).toBeLessThan(0.01)
    }
  })

  it('honours a smaller values limit (EMF: 100)', () => {
    const a = new Histogram()
    for (let i = 1; i < 3000; i++) a.add(i, 1)
    for (const d of encodeHistogram(series, t0, a, 100)) expect(d.Values.length).toBeLessThanOrEqual(100)
  })
})

describe('batchDatums', () => {
  function datum (i: number, nValues = 1): MetricDatum {
    return { MetricName: 'M' + i, Dimensions: [{ Name: 'Host', Value: 'x'.repeat(200) }], Timestamp: new Date(t0), Unit: 'None', StorageResolution: 60, StatisticValues: { SampleCount: nValues, Sum: nValues, Minimum: 1, Maximum: 1 }, Values: Array.from({ length: nValues }, (_, k) => 1 + k / 1e6), Counts: Array(nValues).fill(1) }
  }
  it('keeps at most 1000 datums a request', () => {
    const bs = batchDatums('NS', Array.from({ length: 2500 }, (_, i) => datum(i)))
    expect(bs.map(b => b.datums.length)).toEqual([1000, 1000, 500])
  })
  it('keeps every request under 1 MB as the SDK serialises it', () => {
    const bs = batchDatums('NS', Array.from({ length: 1000 }, (_, i) => datum(i, 150)))
    expect(bs.length).toBeGreaterThan(1)
    for (const b of bs) {
      const body = JSON.stringify({ Namespace: 'NS', MetricData: b.datums.map(d => ({ ...d, Timestamp: d.Timestamp.getTime() / 1000 })) })
      expect(body.length).toBeLessThanOrEqual(kRequestBodyBudget)
      expect(b.bytes).toBe(body.length)
    }
  })
  it('measures a datum as its JSON', () => {
    const d = datum(1)
    expect(datumBytes(d)).toBe(JSON.stringify({ ...d, Timestamp: t0 / 1000 }).length)
  })
})

describe('datumBytes', () => {
  it('equals the JSON the SDK sends, for any datum', async () => {
    const fc = (await import('fast-check')).default
    const str = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(c => String.fromCharCode(c)), minLength: 1, maxLength: 30 })
    const num = fc.double({ min: -1e300, max: 1e300, noNaN: true })   // datums only ever carry finite numbers
    fc.assert(fc.property(str, fc.array(fc.tuple(str, str), { maxLength: 10 }), fc.integer({ min: 0, max: 2 ** 42 }), fc.array(fc.tuple(num, num), { maxLength: 20 }), num, (name, dims, ts, vc, x) => {
      const d: MetricDatum = { MetricName: name, Dimensions: dims.map(([n, v]) => ({ Name: n, Value: v })), Timestamp: new Date(ts), Unit: 'Bytes/Second', StorageResolution: 60,
        StatisticValues: { SampleCount: Math.abs(x), Sum: x, Minimum: x / 3, Maximum: x * 7 }, Values: vc.map(p => p[0]), Counts: vc.map(p => p[1]) }
      expect(datumBytes(d)).toBe(JSON.stringify({ ...d, Timestamp: d.Timestamp.getTime() / 1000 }).length)
    }), { numRuns: 500 })
  })
})
