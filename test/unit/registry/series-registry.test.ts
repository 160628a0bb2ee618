import { describe, expect, it } from 'vitest'
import { SeriesRegistry, type Series } from '../../../src/registry/series-registry.js'
import { isRejection } from '../../../src/samples/reasons.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

function registry (maxSeries = 100) {
  const overflowed: string[] = []
  const r = new SeriesRegistry({ namespace: 'NS', defaultUnit: 'None', maxDimensions: 10, maxSeries, onOverflow: m => overflowed.push(m) })
  return { r, overflowed }
}

const ok = (x: ReturnType<SeriesRegistry['resolve']>): Series => { if (isRejection(x)) throw new Error(x.message); return x }

describe('SeriesRegistry', () => {
  it('one series per namespace, metric, unit and dimension set, whatever the key order', () => {
    const { r } = registry()
    const a = ok(r.resolve('Lat', { B: '2', A: '1' }, undefined, undefined, T0))
    expect(ok(r.resolve('Lat', { A: '1', B: '2' }, 'None', 'NS', T0))).toBe(a)
    expect(a).toMatchObject({ namespace: 'NS', metric: 'Lat', unit: 'None', dimensions: [{ Name: 'A', Value: '1' }, { Name: 'B', Value: '2' }], lastUsed: T0, pinned: false, overflow: false })
    expect(ok(r.resolve('Lat', { A: '1', B: '2' }, 'Milliseconds', undefined, T0))).not.toBe(a)
    expect(ok(r.resolve('Lat', { A: '1', B: '2' }, undefined, 'Other', T0))).not.toBe(a)
    expect(r.size).toBe(3)
  })

  it.each([
    [['', undefined, undefined, undefined], 'metric_name_invalid'],
    [['M', undefined, 'Parsecs', undefined], 'unit_invalid'],
    [['M', undefined, undefined, 'AWS/X'], 'namespace_invalid'],
    [['M', { A: '' }, undefined, undefined], 'dimension_invalid'],
  ] as const)('rejects %j as %s, registering nothing', (args, reason) => {
    const { r } = registry()
    const got = r.resolve(args[0], args[1] as never, args[2], args[3], T0)
    expect(isRejection(got) && got.reason).toBe(reason)
    expect(r.size).toBe(0)
  })

  it('past maxSeries, new series fold into one overflow series per metric, counted and told', () => {
    const { r, overflowed } = registry(2)
    ok(r.resolve('Lat', { Id: '1' }, undefined, undefined, T0))
    ok(r.resolve('Lat', { Id: '2' }, undefined, undefined, T0))
    const o1 = ok(r.resolve('Lat', { Id: '3' }, undefined, undefined, T0))
    const o2 = ok(r.resolve('Lat', { Id: '4' }, undefined, undefined, T0))
    const o3 = ok(r.resolve('Other', { Id: '4' }, undefined, undefined, T0))
    expect(o1).toBe(o2)
    expect(o1).toMatchObject({ overflow: true, dimensions: [{ Name: 'minutely_overflow', Value: 'true' }] })
    expect(o3).not.toBe(o1)
    expect(ok(r.resolve('Lat', { Id: '1' }, undefined, undefined, T0)).overflow).toBe(false)   // known series still resolve
    expect(r.size).toBe(2)
    expect(r.overflowSize).toBe(2)
    expect(r.overflowed).toBe(3)
    expect(overflowed).toEqual(['Lat', 'Lat', 'Other'])
  })

  it('evicts series idle since the horizon, never pinned ones, and frees their place under the cap', async () => {
    const { r } = registry(2)
    const idle = ok(r.resolve('A', undefined, undefined, undefined, T0))
    const pinned = ok(r.resolve('B', undefined, undefined, undefined, T0))
    pinned.pinned = true
    const evicted: Series[] = []
    await r.evictIdle(T0 + 60_000, s => evicted.push(s), 2, () => false)
    expect(evicted).toEqual([idle])
    expect(r.evicted).toBe(1)
    expect(r.size).toBe(1)
    const again = ok(r.resolve('A', undefined, undefined, undefined, T0 + 120_000))
    expect(again).not.toBe(idle)
    expect(again.overflow).toBe(false)
    expect(again.lastUsed).toBe(T0 + 120_000)
  })
})
