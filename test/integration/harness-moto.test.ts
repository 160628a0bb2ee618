/**
 * Proves the moto peer with the REAL @aws-sdk/client-cloudwatch over loopback, and pins down the
 * moto 5.2 behaviour that minutely's integration tests rely on (documented in test/helpers/moto.ts).
 * If moto changes behaviour, the "moto behaviour" tests here fail first.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import {
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  PutMetricDataCommand,
  type Datapoint,
  type Dimension,
  type MetricDatum,
} from '@aws-sdk/client-cloudwatch'
import { cloudWatchClientFor, useMoto } from '../helpers/moto.js'
import { kPeriodMs } from '../../src/limits.js'

const kNs = 'Minutely/HarnessTest'
const kDims: Dimension[] = [{ Name: 'EndpointName', Value: 'my-endpoint' }, { Name: 'VariantName', Value: 'AllTraffic' }]
/** A whole minute, ten minutes ago. */
const t0 = Math.floor(Date.now() / kPeriodMs) * kPeriodMs - 10 * kPeriodMs
const kMinute = new Date(t0)

const peer = useMoto()

beforeEach(async () => {
  await peer.moto.reset()
})

async function put (MetricData: MetricDatum[], Namespace = kNs): Promise<void> {
  await peer.cw.send(new PutMetricDataCommand({ Namespace, MetricData }))
}

async function stats (MetricName: string, opts: { dims?: Dimension[], start?: number, end?: number, period?: number, namespace?: string } = {}): Promise<Datapoint[]> {
  const out = await peer.cw.send(new GetMetricStatisticsCommand({
    Namespace: opts.namespace ?? kNs,
    MetricName,
    Dimensions: opts.dims,
    StartTime: new Date(opts.start ?? t0 - kPeriodMs),
    EndTime: new Date(opts.end ?? t0 + 2 * kPeriodMs),
    Period: opts.period ?? 60,
    Statistics: ['Sum', 'SampleCount', 'Minimum', 'Maximum', 'Average'],
  }))
  return [...(out.Datapoints ?? [])].sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime())
}

function pick (d: Datapoint): Record<string, unknown> {
  return { SampleCount: d.SampleCount, Sum: d.Sum, Minimum: d.Minimum, Maximum: d.Maximum, Average: d.Average }
}

describe('round trip', () => {
  it('StatisticValues + Values/Counts: GetMetricStatistics returns the same Sum/Min/Max/SampleCount/Average', async () => {
    // Exact stats that agree with the distribution (as minutely's encoder sends them).
    const values = [0.5, 1, 2, 4]
    const counts = [4, 3, 2, 1]
    const sv = { SampleCount: 10, Sum: 13 /* 2 + 3 + 4 + 4 */, Minimum: 0.5, Maximum: 4 }
    await put([{ MetricName: 'ModelLatency', Dimensions: kDims, Timestamp: kMinute, Unit: 'Microseconds', StatisticValues: sv, Values: values, Counts: counts }])
    const dps = await stats('ModelLatency', { dims: kDims })
    expect(dps).toHaveLength(1)
    expect(dps[0].Timestamp).toEqual(kMinute)
    expect(dps[0].Unit).toBe('Microseconds')
    expect(pick(dps[0])).toEqual({ SampleCount: 10, Sum: 13, Minimum: 0.5, Maximum: 4, Average: 1.3 })
  })

  it('StatisticValues only and Values/Counts only', async () => {
    await put([
      { MetricName: 'OverheadLatency', Dimensions: kDims, Timestamp: kMinute, Unit: 'Microseconds', StatisticValues: { SampleCount: 4, Sum: 100, Minimum: 10, Maximum: 40 } },
      { MetricName: 'CPUUtilization', Dimensions: [{ Name: 'Host', Value: 'my-endpoint/AllTraffic/i-0abc' }], Timestamp: kMinute, Unit: 'Percent', Values: [50, 150], Counts: [1, 3] },
    ])
    expect((await stats('OverheadLatency', { dims: kDims })).map(pick)).toEqual([{ SampleCount: 4, Sum: 100, Minimum: 10, Maximum: 40, Average: 25 }])
    expect((await stats('CPUUtilization', { dims: [{ Name: 'Host', Value: 'my-endpoint/AllTraffic/i-0abc' }] })).map(pick))
      .toEqual([{ SampleCount: 4, Sum: 500, Minimum: 50, Maximum: 150, Average: 125 }])
  })

  it('reset() wipes the data', async () => {
    await put([{ MetricName: 'Gone', Timestamp: kMinute, Value: 1 }])
    expect(await stats('Gone')).toHaveLength(1)
    await peer.moto.reset()
    expect(await stats('Gone')).toEqual([])
  })
})

describe('moto behaviour (characterisation)', () => {
  it('merges datums with the same name, dimensions and timestamp', async () => {
    await put([
      { MetricName: 'SV', Dimensions: kDims, Timestamp: kMinute, StatisticValues: { SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4 } },
      { MetricName: 'SV', Dimensions: kDims, Timestamp: kMinute, StatisticValues: { SampleCount: 2, Sum: 30, Minimum: 10, Maximum: 20 } },
      { MetricName: 'VC', Dimensions: kDims, Timestamp: kMinute, Values: [1, 2, 3], Counts: [1, 2, 3] },
      { MetricName: 'VC', Dimensions: kDims, Timestamp: kMinute, Values: [10, 20], Counts: [1, 1] },
    ])
    // and across requests
    await put([{ MetricName: 'SV', Dimensions: kDims, Timestamp: kMinute, StatisticValues: { SampleCount: 1, Sum: 0.5, Minimum: 0.5, Maximum: 0.5 } }])
    expect((await stats('SV', { dims: kDims })).map(pick)).toEqual([{ SampleCount: 7, Sum: 40.5, Minimum: 0.5, Maximum: 20, Average: 40.5 / 7 }])
    expect((await stats('VC', { dims: kDims })).map(pick)).toEqual([{ SampleCount: 8, Sum: 44, Minimum: 1, Maximum: 20, Average: 5.5 }])
  })

  it('a histogram split over several datums (each with its own exact StatisticValues) merges back', async () => {
    const values = Array.from({ length: 200 }, (_, i) => 100 + i)
    const counts = values.map((_, i) => 1 + (i % 3))
    const part = (from: number, to: number): MetricDatum => {
      const v = values.slice(from, to)
      const c = counts.slice(from, to)
      return {
        MetricName: 'Split',
        Dimensions: kDims,
        Timestamp: kMinute,
        Unit: 'Microseconds',
        StatisticValues: { SampleCount: c.reduce((a, b) => a + b, 0), Sum: v.reduce((s, x, i) => s + x * c[i], 0), Minimum: v[0], Maximum: v[v.length - 1] },
        Values: v,
        Counts: c,
      }
    }
    await put([part(0, 150), part(150, 200)])
    const n = counts.reduce((a, b) => a + b, 0)
    const sum = values.reduce((s, x, i) => s + x * counts[i], 0)
    expect((await stats('Split', { dims: kDims })).map(pick)).toEqual([{ SampleCount: n, Sum: sum, Minimum: 100, Maximum: 299, Average: sum / n }])
  })

  it('with StatisticValues AND Values/Counts in one datum, moto uses only Values/Counts (Counts truncated)', async () => {
    await put([{ MetricName: 'Both', Timestamp: kMinute, StatisticValues: { SampleCount: 100, Sum: 1000, Minimum: 0.5, Maximum: 50 }, Values: [1, 2], Counts: [1, 2.7] }])
    expect((await stats('Both')).map(pick)).toEqual([{ SampleCount: 3, Sum: 5, Minimum: 1, Maximum: 2, Average: 5 / 3 }])
  })

  it('GetMetricStatistics buckets start at the first datum, not at StartTime', async () => {
    await put([
      { MetricName: 'Misaligned', Timestamp: new Date(t0 + 30_000), Value: 1 },
      { MetricName: 'Misaligned', Timestamp: new Date(t0 + 70_000), Value: 2 },
      { MetricName: 'Misaligned', Timestamp: new Date(t0 + 95_000), Value: 4 },
    ])
    const dps = await stats('Misaligned')
    expect(dps.map(d => [d.Timestamp!.getTime() - t0, d.Sum])).toEqual([[30_000, 3], [90_000, 4]])
  })

  it('GetMetricStatistics matches dimensions as a subset (CloudWatch matches the exact set)', async () => {
    await put([{ MetricName: 'Subset', Dimensions: kDims, Timestamp: kMinute, Value: 7 }])
    expect((await stats('Subset', { dims: kDims })).map(d => d.Sum)).toEqual([7])
    expect((await stats('Subset', { dims: [kDims[1], kDims[0]] })).map(d => d.Sum)).toEqual([7])
    expect((await stats('Subset', { dims: [kDims[0]] })).map(d => d.Sum)).toEqual([7])
    expect((await stats('Subset')).map(d => d.Sum)).toEqual([7])
    expect(await stats('Subset', { dims: [{ Name: 'EndpointName', Value: 'other' }] })).toEqual([])
  })

  it('ExtendedStatistics are accepted but not computed', async () => {
    await put([{ MetricName: 'Pct', Timestamp: kMinute, Values: [1, 2, 3], Counts: [1, 1, 1] }])
    const out = await peer.cw.send(new GetMetricStatisticsCommand({
      Namespace: kNs, MetricName: 'Pct', StartTime: new Date(t0 - kPeriodMs), EndTime: new Date(t0 + kPeriodMs), Period: 60, ExtendedStatistics: ['p50', 'p99'],
    }))
    expect(out.Datapoints).toHaveLength(1)
    expect(out.Datapoints![0].Timestamp).toEqual(kMinute)
    expect(out.Datapoints![0].ExtendedStatistics).toBeUndefined()
    expect(out.Datapoints![0].Sum).toBeUndefined()
  })

  it('GetMetricData: basic stats work (newest first); dimension order matters; percentiles break moto', async () => {
    await put([
      { MetricName: 'GMD', Dimensions: kDims, Timestamp: kMinute, StatisticValues: { SampleCount: 2, Sum: 6, Minimum: 2, Maximum: 4 } },
      { MetricName: 'GMD', Dimensions: kDims, Timestamp: new Date(t0 + kPeriodMs), Value: 5 },
    ])
    const query = (Id: string, Stat: string, Dimensions = kDims) => ({ Id, MetricStat: { Metric: { Namespace: kNs, MetricName: 'GMD', Dimensions }, Period: 60, Stat } })
    const out = await peer.cw.send(new GetMetricDataCommand({
      StartTime: new Date(t0 - kPeriodMs),
      EndTime: new Date(t0 + 2 * kPeriodMs),
      MetricDataQueries: [query('sum', 'Sum'), query('n', 'SampleCount'), query('avg', 'Average'), query('mx', 'Maximum'), query('rev', 'Sum', [kDims[1], kDims[0]])],
    }))
    const byId = Object.fromEntries(out.MetricDataResults!.map(r => [r.Id, r]))
    expect(byId.sum.Timestamps).toEqual([new Date(t0 + kPeriodMs), kMinute])
    expect(byId.sum.Values).toEqual([5, 6])
    expect(byId.n.Values).toEqual([1, 2])
    expect(byId.avg.Values).toEqual([5, 3])
    expect(byId.mx.Values).toEqual([5, 4])
    expect(byId.sum.StatusCode).toBe('Complete')
    expect(byId.rev.Values).toEqual([])

    const err = await peer.cw.send(new GetMetricDataCommand({
      StartTime: new Date(t0 - kPeriodMs), EndTime: new Date(t0 + 2 * kPeriodMs), MetricDataQueries: [query('p99', 'p99')],
    })).catch((e: Error & { $response?: { statusCode?: number } }) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('SyntaxError')
    expect((err as { $response?: { statusCode?: number } }).$response?.statusCode).toBe(500)
  })

  it('accepts what CloudWatch rejects: AWS/ namespaces, 35 dimensions, 400-day-old timestamps, 1001 datums', async () => {
    await put([{ MetricName: 'Reserved', Value: 1 }], 'AWS/SageMaker')
    await put([{ MetricName: 'ManyDims', Value: 1, Dimensions: Array.from({ length: 35 }, (_, i) => ({ Name: `d${i}`, Value: 'v' })) }])
    const old = Date.now() - 400 * 86_400_000
    await put([{ MetricName: 'Old', Value: 3, Timestamp: new Date(old) }])
    await put(Array.from({ length: 1001 }, (_, i) => ({ MetricName: 'Many', Value: i, Timestamp: kMinute })))
    expect((await stats('Reserved', { namespace: 'AWS/SageMaker', start: Date.now() - 3_600_000, end: Date.now() + 60_000 })).map(d => d.Sum)).toEqual([1])
    expect((await stats('Old', { start: old - 86_400_000, end: old + 86_400_000, period: 86_400 })).map(d => d.Sum)).toEqual([3])
    expect((await stats('Many')).map(d => d.SampleCount)).toEqual([1001])
  })

  it('rejects NaN and Value together with StatisticValues, as CloudWatch does', async () => {
    const nan = await put([{ MetricName: 'NaN', Value: NaN }]).catch((e: Error) => e)
    expect((nan as Error).name).toBe('InvalidParameterValueException')
    const both = await put([{ MetricName: 'X', Value: 1, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } }]).catch((e: Error) => e)
    expect((both as Error).name).toBe('InvalidParameterCombinationException')
  })

  it('ListMetrics lists a metric once per stored sample unless it has exactly one dimension', async () => {
    await put([
      { MetricName: 'L2', Dimensions: kDims, Timestamp: kMinute, Value: 1 },
      { MetricName: 'L2', Dimensions: kDims, Timestamp: kMinute, Value: 2 },
      { MetricName: 'L1', Dimensions: [kDims[0]], Timestamp: kMinute, Value: 1 },
      { MetricName: 'L1', Dimensions: [kDims[0]], Timestamp: kMinute, Value: 2 },
    ])
    const count = async (MetricName: string): Promise<number> => (await peer.cw.send(new ListMetricsCommand({ Namespace: kNs, MetricName }))).Metrics!.length
    expect(await count('L2')).toBe(2)
    expect(await count('L1')).toBe(1)
  })

  it('fails on gzipped bodies: the client for moto must disable request compression', async () => {
    const gz = cloudWatchClientFor(peer.moto.endpoint, { disableRequestCompression: false, maxAttempts: 1 })
    try {
      const big = Array.from({ length: 300 }, (_, i) => ({ MetricName: `gz${i}`, Value: i, Timestamp: kMinute })) // > 10,240 bytes
      const err = await gz.send(new PutMetricDataCommand({ Namespace: kNs, MetricData: big })).catch((e: Error) => e)
      expect(err).toBeInstanceOf(Error)
      expect((err as Error & { $response?: { statusCode?: number } }).$response?.statusCode).toBe(500)
      await put(big) // the same request without compression is fine
      expect((await stats('gz299')).map(d => d.Sum)).toEqual([299])
    } finally {
      gz.destroy()
    }
  })
})
