import { describe, expect, it } from 'vitest'
import { checkpointVersions, decodeCheckpoint, encodeCheckpoint, kCheckpointFormat, mergeCheckpointed, type Checkpoint } from '../../../src/store/checkpoint.js'
import { Histogram, kPackedLayout, relativeErrorBound } from '../../../src/store/histogram.js'

const entry = { period: 0, late: false, ns: 'N', metric: 'M', unit: 'None', dims: [] as Array<[string, string]> }

function histogram (p: number, values: number[]): Histogram {
  const h = new Histogram(p)
  for (const v of values) h.add(v, 1)
  return h
}

describe('the checkpoint format', () => {
  it('carries its format, the packed layout and the precision, and reads back what it wrote', () => {
    const h = histogram(6, [1, 2, 3, 1000])
    const c = decodeCheckpoint(encodeCheckpoint(6, [entry], [h]))
    expect({ format: c.format, layout: c.layout, p: c.precisionBits }).toEqual({ format: kCheckpointFormat, layout: kPackedLayout, p: 6 })
    expect(checkpointVersions(c, 6)).toBeUndefined()
    const back = new Histogram(6)
    expect(mergeCheckpointed(back, c.data, 0, c.precisionBits)).toBe(c.data.length)
    expect(back.toJSON()).toEqual(h.toJSON())
  })

  it.each([
    [{ format: 1, layout: 1, precisionBits: 6 }, true, [/format 1/, /writes format 3/]],
    [{ format: 2, layout: 1, precisionBits: 6 }, true, [/format 2/, /writes format 3/]],
    [{ format: 2, layout: 9, precisionBits: 6 }, false, [/layout version 9/, /reads layout version 1/]],
    [{ format: 7, layout: 1, precisionBits: 6 }, false, [/format 7/, /formats 1 to 3/]],
    [{ format: 2, layout: 1, precisionBits: 8 }, true, [/precisionBits 8/, /uses 6/, /0\.78%/]],
    [{ format: 2, layout: 1, precisionBits: 4 }, true, [/precisionBits 4/, /uses 6/, /3\.81%/]],
  ] as const)('another version %j: readable %s, and the message names both', (v, readable, messages) => {
    const c: Checkpoint = { ...v, entries: [], data: new Float64Array(0) }
    const r = checkpointVersions(c, 6)
    expect(r?.readable).toBe(readable)
    for (const m of messages) expect(r?.message).toMatch(m)
  })

  it('a histogram of another precision is rebucketed: exact statistics, percentiles within the coarser bound', () => {
    const values = Array.from({ length: 2000 }, (_, i) => 1 + ((i * 7919) % 100_000) / 7)
    for (const [from, to] of [[8, 6], [6, 8], [10, 4]]) {
      const src = histogram(from, values)
      const data = new Float64Array(src.packedLength())
      src.packInto(data, 0)
      const into = new Histogram(to)
      mergeCheckpointed(into, data, 0, from)
      expect({ count: into.count, total: into.total, min: into.min, max: into.max }).toEqual({ count: src.count, total: src.total, min: src.min, max: src.max })
      const sorted = [...values].sort((a, b) => a - b)
      for (const q of [0.5, 0.9, 0.99]) {
        const exact = sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]
        expect(Math.abs(into.quantile(q) - exact) / exact).toBeLessThanOrEqual(relativeErrorBound(Math.min(from, to)) + relativeErrorBound(to) + 1e-12)
      }
    }
  })
})
