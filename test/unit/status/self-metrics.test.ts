import { describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock } from '../../../src/index.js'
import { selfMetricsNamespace, startSelfMetrics } from '../../../src/status/self-metrics.js'
import { timedSink } from '../../../src/status/publish-timing.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

describe('startSelfMetrics', () => {
  it('records the sidecar\'s own counters under its own namespace, and they get published', async () => {
    const clock = new ManualClock(T0)
    const sink = timedSink(inMemorySink(), () => clock.now())
    const agg = createAggregator({ namespace: 'MyInference', sink, clock, gracePeriodMs: 1000, onWarning: () => {} })
    const pool = { stats: { datagramsReceived: 0, datagramsDropped: 0, batchesSubmitted: 0, batchesFailed: 0, datagramsLostToWorkerFailure: 0, queuedBatches: 3, queuedBytes: 3000, threads: 1 } }
    const self = startSelfMetrics({ aggregator: agg, pool, timing: sink.timing, intervalMs: 10_000, dimensions: { Host: 'test-host' } })
    expect(self.namespace).toBe('MyInference/minutely')
    for (let i = 0; i < 7; i++) agg.record('ModelLatency', 100 + i, { EndpointName: 'ep' }, { unit: 'Microseconds' })
    agg.record('ModelLatency', NaN)
    clock.advance(10_000)    // tick 1: 7 accepted so far
    for (let i = 0; i < 5; i++) agg.record('ModelLatency', 200, { EndpointName: 'ep' }, { unit: 'Microseconds' })
    clock.advance(10_000)    // tick 2
    clock.advance(42_000)    // past 12:01:01: the minute is sealed and published
    await agg.flush()
    const own = sink.datums().filter(d => d.Namespace === 'MyInference/minutely' && d.Timestamp.getTime() === T0)
    const find = (name: string, dims: Record<string, string> = { Host: 'test-host' }) => own.find(d => d.MetricName === name &&
      JSON.stringify(d.Dimensions.map(x => [x.Name, x.Value])) === JSON.stringify(Object.entries(dims).sort()))
    // Counters are deltas: the minute's Sum is what happened in it (the self-metrics' own samples included from tick 2 on).
    const accepted = find('SamplesAccepted')!
    expect(accepted.Unit).toBe('Count')
    // Ticks at 12:00:10 … 12:00:50 (the one at 12:01:00 belongs to the next minute).
    expect(accepted.StatisticValues.SampleCount).toBe(5)
    expect(accepted.StatisticValues.Minimum).toBe(7)     // tick 1: the 7 samples of the test
    expect(accepted.StatisticValues.Sum).toBeGreaterThanOrEqual(12)
    const rejected = find('SamplesRejected', { Host: 'test-host', Reason: 'not_a_number' })!
    expect(rejected.StatisticValues.Sum).toBe(1)
    expect(find('SamplesRejected')!.StatisticValues.Sum).toBe(1)
    expect(find('IngestQueueBatches')!.StatisticValues.Maximum).toBe(3)
    expect(find('IngestQueueBytes')!.StatisticValues.Maximum).toBe(3000)
    expect(find('ActiveSeries')!.StatisticValues.Minimum).toBeGreaterThanOrEqual(1)
    expect(own.every(d => d.Dimensions.some(x => x.Name === 'Host' && x.Value === 'test-host'))).toBe(true)
    // The first request timed by the sink is recorded as a latency sample of the next minute.
    const lat = agg.snapshot().open.flatMap(p => p.series).find(s => s.metric === 'PublishRequestLatency')
    expect(lat?.unit).toBe('Milliseconds')
    expect(agg.snapshot().open.flatMap(p => p.series).find(s => s.metric === 'PublishDelay')?.max).toBe(2000)   // sent at 12:01:02 (the clock moved on before the send resolved)
    self.stop()
    const before = agg.stats().samplesAccepted
    clock.advance(30_000)
    expect(agg.stats().samplesAccepted).toBe(before)
    await agg.close()
  })

  it('refuses a namespace CloudWatch would refuse, and shortens long ones', () => {
    const agg = createAggregator({ namespace: 'N', sink: inMemorySink(), clock: new ManualClock(T0) })
    expect(() => startSelfMetrics({ aggregator: agg, namespace: 'AWS/Mine' })).toThrow(/reserves/)
    expect(selfMetricsNamespace('x'.repeat(255))).toHaveLength(255)
    void agg.close()
  })
})
