/**
 * The engine end to end through the REAL @aws-sdk/client-cloudwatch (cloudWatchSink, request
 * compression off: moto cannot read gzip) into moto's CloudWatch, read back with
 * GetMetricStatistics: what a dashboard would show after CloudWatch-style merging.
 *
 * moto (see test/helpers/moto.ts) IGNORES StatisticValues when Values/Counts are present and
 * recomputes Sum/Min/Max from the bucket values, so against moto:
 *  - SampleCount is exact (Σ Counts; the engine's counts are integers here);
 *  - a series whose samples are all one value has exact Sum/Min/Max/Average (its one bucket
 *    value is clamped to [Minimum, Maximum] = that value);
 *  - otherwise Sum/Min/Max/Average are within the published relative error bound.
 * The exact StatisticValues are checked against the strict endpoint (engine-strict.test.ts).
 * moto subset-matches dimensions, so every case uses its own metric name.
 *
 * Time: a ManualClock set to a whole minute 10 minutes ago, so timestamps are real-looking
 * and recent; sealing happens only when the test advances it.
 */
import { describe, expect, it } from 'vitest'
import { GetMetricStatisticsCommand, type Datapoint, type Dimension } from '@aws-sdk/client-cloudwatch'
import {
  createAggregator,
  cloudWatchSink,
  ManualClock,
  relativeErrorBound,
  type Aggregator,
  type DatumBatch,
} from '../../src/index.js'
import { kPeriodMs } from '../../src/limits.js'
import { useMoto } from '../helpers/moto.js'
import { tapped } from '../helpers/tapped-sink.js'
import { gaussian, mulberry32, RawSeries, relErr } from '../helpers/cw-reference.js'

const kNs = 'Minutely/EngineMoto'
const kGraceMs = 5_000
const T0 = Math.floor(Date.now() / kPeriodMs) * kPeriodMs - 10 * kPeriodMs
const kDims = { EndpointName: 'moto-ep', VariantName: 'AllTraffic' }
const kCwDims: Dimension[] = [{ Name: 'EndpointName', Value: 'moto-ep' }, { Name: 'VariantName', Value: 'AllTraffic' }]
const kBound = relativeErrorBound(6)

const peer = useMoto()

interface Harness { agg: Aggregator, clock: ManualClock, batches: DatumBatch[], errors: Error[] }

function harness (): Harness {
  const clock = new ManualClock(T0 + 1_000)
  const batches: DatumBatch[] = []
  const sink = tapped(cloudWatchSink({
    endpoint: peer.moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDMOTOTEST', secretAccessKey: 'moto-test-secret' },
    disableRequestCompression: true,
  }), batches)
  const agg = createAggregator({ namespace: kNs, sink, clock, gracePeriodMs: kGraceMs, onWarning: () => {} })
  const errors: Error[] = []
  agg.on('error', (e: Error) => { errors.push(e) })
  return { agg, clock, batches, errors }
}

/** Publishes until nothing is queued or in flight (one flush() may return early; see engine-strict). */
async function settle ({ agg, errors }: Harness): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await agg.flush()
    const s = agg.stats()
    if (s.datumsQueued === 0 && s.inFlightRequests === 0) break
  }
  const s = agg.stats()
  expect(errors.map(e => e.message)).toEqual([])
  expect(s.requestsFailed).toBe(0)
  expect(s.datumsQueued).toBe(0)
}

async function read (metric: string, unit = 'Microseconds'): Promise<Datapoint[]> {
  const out = await peer.cw.send(new GetMetricStatisticsCommand({
    Namespace: kNs,
    MetricName: metric,
    Dimensions: kCwDims,
    StartTime: new Date(T0 - kPeriodMs),
    EndTime: new Date(T0 + 5 * kPeriodMs),
    Period: 60,
    Unit: unit as 'Microseconds',
    Statistics: ['SampleCount', 'Sum', 'Minimum', 'Maximum', 'Average'],
  }))
  return [...(out.Datapoints ?? [])].sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime())
}

/** Datums of `metric` the engine sent. */
function sent (batches: DatumBatch[], metric: string): number {
  return batches.reduce((n, b) => n + b.datums.filter(d => d.MetricName === metric).length, 0)
}

describe('engine → cloudWatchSink → moto → GetMetricStatistics', () => {
  it('a series of one value: SampleCount, Sum, Minimum, Maximum and Average are exact', async () => {
    const t = harness()
    const { agg, clock, batches } = t
    const metric = 'ConstLatency'
    const h = agg.series(metric, kDims, { unit: 'Microseconds' })
    for (let i = 0; i < 37; i++) h.record(250.125)
    agg.record(metric, 250.125, kDims, { unit: 'Microseconds', count: 3 })   // a weighted sample
    clock.advance(kPeriodMs + kGraceMs)
    await settle(t)
    expect(sent(batches, metric)).toBe(1)

    const dps = await read(metric)
    expect(dps).toHaveLength(1)
    expect(dps[0].Timestamp!.getTime()).toBe(T0)
    expect(dps[0].Unit).toBe('Microseconds')
    expect({ n: dps[0].SampleCount, sum: dps[0].Sum, min: dps[0].Minimum, max: dps[0].Maximum, avg: dps[0].Average })
      .toEqual({ n: 40, sum: 40 * 250.125, min: 250.125, max: 250.125, avg: 250.125 })
    await agg.close()
  })

  it('a distribution (one datum): SampleCount exact; Sum, Minimum, Maximum, Average within the percentile bound', async () => {
    const t = harness()
    const { agg, clock, batches } = t
    const metric = 'DistLatency'
    const rand = mulberry32(11)
    const raw = new RawSeries()
    const h = agg.series(metric, kDims, { unit: 'Microseconds' })
    for (let i = 0; i < 300; i++) {
      const v = Math.round(5000 * Math.exp(0.25 * gaussian(rand)) * 100) / 100
      h.record(v)
      raw.add(v)
    }
    clock.advance(kPeriodMs + kGraceMs)
    await settle(t)
    expect(sent(batches, metric)).toBe(1)
    const [d] = batches.flatMap(b => b.datums)
    expect(d.Values.length).toBeGreaterThan(20)   // a real distribution, not a handful of buckets

    const dps = await read(metric)
    expect(dps).toHaveLength(1)
    const dp = dps[0]
    expect(dp.SampleCount).toBe(300)
    expect(relErr(dp.Sum!, raw.sum)).toBeLessThanOrEqual(kBound)
    expect(relErr(dp.Minimum!, raw.min)).toBeLessThanOrEqual(kBound)
    expect(relErr(dp.Maximum!, raw.max)).toBeLessThanOrEqual(kBound)
    expect(relErr(dp.Average!, raw.sum / raw.count)).toBeLessThanOrEqual(kBound)
    // moto recomputes from the values, which lie inside [Minimum, Maximum] of the datum
    expect(dp.Minimum!).toBeGreaterThanOrEqual(raw.min)
    expect(dp.Maximum!).toBeLessThanOrEqual(raw.max)
    await agg.close()
  })

  it('a distribution over > 150 buckets: split over several datums, merged back into one full datapoint', async () => {
    const t = harness()
    const { agg, clock, batches } = t
    const metric = 'WideLatency'
    const rand = mulberry32(12)
    const raw = new RawSeries()
    for (let i = 0; i < 400; i++) {
      const v = Math.round(10 ** (6 * rand()) * 1000) / 1000 + 1   // 1 µs .. 1 s, log-uniform
      agg.record(metric, v, kDims, { unit: 'Microseconds' })
      raw.add(v)
    }
    clock.advance(kPeriodMs + kGraceMs)
    await settle(t)
    const datums = batches.flatMap(b => b.datums).filter(d => d.MetricName === metric)
    expect(datums.length).toBeGreaterThanOrEqual(2)
    expect(datums.reduce((n, d) => n + d.Values.length, 0)).toBeGreaterThan(150)
    expect(new Set(datums.map(d => d.Timestamp.getTime()))).toEqual(new Set([T0]))

    const dps = await read(metric)
    expect(dps).toHaveLength(1)
    const dp = dps[0]
    expect(dp.Timestamp!.getTime()).toBe(T0)
    expect(dp.SampleCount).toBe(400)
    expect(relErr(dp.Sum!, raw.sum)).toBeLessThanOrEqual(kBound)
    expect(relErr(dp.Minimum!, raw.min)).toBeLessThanOrEqual(kBound)
    expect(relErr(dp.Maximum!, raw.max)).toBeLessThanOrEqual(kBound)
    await agg.close()
  })

  it('late samples for a minute already published are merged into that minute; the next minute stays apart', async () => {
    const t = harness()
    const { agg, clock, batches } = t
    const metric = 'LateLatency'
    const h = agg.series(metric, kDims, { unit: 'Microseconds' })
    for (let i = 0; i < 20; i++) h.record(10)
    clock.advance(kPeriodMs + kGraceMs)          // minute T0 sealed
    await settle(t)
    expect(sent(batches, metric)).toBe(1)
    for (let i = 0; i < 7; i++) h.record(20)      // minute T0+1, on time
    for (let i = 0; i < 5; i++) agg.record(metric, 30, kDims, { unit: 'Microseconds', timestamp: T0 + 30_000 })   // late: minute T0
    expect(agg.stats().samplesLate).toBe(5)
    await settle(t)                             // the late delta is published right away
    expect(sent(batches, metric)).toBe(2)
    clock.advance(kPeriodMs)                      // minute T0+1 sealed
    await settle(t)
    expect(sent(batches, metric)).toBe(3)

    const dps = await read(metric)
    expect(dps.map(d => ({ t: d.Timestamp!.getTime(), n: d.SampleCount, sum: d.Sum, min: d.Minimum, max: d.Maximum }))).toEqual([
      { t: T0, n: 25, sum: 20 * 10 + 5 * 30, min: 10, max: 30 },
      { t: T0 + kPeriodMs, n: 7, sum: 7 * 20, min: 20, max: 20 },
    ])
    const st = agg.stats()
    expect(st.samplesAccepted).toBe(32)
    expect(st.datumsPublished).toBe(3)
    await agg.close()
  })
})
