import { describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, SinkError, type MetricSink } from '../../../src/index.js'
import { Exposition, renderMetrics } from '../../../src/status/metrics.js'
import { timedSink } from '../../../src/status/publish-timing.js'
import { parseExposition } from './prom-parse.js'
import { kVersion } from '../../../src/status/version.js'
import pkg from '../../../package.json' with { type: 'json' }

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

describe('renderMetrics', () => {
  it('exposes the aggregator counters in Prometheus text format', async () => {
    const clock = new ManualClock(T0)
    const sink = timedSink(inMemorySink(), () => clock.now())
    const agg = createAggregator({ namespace: 'Test', sink, clock, gracePeriodMs: 1000, onWarning: () => {} })
    agg.record('ModelLatency', 1000, { EndpointName: 'ep' }, { unit: 'Microseconds' })
    agg.record('ModelLatency', 2000, { EndpointName: 'ep' }, { unit: 'Microseconds' })
    agg.record('ModelLatency', NaN)
    agg.record('ModelLatency', 1, { 'bad\u0001': 'x' })
    clock.advance(61_000 + 1000)
    await agg.flush()
    const pool = { stats: { datagramsReceived: 10, datagramsDropped: 2, batchesSubmitted: 3, batchesFailed: 0, datagramsLostToWorkerFailure: 0, queuedBatches: 1, queuedBytes: 1000, threads: 2 } }
    const text = renderMetrics({ aggregator: agg, pool, timing: sink.timing, info: { version: '0.1.0' }, listeners: { statsd: { stats: { datagrams: 7, tooLarge: 1 } }, emf: () => ({ connections: 3 }), http: () => ({ samplesAccepted: 2, samplesRejected: 2, requests: 1 }) } })
    const m = parseExposition(text)
    const st = agg.stats()
    expect(m.get('minutely_samples_accepted_total')).toBe(2)
    expect(m.get('minutely_samples_rejected_total{reason="not_a_number"}')).toBe(1)
    expect(m.get('minutely_samples_rejected_total{reason="dimension_invalid"}')).toBe(1)
    expect(m.get('minutely_samples_rejected_total{reason="too_large"}')).toBe(0)
    expect(m.get('minutely_series_active')).toBe(st.activeSeries)
    expect(m.get('minutely_requests_sent_total')).toBe(1)
    expect(m.get('minutely_requests_succeeded_total')).toBe(1)
    expect(m.get('minutely_datums_published_total')).toBe(st.datumsPublished)
    expect(m.get('minutely_last_publish_timestamp_seconds')).toBe(st.lastPublishAt / 1000)
    expect(m.get('minutely_ingest_queue_batches')).toBe(1)
    expect(m.get('minutely_ingest_queue_bytes')).toBe(1000)
    expect(m.get('minutely_ingest_datagrams_dropped_total')).toBe(2)
    expect(m.get('minutely_listener_events_total{listener="statsd",event="too_large"}')).toBe(1)
    expect(m.get('minutely_listener_events_total{listener="emf",event="connections"}')).toBe(3)
    expect(m.get('minutely_listener_samples_total{listener="http",outcome="accepted"}')).toBe(2)
    expect(m.get('minutely_listener_samples_total{listener="http",outcome="rejected"}')).toBe(2)
    expect(m.get('minutely_listener_events_total{listener="http",event="requests"}')).toBe(1)
    expect(m.get('minutely_publish_request_duration_seconds_count')).toBe(1)
    expect(m.get('minutely_publish_request_duration_seconds_bucket{le="+Inf"}')).toBe(1)
    // The minute 12:00 ended at 12:01:00 and was published at 12:01:02.
    expect(m.get('minutely_publish_delay_seconds_sum')).toBe(2)
    expect(m.get('minutely_publish_delay_seconds_bucket{le="2.5"}')).toBe(1)
    expect(m.get('minutely_publish_delay_seconds_bucket{le="1"}')).toBe(0)
    expect(m.get('minutely_build_info{version="0.1.0",namespace="Test",sink="memory"}')).toBe(1)
    await agg.close()
  })

  it('counts failed, throttled and retried requests', async () => {
    const clock = new ManualClock(T0)
    let fail = 2
    const flaky: MetricSink = {
      name: 'flaky', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 1_000_000,
      async send () { if (fail-- > 0) throw new SinkError('Rate exceeded', { retryable: true, throttled: true }) },
    }
    const sink = timedSink(flaky, () => clock.now())
    const agg = createAggregator({ namespace: 'Test', sink, clock, gracePeriodMs: 0, retryBaseMs: 10, retryMaxMs: 10, random: () => 1 })
    agg.on('error', () => {})
    agg.record('Invocations', 1)
    clock.advance(60_001)
    await agg.flush()
    for (let i = 0; i < 5 && agg.stats().datumsQueued > 0; i++) { clock.advance(20); await agg.flush() }
    const m = parseExposition(renderMetrics({ aggregator: agg, timing: sink.timing }))
    expect(m.get('minutely_requests_failed_total')).toBe(2)
    expect(m.get('minutely_requests_throttled_total')).toBe(2)
    expect(m.get('minutely_requests_retried_total')).toBeGreaterThanOrEqual(2)
    expect(m.get('minutely_requests_succeeded_total')).toBe(1)
    expect(m.get('minutely_publish_request_duration_seconds_count')).toBe(3)
    expect(sink.timing.failures).toBe(2)
    await agg.close()
  })

  it('takes the pool and the listeners lazily (they may start after the HTTP listener)', async () => {
    const agg = createAggregator({ namespace: 'Test', sink: inMemorySink(), clock: new ManualClock(T0) })
    let pool: { stats: { datagramsReceived: number, datagramsDropped: number, batchesSubmitted: number, batchesFailed: number, datagramsLostToWorkerFailure: number, queuedBatches: number, queuedBytes: number, threads: number } } | undefined
    let emf: { stats: Record<string, number> } | undefined
    const src = { aggregator: agg, pool: () => pool, listeners: () => ({ emf, statsd: undefined }) }
    let m = parseExposition(renderMetrics(src))
    expect(m.has('minutely_ingest_queue_batches')).toBe(false)
    expect([...m.keys()].some(k => k.startsWith('minutely_listener_events_total{'))).toBe(false)
    pool = { stats: { datagramsReceived: 1, datagramsDropped: 0, batchesSubmitted: 1, batchesFailed: 0, datagramsLostToWorkerFailure: 0, queuedBatches: 4, queuedBytes: 4000, threads: 2 } }
    emf = { stats: { connections: 2, linesTooLong: 1 } }
    m = parseExposition(renderMetrics(src))
    expect(m.get('minutely_ingest_queue_batches')).toBe(4)
    expect(m.get('minutely_listener_events_total{listener="emf",event="lines_too_long"}')).toBe(1)
    await agg.close()
  })

  it('labels build_info with the package version by default', async () => {
    expect(kVersion).toBe(pkg.version)
    const agg = createAggregator({ namespace: 'Test', sink: inMemorySink(), clock: new ManualClock(T0) })
    expect(parseExposition(renderMetrics({ aggregator: agg })).get(`minutely_build_info{version="${pkg.version}",namespace="Test",sink="memory"}`)).toBe(1)
    await agg.close()
  })

  it('escapes label values and names', () => {
    const e = new Exposition().family('x_total', 'counter', 'help with \\ and\nnewline', [[{ 'Bad-Name': 'a"b\\c\nd' }, 1]])
    expect(e.toString()).toBe('# HELP x_total help with \\\\ and\\nnewline\n# TYPE x_total counter\nx_total{bad_name="a\\"b\\\\c\\nd"} 1\n')
    parseExposition(e.toString())
  })
})

describe('timedSink', () => {
  it('behaves like the sink it wraps', async () => {
    const inner = inMemorySink()
    const sink = timedSink(inner)
    expect(sink.name).toBe('memory')
    expect(sink.maxDatumsPerBatch).toBe(inner.maxDatumsPerBatch)
    expect(sink.batches).toBe(inner.batches)
    await sink.send({ namespace: 'N', datums: [], bytes: 10 })
    expect(inner.batches).toHaveLength(1)
    expect(sink.datums()).toEqual([])
    expect(sink.timing.requests).toBe(1)
    expect('timing' in sink).toBe(true)
  })
})
