import { describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock } from '../../../src/index.js'
import { kBinsPerOctave, rebin, seriesKey, StatusBuilder } from '../../../src/status/api.js'
import { renderPage } from '../../../src/status/page.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

function setup () {
  const clock = new ManualClock(T0)
  const agg = createAggregator({ namespace: 'Test', sink: inMemorySink(), clock, gracePeriodMs: 1000 })
  agg.keepSealedMinutes(3)
  return { clock, agg, builder: new StatusBuilder({ aggregator: agg, minSnapshotIntervalMs: 0, info: { version: '9.9.9' } }) }
}

describe('StatusBuilder', () => {
  it('reports the open and sealed minutes with the aggregator\'s numbers', async () => {
    const { clock, agg, builder } = setup()
    for (let i = 1; i <= 100; i++) agg.record('ModelLatency', i * 100, { EndpointName: 'a', VariantName: 'v1' }, { unit: 'Microseconds' })
    agg.record('CPUUtilization', 37.5, { Host: 'h1' }, { unit: 'Percent' })
    clock.advance(61_000)
    agg.record('ModelLatency', 5, { EndpointName: 'b', VariantName: 'v1' }, { unit: 'Microseconds' })
    const doc = builder.build()
    expect(doc.minutes.map(m => [m.state, m.start])).toEqual([['open', T0 + 60_000], ['sealed', T0]])
    const snap = agg.snapshot()
    const sealed = doc.minutes[1]
    expect(sealed.total).toBe(2)
    expect(sealed.samples).toBe(101)
    for (const s of snap.sealed[0].series) {
      const row = sealed.series.find(x => x.key === seriesKey(s))!
      expect(row).toMatchObject({ count: s.count, sum: s.sum, min: s.min, max: s.max, p50: s.p50, p90: s.p90, p99: s.p99, unit: s.unit })
      expect(row.hist.b.reduce((a, b) => a + b[1], 0) + row.hist.z + row.hist.n).toBe(s.count)
    }
    // sorted by metric name
    expect(sealed.series.map(s => s.metric)).toEqual(['CPUUtilization', 'ModelLatency'])
    expect(doc.ingest.accepted).toBe(102)
    expect(doc.info).toMatchObject({ namespace: 'Test', sink: 'memory', version: '9.9.9' })
    expect(doc.snapshotAccepted).toBe(102)
    await agg.close()
  })

  it('filters by metric and dimension text and caps the series', async () => {
    const { agg, builder } = setup()
    for (let i = 0; i < 30; i++) agg.record('ModelLatency', i + 1, { EndpointName: `ep-${i}`, VariantName: i % 2 === 0 ? 'v1' : 'canary' })
    agg.record('Invocations', 1, { EndpointName: 'ep-0', VariantName: 'v1' })
    expect(builder.build({ metric: 'invoc' }).minutes[0].series.map(s => s.metric)).toEqual(['Invocations'])
    expect(builder.build({ metric: 'Test/Invocations' }).minutes[0].matched).toBe(1)
    const canary = builder.build({ dim: 'variantname=CANARY' }).minutes[0]
    expect(canary.matched).toBe(15)
    expect(canary.total).toBe(31)
    expect(canary.series.every(s => s.dims.some(([n, v]) => n === 'VariantName' && v === 'canary'))).toBe(true)
    const capped = builder.build({ limit: 5 }).minutes[0]
    expect(capped.series).toHaveLength(5)
    expect(capped.matched).toBe(31)
    await agg.close()
  })

  it('caches the snapshot for minSnapshotIntervalMs while samples flow', async () => {
    const clock = new ManualClock(T0)
    const agg = createAggregator({ namespace: 'Test', sink: inMemorySink(), clock })
    const builder = new StatusBuilder({ aggregator: agg, minSnapshotIntervalMs: 60_000 })
    agg.record('A', 1)
    const a = builder.build()
    agg.record('A', 2)
    const b = builder.build()
    expect(b.ingest.accepted).toBe(2)
    expect(b.snapshotAccepted).toBe(1)        // the page can tell the table is older than the counters
    expect(b.minutes[0].series[0].count).toBe(1)
    expect(b.seq).toBe(a.seq + 1)
    await agg.close()
  })
})

describe('rebin', () => {
  it('puts values on a log scale of 4 bins per doubling', () => {
    expect(kBinsPerOctave).toBe(4)
    const h = rebin([[0, 2], [-3, 1], [1, 5], [1.1, 1], [1.2, 1], [2, 3], [1000, 1]])
    expect(h.z).toBe(2)
    expect(h.n).toBe(1)
    expect(h.b).toEqual([[0, 6], [1, 1], [4, 3], [39, 1]])
  })
})

describe('renderPage', () => {
  it('is one HTML document with one inline script allowed by hash, and no sample data', () => {
    const { html, csp } = renderPage({ refreshMs: 1500 })
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html.match(/<script>/g)).toHaveLength(1)
    expect(html).not.toMatch(/<script src|<link rel="stylesheet"|(src|href)="https?:/)   // nothing fetched from elsewhere
    expect(html).toContain('var REFRESH_MS = 1500;')
    expect(html).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/)
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/)
    expect(csp).toContain("default-src 'none'")
  })
})
