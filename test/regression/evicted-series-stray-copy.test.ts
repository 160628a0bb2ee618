// One generation number validated two lookup caches: the per-step memo and the "same dims
// object as last time" memo. After an eviction, a step taken by another dims object brought
// the generation up to date, and the object memo then answered with the evicted series'
// handle: the series came back as a stray copy beside the registered one, outside the
// registry (not counted toward maxSeries, never evicted again), published as two datums.
import { expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, type SealedPeriod } from '../../src/index.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

it('a series evicted and used again through a reused dims object is one series, in the registry', async () => {
  const clock = new ManualClock(T0)
  const sink = inMemorySink()
  const agg = createAggregator({ namespace: 'R', sink, clock, seriesIdleMinutes: 1, gracePeriodMs: 0, maxSeries: 3, onWarning: () => {} })
  const seals: SealedPeriod[] = []
  agg.on('seal', p => seals.push(p))
  const D = { Host: 'a' }
  for (let i = 0; i < 3; i++) agg.record('Lat', 1, D)           // the third call remembers D
  for (let m = 0; m < 4; m++) { clock.advance(60_000); agg.record('Other', 1); await agg.flush() }
  expect(agg.stats().seriesEvicted).toBe(1)                      // Lat{Host=a} is gone
  agg.record('Lat', 5, { Host: 'b' })                            // a step through the Lat node
  agg.record('Lat', 7, D)
  agg.record('Lat', 7, { Host: 'a' })

  const open = agg.snapshot().open.at(-1)!
  const a = open.series.filter(s => s.metric === 'Lat' && s.dimensions[0]?.Value === 'a')
  expect(a.map(s => s.count)).toEqual([2])
  expect(open.series).toHaveLength(agg.stats().activeSeries)     // every open histogram belongs to a registered series
  agg.record('Lat', 1, { Host: 'c' })                            // the cap counts Lat{Host=a}: this one overflows
  expect(agg.stats().samplesOverflowed).toBe(1)

  const now = open.periodStart
  await agg.close()
  const datums = sink.datums().filter(d => d.MetricName === 'Lat' && d.Timestamp.getTime() === now && d.Dimensions[0]?.Value === 'a')
  expect(datums.map(d => d.StatisticValues)).toEqual([{ SampleCount: 2, Sum: 14, Minimum: 7, Maximum: 7 }])
  const sealedA = seals.filter(p => p.periodStart === now).flatMap(p => p.series).filter(s => s.metric === 'Lat' && s.dimensions[0]?.Value === 'a')
  expect(sealedA.map(s => s.count)).toEqual([2])
})

it('the series comes back registered each time it is evicted, whichever path reaches it', async () => {
  const clock = new ManualClock(T0)
  const sink = inMemorySink()
  const agg = createAggregator({ namespace: 'R', sink, clock, seriesIdleMinutes: 1, gracePeriodMs: 0, onWarning: () => {} })
  const D = { Host: 'a' }
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) agg.record('Lat', 1, D)
    agg.record('Lat', 1, { Host: 'a' }, { unit: 'None' })        // another path to the same series
    const open = agg.snapshot().open.at(-1)!
    expect(open.series.filter(s => s.metric === 'Lat' && s.dimensions[0]?.Value === 'a').map(s => s.count)).toEqual([4])
    expect(open.series).toHaveLength(agg.stats().activeSeries)
    for (let m = 0; m < 4; m++) { clock.advance(60_000); agg.record('Other', 1); await agg.flush() }
    agg.record('Lat', 5, { Host: 'b' })
  }
  expect(agg.stats().seriesEvicted).toBeGreaterThanOrEqual(3)
  await agg.close()
  const perMinute = new Map<string, number>()
  for (const d of sink.datums()) {
    const k = `${d.MetricName}/${JSON.stringify(d.Dimensions)}/${d.Timestamp.getTime()}`
    perMinute.set(k, (perMinute.get(k) ?? 0) + 1)
  }
  expect([...perMinute.values()].every(n => n === 1)).toBe(true)   // one datum per series and minute
})
