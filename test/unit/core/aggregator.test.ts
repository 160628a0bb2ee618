import { describe, expect, it, vi } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, SinkError, type MetricSink } from '../../../src/index.js'
import type { DatumBatch } from '../../../src/encode/datum.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

function setup (extra: Record<string, unknown> = {}) {
  const clock = new ManualClock(T0)
  const sink = inMemorySink()
  const warnings: string[] = []
  const agg = createAggregator({ namespace: 'Test', sink, clock, gracePeriodMs: 2000, onWarning: m => { warnings.push(m) }, ...extra })
  return { clock, sink, agg, warnings }
}

describe('createAggregator options', () => {
  it.each([
    [{}, /namespace is required/],
    [{ namespace: 'AWS/SageMaker' }, /reserves/],
    [{ namespace: 'bad\u0001' }, /may hold only/],
    [{ namespace: 'x'.repeat(256) }, /at most 255/],
    [{ namespace: 'N', maxDimensions: 31 }, /maxDimensions must be an integer from 0 to 30/],
    [{ namespace: 'N', maxDimensions: 2.5 }, /maxDimensions/],
    [{ namespace: 'N', precisionBits: 3 }, /precisionBits must be an integer from 4 to 10/],
    [{ namespace: 'N', gracePeriodMs: -1 }, /gracePeriodMs/],
    [{ namespace: 'N', defaultUnit: 'ms' }, /defaultUnit must be one of/],
    [{ namespace: 'N', sink: {} }, /options.sink must be a sink/],
    [{ namespace: 'N', retryBaseMs: 1000, retryMaxMs: 10 }, /retryMaxMs must be at least retryBaseMs/],
  ])('rejects %j', (opts, msg) => {
    let err: unknown
    try { createAggregator(opts as never) } catch (e) { err = e }
    expect(err).toMatchObject({ code: 'METRICS_ERR_INVALID_OPTION', name: 'ConfigError' })
    expect((err as Error).message).toMatch(msg)
  })
})

describe('Aggregator', () => {
  it('buckets samples by minute and seals after the grace period', async () => {
    const { clock, sink, agg } = setup()
    const h = agg.series('ModelLatency', { EndpointName: 'ep', VariantName: 'v1' }, { unit: 'Microseconds' })
    h.record(100); h.record(300)
    clock.advance(60_000)            // 12:01:00 — minute 12:00 ended, grace not over
    h.record(500)
    expect(sink.batches).toHaveLength(0)
    clock.advance(2_000)             // 12:01:02 — sealed
    await agg.flush()
    const ds = sink.datums()
    expect(ds).toHaveLength(1)
    expect(ds[0]).toMatchObject({ Namespace: 'Test', MetricName: 'ModelLatency', Unit: 'Microseconds', Dimensions: [{ Name: 'EndpointName', Value: 'ep' }, { Name: 'VariantName', Value: 'v1' }] })
    expect(ds[0].StatisticValues).toEqual({ SampleCount: 2, Sum: 400, Minimum: 100, Maximum: 300 })
    expect(ds[0].Timestamp.getTime()).toBe(T0)
    const r = await agg.close()
    expect(r.datumsPending).toBe(0)
    const all = sink.datums()
    expect(all).toHaveLength(2)
    expect(all[1].StatisticValues).toEqual({ SampleCount: 1, Sum: 500, Minimum: 500, Maximum: 500 })
    expect(all[1].Timestamp.getTime()).toBe(T0 + 60_000)
  })

  it('record() sugar resolves the same series whatever the key order', async () => {
    const { agg, sink } = setup()
    agg.record('Invocations', 1, { EndpointName: 'ep', VariantName: 'v1' })
    agg.record('Invocations', 1, { VariantName: 'v1', EndpointName: 'ep' })
    agg.record('Invocations', 1, { VariantName: 'v1', EndpointName: 'ep' })
    await agg.close()
    expect(sink.datums()).toHaveLength(1)
    expect(sink.datums()[0].StatisticValues.SampleCount).toBe(3)
    expect(agg.stats().activeSeries).toBe(1)
  })

  it('unit and namespace are part of a series identity', async () => {
    const { agg, sink } = setup()
    agg.record('Latency', 1, { A: 'a' })
    agg.record('Latency', 1, { A: 'a' }, { unit: 'Milliseconds' })
    agg.record('Latency', 1, { A: 'a' }, { unit: 'Milliseconds', namespace: 'Other' })
    await agg.close()
    const ds = sink.datums()
    expect(ds.map(d => `${d.Namespace}/${d.Unit}`).sort()).toEqual(['Other/Milliseconds', 'Test/Milliseconds', 'Test/None'])
  })

  it('counts weighted samples (sample rates)', async () => {
    const { agg, sink } = setup()
    agg.record('Requests', 1, undefined, { count: 10 })
    agg.record('Requests', 3, undefined, { count: 2 })
    await agg.close()
    expect(sink.datums()[0].StatisticValues).toEqual({ SampleCount: 12, Sum: 16, Minimum: 1, Maximum: 3 })
  })

  it('puts timestamped samples in their own minute, and publishes late ones as a delta', async () => {
    const { agg, sink, clock } = setup()
    agg.record('M', 1, undefined, { timestamp: T0 + 5_000 })
    agg.record('M', 2, undefined, { timestamp: new Date(T0 + 65_000) })
    clock.advance(62_000)   // minute 12:00 sealed
    await agg.flush()
    expect(sink.datums().map(d => d.StatisticValues.Sum)).toEqual([1])
    agg.record('M', 7, undefined, { timestamp: T0 + 30_000 })   // late for 12:00
    expect(agg.stats().samplesLate).toBe(1)
    clock.advance(60_000)
    await agg.flush()
    const ds = sink.datums()
    const forT0 = ds.filter(d => d.Timestamp.getTime() === T0)
    expect(forT0.map(d => d.StatisticValues.Sum)).toEqual([1, 7])
    expect(ds.find(d => d.Timestamp.getTime() === T0 + 60_000)?.StatisticValues.Sum).toBe(2)
    await agg.close()
  })

  it('rejects timestamps CloudWatch would refuse', () => {
    const { agg } = setup()
    agg.record('M', 1, undefined, { timestamp: T0 - 15 * 24 * 3600_000 })
    agg.record('M', 1, undefined, { timestamp: T0 + 3 * 3600_000 })
    agg.record('M', 1, undefined, { timestamp: Number.NaN })
    const s = agg.stats()
    expect(s.rejectedByReason.timestamp_too_old).toBe(1)
    expect(s.rejectedByReason.timestamp_in_future).toBe(1)
    expect(s.rejectedByReason.timestamp_invalid).toBe(1)
    expect(s.samplesAccepted).toBe(0)
  })

  it('rejects bad samples by reason, never throws, and leaves good samples alone', async () => {
    const { agg, sink, warnings } = setup()
    const h = agg.series('Good', { A: 'a' })
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`D${i}`, 'x']))
    const cases: Array<[() => void, string]> = [
      [() => { agg.record('M', Number.NaN) }, 'not_a_number'],
      [() => { agg.record('M', 'fast' as unknown as number) }, 'not_a_number'],
      [() => { agg.record('M', Infinity) }, 'not_finite'],
      [() => { h.record(-Infinity) }, 'not_finite'],
      [() => { h.record(Number.NaN) }, 'not_a_number'],
      [() => { agg.record('M', 2 ** 361) }, 'value_out_of_range'],
      [() => { agg.record('M', 2 ** -400) }, 'value_out_of_range'],
      [() => { agg.record('M', 1, eleven) }, 'too_many_dimensions'],
      [() => { agg.record('M', 1, { Name: '' }) }, 'dimension_invalid'],
      [() => { agg.record('M', 1, { '': 'x' }) }, 'dimension_invalid'],
      [() => { agg.record('M', 1, { ':x': 'x' }) }, 'dimension_invalid'],
      [() => { agg.record('M', 1, { A: 'caf\u00e9' }) }, 'dimension_invalid'],
      [() => { agg.record('M', 1, { A: 5 as unknown as string }) }, 'dimension_invalid'],
      [() => { agg.record('', 1) }, 'metric_name_invalid'],
      [() => { agg.record('M', 1, undefined, { unit: 'ms' as never }) }, 'unit_invalid'],
      [() => { agg.record('M', 1, undefined, { namespace: 'AWS/X' }) }, 'namespace_invalid'],
      [() => { agg.record('M', 1, undefined, { count: 0 }) }, 'count_invalid'],
      [() => { agg.record('M', 1, undefined, { count: Number.NaN }) }, 'count_invalid'],
    ]
    for (const [fn, reason] of cases) {
      const before = agg.stats().rejectedByReason[reason as 'malformed']
      expect(fn).not.toThrow()
      h.record(1)
      expect(agg.stats().rejectedByReason[reason as 'malformed'], reason).toBe(before + 1)
    }
    expect(agg.stats().samplesRejected).toBe(cases.length)
    expect(warnings.length).toBeGreaterThan(0)
    expect(warnings.join('\n')).toMatch(/at most 10 are allowed/)
    await agg.close()
    const ds = sink.datums()
    expect(ds).toHaveLength(1)
    expect(ds[0].StatisticValues.SampleCount).toBe(cases.length)
  })

  it('rate-limits warnings per reason', () => {
    const { agg, warnings, clock } = setup({ warningIntervalMs: 10_000 })
    for (let i = 0; i < 100; i++) agg.record('M', Number.NaN)
    expect(warnings).toHaveLength(1)
    clock.advance(10_000)
    agg.record('M', Number.NaN)
    expect(warnings).toHaveLength(2)
    expect(warnings[1]).toMatch(/99 more like it/)
  })

  it('series() throws typed errors with stable codes', () => {
    const { agg } = setup()
    expect(() => agg.series('')).toThrow(expect.objectContaining({ code: 'METRICS_ERR_INVALID_NAME' }))
    expect(() => agg.series('M', { A: '' })).toThrow(expect.objectContaining({ code: 'METRICS_ERR_DIMENSION' }))
    expect(() => agg.series('M', {}, { unit: 'Parsecs' as never })).toThrow(expect.objectContaining({ code: 'METRICS_ERR_INVALID_UNIT' }))
  })

  it('accepts up to maxDimensions and no more', () => {
    const { agg } = setup({ maxDimensions: 30 })
    const thirty = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`D${i}`, 'x']))
    expect(() => agg.series('M', thirty)).not.toThrow()
    expect(() => agg.series('M', { ...thirty, D30: 'x' })).toThrow(/at most 30/)
  })

  it('folds new series into an overflow series past maxSeries', async () => {
    const { agg, sink } = setup({ maxSeries: 3 })
    for (let i = 0; i < 10; i++) agg.record('Latency', i, { RequestId: `r${i}` })
    const s = agg.stats()
    expect(s.samplesAccepted).toBe(10)
    expect(s.samplesOverflowed).toBe(7)
    await agg.close()
    const over = sink.datums().find(d => d.Dimensions[0].Name === 'minutely_overflow')
    expect(over?.StatisticValues.SampleCount).toBe(7)
  })

  it('forgets idle series but keeps handles working', async () => {
    const { agg, clock, sink } = setup({ seriesIdleMinutes: 1 })
    const h = agg.series('Pinned')
    agg.record('Transient', 1, { Id: 'a' })
    h.record(1)
    for (let i = 0; i < 4; i++) { clock.advance(60_000); h.record(1) }
    await agg.flush()
    expect(agg.stats().seriesEvicted).toBe(1)
    agg.record('Transient', 2, { Id: 'a' })   // comes back as a new series
    await agg.close()
    expect(sink.datums().filter(d => d.MetricName === 'Transient').map(d => d.StatisticValues.Sum)).toEqual([1, 2])
    expect(sink.datums().filter(d => d.MetricName === 'Pinned').reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(5)
  })

  it('after close(), samples are rejected as closed', async () => {
    const { agg } = setup()
    const h = agg.series('M')
    await agg.close()
    h.record(1)
    agg.record('N', 1)
    expect(agg.stats().rejectedByReason.closed).toBe(2)
  })

  it('emits seal with per-series statistics', async () => {
    const { agg } = setup()
    const seals: unknown[] = []
    agg.on('seal', p => seals.push(p))
    for (let i = 1; i <= 100; i++) agg.record('Lat', i)
    await agg.close()
    expect(seals).toHaveLength(1)
    expect(seals[0]).toMatchObject({ periodStart: T0, late: false, series: [{ metric: 'Lat', count: 100, sum: 5050, min: 1, max: 100 }] })
  })
})

describe('publishing failures', () => {
  function failingSink (plan: Array<'ok' | 'throttle' | 'fail' | 'invalid'>): MetricSink & { got: DatumBatch[] } {
    const got: DatumBatch[] = []
    let i = 0
    return {
      name: 'test', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 1e6, got,
      async send (b) {
        const step = plan[i++] ?? 'ok'
        if (step === 'throttle') throw new SinkError('Rate exceeded', { retryable: true, throttled: true })
        if (step === 'fail') throw new SinkError('503', { retryable: true })
        if (step === 'invalid' && b.datums.some(d => d.MetricName === 'Bad')) throw new SinkError('InvalidParameterValue', { retryable: false })
        got.push(b)
      },
    }
  }

  it('retries retryable failures with backoff and never loses the batch', async () => {
    const clock = new ManualClock(T0)
    const sink = failingSink(['throttle', 'fail', 'ok'])
    const agg = createAggregator({ namespace: 'T', sink, clock, gracePeriodMs: 0, retryBaseMs: 100, random: () => 0.5, onWarning: () => {} })
    const errors: SinkError[] = []
    agg.on('error', e => errors.push(e))
    agg.record('M', 1)
    clock.advance(60_000)
    await vi.waitFor(() => { expect(agg.stats().requestsFailed).toBe(1) })
    expect(agg.stats().requestsThrottled).toBe(1)
    clock.advance(100)
    await vi.waitFor(() => { expect(agg.stats().requestsFailed).toBe(2) })
    clock.advance(1_000)
    await vi.waitFor(() => { expect(agg.stats().datumsPublished).toBe(1) })
    expect(agg.stats().requestsRetried).toBe(2)
    expect(errors.map(e => e.retryable)).toEqual([true, true])
    expect(sink.got).toHaveLength(1)
    await agg.close()
  })

  it('isolates a datum the service rejects; its neighbours are published', async () => {
    const clock = new ManualClock(T0)
    const sink = failingSink(Array(20).fill('invalid'))
    const agg = createAggregator({ namespace: 'T', sink, clock, onWarning: () => {} })
    for (const m of ['A', 'B', 'Bad', 'C', 'D']) agg.record(m, 1)
    const r = await agg.close()
    expect(sink.got.flatMap(b => b.datums.map(d => d.MetricName)).sort()).toEqual(['A', 'B', 'C', 'D'])
    expect(agg.stats().datumsFailed).toBe(1)
    expect(r.errors.some(e => !e.retryable)).toBe(true)
  })

  it('close() reports what it could not publish before its deadline', async () => {
    const clock = new ManualClock(T0)
    const sink = failingSink(Array(1000).fill('fail'))
    const agg = createAggregator({ namespace: 'T', sink, clock, closeTimeoutMs: 200, onWarning: () => {} })
    agg.record('M', 1)
    const r = await agg.close()
    expect(r.datumsPending).toBe(1)
    expect(r.unsent).toHaveLength(1)
    expect(r.unsent[0].datums[0].MetricName).toBe('M')
    expect(r.errors.length).toBeGreaterThan(0)
  })

  it('close() counts a request still unanswered at its deadline as unsent', async () => {
    const clock = new ManualClock(T0)
    const hanging: MetricSink = { name: 'hang', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 1e6, send: () => new Promise<void>(() => {}) }
    const agg = createAggregator({ namespace: 'T', sink: hanging, clock, closeTimeoutMs: 100, onWarning: () => {} })
    agg.record('M', 1)
    const r = await agg.close()
    expect(r.datumsPending).toBe(1)
    expect(r.unsent.map(b => b.datums[0].MetricName)).toEqual(['M'])
  })

  it('a failing sink with no error listener warns instead of crashing', async () => {
    const clock = new ManualClock(T0)
    const warnings: string[] = []
    const agg = createAggregator({ namespace: 'T', sink: failingSink(['fail']), clock, closeTimeoutMs: 100, onWarning: m => warnings.push(m) })
    agg.record('M', 1)
    await agg.close()
    expect(warnings.join('\n')).toMatch(/503/)
  })
})

describe('series eviction and the lookup trie', () => {
  it('evicting a series reached by several key orders unhooks every path; a longer series sharing the prefix survives', async () => {
    const clock = new ManualClock(T0)
    const sink = inMemorySink()
    const agg = createAggregator({ namespace: 'E', sink, clock, seriesIdleMinutes: 1, gracePeriodMs: 0, onWarning: () => {} })
    agg.record('M', 1, { Host: 'h', Zone: 'z' })
    agg.record('M', 1, { Zone: 'z', Host: 'h' })
    agg.record('M', 1, { Host: 'h' })
    for (let i = 0; i < 3; i++) { clock.advance(60_000); agg.record('M', 1, { Host: 'h' }) }   // only the short one stays in use
    await agg.flush()
    expect(agg.stats().seriesEvicted).toBe(1)
    expect(agg.stats().activeSeries).toBe(1)
    agg.record('M', 5, { Zone: 'z', Host: 'h' })       // comes back as one series whatever the order
    agg.record('M', 5, { Host: 'h', Zone: 'z' })
    expect(agg.stats().activeSeries).toBe(2)
    await agg.close()
    const two = sink.datums().filter(d => d.Dimensions.length === 2)
    expect(two.map(d => d.StatisticValues.Sum)).toEqual([2, 10])
    const one = sink.datums().filter(d => d.Dimensions.length === 1)
    expect(one.reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(4)
  })
})

describe('sealing many series', () => {
  it('a minute larger than the queue budget is sealed in slices and nothing is dropped with a healthy sink', async () => {
    const clock = new ManualClock(T0)
    const sink = inMemorySink({ maxBatches: 1e6 })
    const agg = createAggregator({ namespace: 'Big', sink, clock, maxSeries: 100_000, maxQueuedBytes: 1_048_576, gracePeriodMs: 0, onWarning: () => {} })
    for (let i = 0; i < 20_000; i++) agg.record('Lat', i, { Host: `host-${i}`, Pool: 'p'.repeat(50) })
    clock.advance(60_000)
    await agg.flush()
    const st = agg.stats()
    expect(st.datumsDropped).toBe(0)
    expect(st.datumsPublished).toBe(20_000)
    expect(sink.datums().reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(20_000)
    await agg.close()
  })
})
