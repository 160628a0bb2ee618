/**
 * The encoder's last guard: a datum holding a number CloudWatch refuses is never returned, and
 * whoever encodes is told; a Sum that cancels below 2^-360 between both signs is published as 0.
 * The aggregates here bypass the ingest checks on purpose (Histogram.add takes what it is given).
 */
import { describe, expect, it } from 'vitest'
import { encodeHistogram } from '../../../src/encode/put-metric-data.js'
import { Histogram } from '../../../src/store/histogram.js'
import { validatePutMetricData } from '../../helpers/strict-endpoint.js'

const s = { metric: 'M', unit: 'None' as const, dimensions: [] }
const T = Date.UTC(2030, 0, 1)

describe('encodeHistogram never returns a number CloudWatch refuses', () => {
  it('a minute whose Sum is past 2^360 is dropped and reported, not sent', () => {
    const h = new Histogram(6)
    h.add(2e108, 1); h.add(2e108, 1)
    const told: string[] = []
    expect(encodeHistogram(s, T, h, 150, (d, problem) => { told.push(`${d.MetricName}: ${problem}`) })).toEqual([])
    expect(told).toEqual(['M: Sum 4e+108'])
  })

  it('a share of a split datum past 2^360 is dropped alone; the other shares are sent', () => {
    const h = new Histogram(6)
    for (let i = 0; i < 200; i++) h.add(-(1.5 ** i), 1)   // 200 negative buckets: two shares
    h.add(2e108, 1); h.add(2.1e108, 1)                     // the positive share sums past 2^360
    const told: string[] = []
    const out = encodeHistogram(s, T, h, 150, (_d, problem) => { told.push(problem) })
    expect(told).toHaveLength(1)
    expect(told[0]).toMatch(/^Sum /)
    expect(out.length).toBeGreaterThan(0)
    const r = validatePutMetricData({ Namespace: 'N', MetricData: out.map(d => ({ ...d, Timestamp: T / 1000 })) }, { now: T })
    expect(r).toMatchObject({ ok: true })
  })

  it('a Sum that cancels to below 2^-360 between samples of both signs is published as 0', () => {
    const h = new Histogram(6)
    h.add(2 ** -359, 1); h.add(-(2 ** -359 - 2 ** -400), 1)
    expect(h.total).toBe(2 ** -400)
    const out = encodeHistogram(s, T, h)
    expect(out).toHaveLength(1)
    expect(out[0].StatisticValues.Sum).toBe(0)
  })
})
