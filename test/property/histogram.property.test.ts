/**
 * Properties of the aggregate and the encoder that must hold for any input:
 * merging is associative and order-free, any split of the samples publishes the same
 * statistics, split datums merge back to the exact statistics, and rollover loses nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Histogram, relativeErrorBound } from '../../src/store/histogram.js'
import { encodeHistogram } from '../../src/encode/put-metric-data.js'
import { datumBytes } from '../../src/encode/batcher.js'
import { createAggregator, inMemorySink, ManualClock } from '../../src/index.js'

const value = fc.oneof(
  fc.double({ min: -1e12, max: 1e12, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: 0, max: 10_000_000 }),
  fc.constant(0),
).filter(v => v === 0 || Math.abs(v) >= 2 ** -360)
const weighted = fc.tuple(value, fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 100 })))
const series = { metric: 'M', unit: 'None' as const, dimensions: [] }

function build (xs: Array<[number, number]>, p = 6): Histogram {
  const a = new Histogram(p)
  for (const [v, w] of xs) a.add(v, w)
  return a
}

describe('aggregate properties', () => {
  it('merge is associative and commutative (counts, min, max, buckets exact; sum to double-double)', () => {
    fc.assert(fc.property(fc.array(weighted), fc.array(weighted), fc.array(weighted), (xs, ys, zs) => {
      const left = build(xs); const l2 = build(ys); left.merge(l2); left.merge(build(zs))
      const right = build(zs); const r2 = build(ys); r2.merge(build(xs)); right.merge(r2)
      expect(left.count).toBe(right.count)
      expect(left.min + 0).toBe(right.min + 0)   // -0 and 0 are the same sample value
      expect(left.max + 0).toBe(right.max + 0)
      expect(left.buckets()).toEqual(right.buckets())
      expect(left.total + 0).toBe(right.total + 0)
    }), { numRuns: 300 })
  })

  it('any split of the samples across partial aggregates publishes what one aggregate would', () => {
    fc.assert(fc.property(fc.array(weighted, { minLength: 1, maxLength: 400 }), fc.array(fc.nat(3), { minLength: 400, maxLength: 400 }), (xs, owner) => {
      const one = build(xs)
      const parts = [new Histogram(), new Histogram(), new Histogram(), new Histogram()]
      xs.forEach(([v, w], i) => { parts[owner[i]].add(v, w) })
      const merged = new Histogram()
      for (const p of parts) merged.merge(p)
      expect(encodeHistogram(series, 0, merged)).toEqual(encodeHistogram(series, 0, one))
    }), { numRuns: 200 })
  })

  it('split datums merge to the exact statistics; values stay within their share', () => {
    fc.assert(fc.property(fc.array(weighted, { minLength: 1, maxLength: 3000 }), fc.integer({ min: 4, max: 8 }), fc.integer({ min: 2, max: 150 }), (xs, p, maxValues) => {
      const a = build(xs, p)
      const ds = encodeHistogram(series, 0, a, maxValues)
      let count = 0; let sum = 0
      for (const d of ds) {
        const s = d.StatisticValues
        expect(d.Values.length).toBeLessThanOrEqual(maxValues)
        expect(d.Values.length).toBe(d.Counts.length)
        for (const v of d.Values) { expect(v).toBeGreaterThanOrEqual(s.Minimum); expect(v).toBeLessThanOrEqual(s.Maximum) }
        expect(s.SampleCount).toBe(d.Counts.reduce((x, y) => x + y, 0))
        // the size the encoder attached is the size of the JSON the SDK sends
        expect(datumBytes(d)).toBe(JSON.stringify({ ...d, Timestamp: d.Timestamp.getTime() / 1000 }).length)
        count += s.SampleCount; sum += s.Sum
      }
      expect(count).toBe(a.count)
      expect(Math.min(...ds.map(d => d.StatisticValues.Minimum))).toBe(a.min + 0)
      expect(Math.max(...ds.map(d => d.StatisticValues.Maximum))).toBe(a.max + 0)
      const scale = xs.reduce((m, [v, w]) => m + Math.abs(v) * w, 0)
      expect(Math.abs(sum - a.total)).toBeLessThanOrEqual(scale * 1e-12 + 1e-300)
    }), { numRuns: 200 })
  })

  it('published percentiles (nearest rank over Values/Counts) are within the error bound', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 1e-6, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 2000 }), fc.constantFrom(0.5, 0.9, 0.99, 0.999), fc.integer({ min: 5, max: 8 }), (xs, q, p) => {
      const a = build(xs.map(v => [v, 1] as [number, number]), p)
      const ds = encodeHistogram(series, 0, a)
      const pairs = ds.flatMap(d => d.Values.map((v, i) => [v, d.Counts[i]] as const)).sort((x, y) => x[0] - y[0])
      const rank = Math.ceil(q * xs.length)
      let seen = 0; let got = NaN
      for (const [v, c] of pairs) { seen += c; if (seen >= rank) { got = v; break } }
      const exact = [...xs].sort((x, y) => x - y)[rank - 1]
      expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(relativeErrorBound(p) * (1 + 1e-9))
    }), { numRuns: 300 })
  })

  it('rollover loses nothing: every accepted sample is published exactly once', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 1, max: 1000 }), fc.boolean()), { minLength: 1, maxLength: 300 }), async (events) => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1))
      const sink = inMemorySink()
      const agg = createAggregator({ namespace: 'P', sink, clock, gracePeriodMs: 1000, onWarning: () => {} })
      const h = agg.series('M')
      let expected = 0
      for (const [dt, v, stamped] of events.sort((x, y) => x[0] - y[0])) {
        clock.set(Date.UTC(2026, 0, 1) + dt)
        if (stamped) agg.record('M', v, undefined, { timestamp: clock.now() - (v % 90_000) })
        else h.record(v)
        expected += v
      }
      await agg.close()
      const ds = sink.datums()
      expect(ds.reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(events.length)
      expect(ds.reduce((a, d) => a + d.StatisticValues.Sum, 0)).toBe(expected)
    }), { numRuns: 100 })
  })
})
