import { describe, expect, it } from 'vitest'
import { Histogram, relativeErrorBound } from '../../../src/store/histogram.js'

describe('Histogram', () => {
  it('keeps exact count, sum, min and max', () => {
    const a = new Histogram()
    for (const v of [0.5, 37.25, 1e-9, 12345.678, 3]) a.add(v, 1)
    expect(a.count).toBe(5)
    expect(a.total).toBe(0.5 + 37.25 + 1e-9 + 12345.678 + 3)
    expect(a.min).toBe(1e-9)
    expect(a.max).toBe(12345.678)
  })

  it('weights samples by count', () => {
    const a = new Histogram()
    a.add(2, 10)
    a.add(4, 0.5)
    expect(a.count).toBe(10.5)
    expect(a.total).toBe(22)
    const b = a.buckets()
    expect(b.map(x => x.count)).toEqual([10, 0.5])
  })

  it('counts zero in its own bucket and mirrors negatives', () => {
    const a = new Histogram()
    for (const v of [-10, -10, 0, 0, 0, 5]) a.add(v, 1)
    const b = a.buckets()
    expect(b.map(x => x.count)).toEqual([2, 3, 1])
    expect(b[0].value).toBeLessThan(0)
    expect(Math.abs(b[0].value + 10) / 10).toBeLessThanOrEqual(relativeErrorBound(6))
    expect(b[1]).toMatchObject({ value: 0, count: 3 })
    expect(a.min).toBe(-10)
    expect(a.total).toBe(-15)
  })

  it.each([4, 5, 6, 7, 8, 10])('a bucket value is within the error bound of every value in it (p=%i)', (p) => {
    const bound = relativeErrorBound(p)
    for (let i = 0; i < 2000; i++) {
      const v = Math.exp((Math.random() - 0.5) * 80)
      const a = new Histogram(p)
      a.add(v, 1)
      const [b] = a.buckets()
      expect(b.lower).toBeLessThanOrEqual(v)
      expect(b.upper).toBeGreaterThan(v)
      expect(Math.abs(b.value - v) / v).toBeLessThanOrEqual(bound * (1 + 1e-12))
    }
  })

  it('keeps non-integers at the same relative accuracy (no truncation)', () => {
    const a = new Histogram()
    a.add(0.0005, 1)
    a.add(0.0006, 1)
    const b = a.buckets()
    expect(b).toHaveLength(2)
    expect(Math.abs(b[0].value - 0.0005) / 0.0005).toBeLessThan(0.008)
  })

  it('merges exactly and round-trips through JSON', () => {
    const a = new Histogram()
    const b = new Histogram()
    const all = new Histogram()
    for (let i = 0; i < 1000; i++) {
      const v = (i % 7 === 0 ? -1 : 1) * Math.exp(i % 23)
      ;(i % 2 === 0 ? a : b).add(v, 1)
      all.add(v, 1)
    }
    const m = Histogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON())))
    m.merge(Histogram.fromJSON(b.toJSON()))
    expect(m.count).toBe(all.count)
    expect(m.total).toBe(all.total)
    expect(m.min).toBe(all.min)
    expect(m.max).toBe(all.max)
    expect(m.buckets()).toEqual(all.buckets())
  })

  it('refuses to merge different precisions', () => {
    const x = new Histogram(7); x.add(1, 1)
    expect(() => { new Histogram(6).merge(x) }).toThrow(RangeError)
  })

  it('quantile is nearest rank over buckets, clamped to [min, max]', () => {
    const a = new Histogram()
    for (let i = 1; i <= 100; i++) a.add(i, 1)
    expect(Math.abs(a.quantile(0) - 1)).toBeLessThan(0.008)
    expect(a.quantile(1)).toBe(100)   // clamped to the exact maximum
    expect(Math.abs(a.quantile(0.5) - 50) / 50).toBeLessThan(0.008)
    expect(Math.abs(a.quantile(0.99) - 99) / 99).toBeLessThan(0.008)
  })

  it('release() empties it for reuse', () => {
    const a = new Histogram()
    a.add(3, 1)
    a.release()
    expect(a.count).toBe(0)
    expect(a.buckets()).toEqual([])
    a.add(5, 1)
    expect(a.buckets()).toHaveLength(1)
  })
})

describe('Histogram counts', () => {
  it('switches to Float64 counts at the first fractional weight without losing what it had', () => {
    const a = new Histogram()
    for (let i = 0; i < 100; i++) a.add(10, 1)
    a.add(10, 10 / 3)
    a.add(20, 1.5)
    const b = a.buckets()
    expect(b.map(x => x.count)).toEqual([100 + 10 / 3, 1.5])
    expect(a.count).toBe(100 + 10 / 3 + 1.5)
  })
  it('merges a fractional aggregate into a whole one, directly and packed', () => {
    const whole = new Histogram(); whole.add(5, 2)
    const frac = new Histogram(); frac.add(5, 0.25)
    const viaPack = new Histogram(); viaPack.add(5, 2)
    const buf = new Float64Array(frac.packedLength()); frac.packInto(buf, 0)
    viaPack.mergePacked(buf, 0)
    whole.merge(frac)
    expect(whole.buckets()[0].count).toBe(2.25)
    expect(viaPack.buckets()[0].count).toBe(2.25)
    const fromJson = Histogram.fromJSON(frac.toJSON())
    expect(fromJson.buckets()[0].count).toBe(0.25)
  })
  it('keeps large whole weights exact', () => {
    const a = new Histogram()
    a.add(1, 1e6); a.add(1, 70_000); a.add(1, 3)
    expect(a.buckets()[0].count).toBe(1_070_003)
  })
})
