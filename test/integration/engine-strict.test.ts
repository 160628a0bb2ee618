/**
 * The engine end to end through the REAL @aws-sdk/client-cloudwatch (via cloudWatchSink, request
 * compression ON) against the project's strict PutMetricData endpoint on 127.0.0.1:
 *  - a seeded, SageMaker-shaped workload: every request accepted, the datums merged as
 *    CloudWatch merges them give exact SampleCount/Min/Max/Sum and percentiles within 1%;
 *    the request limits (1000 datums, 1 MB, 150 values) are exercised and respected;
 *  - bad samples never leave the process and are counted by reason;
 *  - throttling, 500, 503, timeouts, resets and refused connections are retried by the
 *    engine's own publisher until every datum is accepted exactly once;
 *  - a datum the service rejects is isolated by splitting; its neighbours are published.
 *
 * Time: the engine runs on a ManualClock and the endpoint validates timestamps against the
 * same clock, so sealing and retry backoff move only when the test says so. Only the SDK's
 * request timeout (timeout faults) runs on real time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { MetricDatum as SdkDatum } from '@aws-sdk/client-cloudwatch'
import {
  createAggregator,
  cloudWatchSink,
  ManualClock,
  relativeErrorBound,
  type Aggregator,
  type AggregatorOptions,
  type DatumBatch,
  type RejectReason,
  type SealedPeriod,
  type SinkError,
  type StandardUnit,
} from '../../src/index.js'
import { kMaxDatumsPerRequest, kMaxRequestBytes, kMaxValuesPerDatum, kPeriodMs } from '../../src/limits.js'
import { kRequestBodyBudget } from '../../src/encode/batcher.js'
import { tapped } from '../helpers/tapped-sink.js'
import { startStrictEndpoint, type FaultKind, type StrictEndpoint } from '../helpers/strict-endpoint.js'
import { gaussian, mergeLikeCloudWatch, mulberry32, nearestRank, RawSeries, relErr, seriesKey } from '../helpers/cw-reference.js'

/** A whole minute, far from any real clock: the endpoint checks timestamps against the engine's clock. */
const T0 = Date.UTC(2030, 0, 15, 12, 0, 0)
const kGraceMs = 5_000
const kCredentials = { accessKeyId: 'AKIDSTRICTTEST', secretAccessKey: 'strict-test-secret' }
const kNsInvocations = 'Minutely/EngineStrict'
/** The seed's namespace for instance metrics (allowed: only `AWS/` is reserved). */
const kNsInstance = '/aws/sagemaker/Endpoints'
/** Small backoff so that retries need only a short advance of the ManualClock. */
const kRetryBaseMs = 10
const kRetryMaxMs = 40
/** The sink's per-request timeout (real time) where a fault holds the answer back. */
const kRequestTimeoutMs = 750

let clock = new ManualClock(T0)
let strict: StrictEndpoint

beforeAll(async () => {
  strict = await startStrictEndpoint({ now: () => clock.now(), maxDimensions: 10 })
})

afterAll(async () => {
  await strict?.close()
})

beforeEach(() => {
  strict.reset()
})

interface Harness {
  agg: Aggregator
  errors: SinkError[]
  seals: SealedPeriod[]
  /** Batches as the engine handed them to the sink, in order. */
  batches: DatumBatch[]
}

function harness (opts: Partial<AggregatorOptions> = {}, sinkOpts: { requestTimeoutMs?: number, endpoint?: string } = {}): Harness {
  clock = new ManualClock(T0 + 1_000)
  const batches: DatumBatch[] = []
  const sink = tapped(cloudWatchSink({
    endpoint: sinkOpts.endpoint ?? strict.endpoint,
    region: 'us-east-1',
    credentials: kCredentials,
    ...(sinkOpts.requestTimeoutMs !== undefined ? { requestTimeoutMs: sinkOpts.requestTimeoutMs } : {}),
  }), batches)
  const agg = createAggregator({
    namespace: kNsInvocations,
    sink,
    clock,
    gracePeriodMs: kGraceMs,
    retryBaseMs: kRetryBaseMs,
    retryMaxMs: kRetryMaxMs,
    random: mulberry32(7),
    onWarning: () => { /* counted in stats(); keep the test output quiet */ },
    ...opts,
  })
  const errors: SinkError[] = []
  const seals: SealedPeriod[] = []
  agg.on('error', (e: SinkError) => { errors.push(e) })
  agg.on('seal', (p: SealedPeriod) => { seals.push(p) })
  return { agg, errors, seals, batches }
}

/** Publishes until nothing is queued or in flight (retries may need several flushes). */
async function settle (agg: Aggregator): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await agg.flush()
    const s = agg.stats()
    if (s.datumsQueued === 0 && s.inFlightRequests === 0) return
  }
  throw new Error(`publisher did not settle: ${JSON.stringify(agg.stats())}`)
}

/** Every datum the endpoint accepted, with its request's namespace. */
function received (): Array<{ namespace: string, datum: SdkDatum }> {
  return strict.accepted.flatMap(a => a.datums.map(datum => ({ namespace: a.namespace, datum })))
}

function datumId (namespace: string, d: SdkDatum): string {
  // A split series has several datums with the same key: tell them apart by their first value.
  return seriesKey(namespace, d.MetricName!, d.Dimensions ?? [], d.Unit ?? 'None', new Date(d.Timestamp!).getTime()) + '#' + String(d.Values?.[0]) + '#' + String(d.StatisticValues?.SampleCount)
}

// -------------------------------------------------------------------------------------------
// The reference workload
// -------------------------------------------------------------------------------------------

/** Raw samples by merge key, as the test recorded them. */
class Reference {
  readonly series = new Map<string, RawSeries>()
  samples = 0
  add (namespace: string, metric: string, dims: Record<string, string>, unit: string, tMs: number, v: number, w = 1): void {
    const key = seriesKey(namespace, metric, dims, unit, tMs - (tMs % kPeriodMs))
    let r = this.series.get(key)
    if (r === undefined) { r = new RawSeries(); this.series.set(key, r) }
    r.add(v, w)
    this.samples++
  }
}

/**
 * Two minutes of a small SageMaker fleet, seeded:
 *  minute A (T0): instance metrics (Percent, two decimals, 0–400 for CPU/GPU) of 250 hosts in
 *    /aws/sagemaker/Endpoints — 1250 small datums, so the 1000-datum limit splits the request;
 *    plus Invocations with sampling weights and a wide ±1e-6..1e6 series with zeros and negatives.
 *  minute B (T0+60s): per-request latencies (Microseconds, log-normal) of 20 endpoints × 2
 *    variants × 3 pipeline containers — hundreds of buckets a series, so every series is split
 *    over several datums and the minute is well over 1 MB, so the size limit splits requests.
 * Minute A is recorded with explicit timestamps (record()), minute B on pre-resolved handles.
 */
function recordWorkload (agg: Aggregator, ref: Reference): void {
  const rand = mulberry32(0xc10d)
  const pct = (x: number): number => Math.round(x * 100) / 100
  // ---- minute A
  for (let h = 0; h < 250; h++) {
    const ep = `ep-${h % 10}`
    const host = `${ep}/AllTraffic/i-0${(0x1000000 + h * 7919).toString(16)}`
    const dims = { Host: host }
    const cpus = 1 + (h % 4)
    for (let k = 0; k < 12; k++) {   // every 5 s
      const t = T0 + k * 5_000 + Math.floor(rand() * 1000)
      const samples: Array<[string, number]> = [
        ['CPUUtilization', pct(Math.min(100 * cpus, Math.max(0, 30 * cpus + 20 * gaussian(rand))))],
        ['MemoryUtilization', pct(40 + 30 * rand())],
        ['GPUUtilization', pct(Math.min(100 * cpus, 100 * cpus * rand()))],
        ['GPUMemoryUtilization', pct(10 + 80 * rand())],
        ['DiskUtilization', pct(12.5 + h / 100)],
      ]
      for (const [metric, v] of samples) {
        agg.record(metric, v, dims, { unit: 'Percent', timestamp: t, namespace: kNsInstance })
        ref.add(kNsInstance, metric, dims, 'Percent', t, v)
      }
    }
  }
  for (let e = 0; e < 20; e++) {
    for (const variant of ['AllTraffic', 'Canary']) {
      const dims = { EndpointName: `ep-${e}`, VariantName: variant }
      for (let k = 0; k < 40; k++) {
        const t = T0 + Math.floor(rand() * 60_000)
        const w = 1 + Math.floor(rand() * 10)   // a sampled counter: weight = 1 / rate
        agg.record('Invocations', 1, dims, { unit: 'Count', timestamp: t, count: w })
        ref.add(kNsInvocations, 'Invocations', dims, 'Count', t, 1, w)
        const err = rand() < 0.1 ? 1 : 0
        agg.record('Invocation4XXErrors', err, dims, { unit: 'Count', timestamp: t })
        ref.add(kNsInvocations, 'Invocation4XXErrors', dims, 'Count', t, err)
      }
    }
  }
  {
    const dims = { EndpointName: 'ep-0', Probe: 'clock-skew' }
    for (let k = 0; k < 3000; k++) {
      const t = T0 + Math.floor(rand() * 60_000)
      const r = rand()
      const v = r < 0.05 ? 0 : (r < 0.5 ? -1 : 1) * 10 ** (-6 + 12 * rand())
      agg.record('ClockSkew', v, dims, { unit: 'Seconds', timestamp: t })
      ref.add(kNsInvocations, 'ClockSkew', dims, 'Seconds', t, v)
    }
  }
  // ---- minute B: the clock moves into it; handles record "now"
  clock.set(T0 + kPeriodMs + 1_000)
  const tB = T0 + kPeriodMs
  for (let e = 0; e < 20; e++) {
    for (const variant of ['AllTraffic', 'Canary']) {
      const base = { EndpointName: `ep-${e}`, VariantName: variant }
      const model = agg.series('ModelLatency', base, { unit: 'Microseconds' })
      const overhead = agg.series('OverheadLatency', base, { unit: 'Microseconds' })
      const containers = [1, 2, 3].map(c => {
        const dims = { ...base, ContainerName: `container-${c}` }
        return { dims, h: agg.series('ContainerLatency', dims, { unit: 'Microseconds' }) }
      })
      for (let k = 0; k < 1500; k++) {
        let total = 0
        for (const c of containers) {
          const v = Math.round(8000 * Math.exp(0.9 * gaussian(rand)) * 1000) / 1000
          total += v
          c.h.record(v)
          ref.add(kNsInvocations, 'ContainerLatency', c.dims, 'Microseconds', tB, v)
        }
        model.record(total)
        ref.add(kNsInvocations, 'ModelLatency', base, 'Microseconds', tB, total)
        const o = Math.round(700 * Math.exp(0.7 * gaussian(rand)) * 1000) / 1000
        overhead.record(o)
        ref.add(kNsInvocations, 'OverheadLatency', base, 'Microseconds', tB, o)
      }
    }
  }
}

describe('engine → cloudWatchSink → strict endpoint', () => {
  it('a realistic workload: every request accepted, merged stats exact, percentiles within 1%, limits respected', async () => {
    const { agg, errors, seals, batches } = harness()
    const ref = new Reference()
    recordWorkload(agg, ref)
    expect(agg.stats().samplesAccepted).toBe(ref.samples)
    // Seal both minutes (timers fire inside advance; sends start right away), then publish.
    clock.set(T0 + 2 * kPeriodMs + kGraceMs + 1)
    await settle(agg)

    expect(strict.rejected).toEqual([])
    expect(errors).toEqual([])
    expect(strict.stats.faulted).toBe(0)

    // ---- request limits
    for (const a of strict.accepted) {
      expect(a.datums.length).toBeLessThanOrEqual(kMaxDatumsPerRequest)
      expect(a.bytes).toBeLessThanOrEqual(kMaxRequestBytes)
      expect(a.decodedBytes).toBeLessThanOrEqual(kMaxRequestBytes)
      for (const d of a.datums) {
        expect(d.Values!.length).toBeLessThanOrEqual(kMaxValuesPerDatum)
        expect(d.Counts!.length).toBe(d.Values!.length)
        expect(d.StorageResolution).toBe(60)
      }
      // The request is one batch the engine made, and the engine's size estimate (what it cuts
      // batches by) is within the margin it keeps under 1 MB of the body the SDK really sent.
      const first = datumId(a.namespace, a.datums[0])
      const b = batches.find(x => x.namespace === a.namespace && datumId(x.namespace, x.datums[0] as unknown as SdkDatum) === first)
      expect(b).toBeDefined()
      expect(b!.datums).toHaveLength(a.datums.length)
      expect(Math.abs(b!.bytes - a.decodedBytes)).toBeLessThanOrEqual(kMaxRequestBytes - kRequestBodyBudget)
    }
    // Both limits were actually exercised: a request cut at 1000 datums, and requests cut by
    // size (well under 1000 datums, close to the 1 MB budget, gzipped on the wire).
    const sizes = strict.accepted.map(a => a.datums.length)
    expect(Math.max(...sizes)).toBe(kMaxDatumsPerRequest)
    const bySize = strict.accepted.filter(a => a.datums.length < kMaxDatumsPerRequest && a.decodedBytes > 900_000)
    expect(bySize.length).toBeGreaterThanOrEqual(1)
    expect(bySize.every(a => a.gzipped && a.bytes < a.decodedBytes)).toBe(true)
    const minuteB = strict.accepted.filter(a => new Date(a.datums[0].Timestamp!).getTime() === T0 + kPeriodMs)
    expect(minuteB.reduce((n, a) => n + a.decodedBytes, 0)).toBeGreaterThan(kMaxRequestBytes)
    for (const a of strict.accepted) for (const d of a.datums) {
      expect(a.namespace === kNsInstance).toBe(/Utilization$/.test(d.MetricName!))
    }

    // ---- what a dashboard reads, series by series
    const merged = mergeLikeCloudWatch(received())
    expect([...merged.keys()].sort()).toEqual([...ref.series.keys()].sort())
    const bound = relativeErrorBound(6)
    expect(bound).toBeLessThan(0.01)
    let split = 0
    for (const [key, raw] of ref.series) {
      const m = merged.get(key)!
      const where = `${key}`
      expect(m.count, where).toBe(raw.count)
      expect(m.min, where).toBe(raw.min)
      expect(m.max, where).toBe(raw.max)
      expect(relErr(m.sum, raw.sum), where).toBeLessThanOrEqual(1e-12)
      expect([...m.dist.values()].reduce((a, b) => a + b, 0), where).toBe(raw.count)
      for (const q of [0.5, 0.9, 0.99, 0.999]) {
        const got = nearestRank(m.dist, q)
        const exact = raw.percentile(q)
        expect(relErr(got, exact), `${where} p${q * 100}: published ${got}, exact ${exact}`).toBeLessThanOrEqual(0.01)
        expect(relErr(got, exact), `${where} p${q * 100}`).toBeLessThanOrEqual(bound * (1 + 1e-9))
      }
      if (m.datums > 1) split++
    }
    // Every latency series and the wide one have > 150 buckets and were split.
    expect(split).toBeGreaterThanOrEqual(20 * 2 * 5 + 1)
    const skew = [...merged.entries()].find(([k]) => k.includes('ClockSkew'))![1]
    expect(skew.datums).toBeGreaterThan(1)
    expect(skew.dist.get(0)).toBeGreaterThan(0)   // zero published exactly as 0

    // ---- the engine's counters agree with what the service received
    const st = agg.stats()
    expect(st.samplesAccepted).toBe(ref.samples)
    expect(st.samplesRejected).toBe(0)
    expect(st.datumsPublished).toBe(strict.stats.datums)
    expect(st.requestsSent).toBe(strict.stats.requests)
    expect(st.requestsSucceeded).toBe(strict.accepted.length)
    expect(st.requestsFailed).toBe(0)
    expect(st.requestsRetried).toBe(0)
    expect(st.datumsFailed).toBe(0)
    expect(st.datumsQueued).toBe(0)
    expect(st.periodsSealed).toBe(2)
    // The SDK made one attempt per request: any retry would be the engine's.
    expect(strict.log.every(l => l.attempt === 1)).toBe(true)

    // ---- 'seal' events report the same exact statistics
    expect(seals.map(s => s.periodStart).sort()).toEqual([T0, T0 + kPeriodMs])
    let reported = 0
    for (const p of seals) {
      expect(p.late).toBe(false)
      for (const s of p.series) {
        const raw = ref.series.get(seriesKey(s.namespace, s.metric, s.dimensions, s.unit, p.periodStart))!
        expect(s.count).toBe(raw.count)
        expect(s.min).toBe(raw.min)
        expect(s.max).toBe(raw.max)
        expect(relErr(s.sum, raw.sum)).toBeLessThanOrEqual(1e-12)
        reported++
      }
    }
    expect(reported).toBe(ref.series.size)
    const closed = await agg.close()
    expect(closed.unsent).toEqual([])
  })

  it('one flush() waits for every request it causes (concurrency 1, 3 batches)', async () => {
    // Regression: each answer's .finally() starts the next queued batch, and flush() used to
    // return once the queue was empty although that request was still in flight (it reported
    // 2000 of 2500 datums published).
    const { agg } = harness({ maxConcurrentRequests: 1 })
    for (let i = 0; i < 2500; i++) agg.record('Invocations', 1, { EndpointName: `ep-${i}` }, { unit: 'Count' })
    clock.advance(kPeriodMs + kGraceMs)
    let r
    let atReturn
    try {
      r = await agg.flush()
      atReturn = { endpoint: strict.stats.datums, inFlight: agg.stats().inFlightRequests }
    } finally {
      await settle(agg)   // never leave requests in flight for the next test
      await agg.close()
    }
    expect(r.datumsPublished).toBe(2500)
    expect(atReturn).toEqual({ endpoint: 2500, inFlight: 0 })
  })

  it('bad samples never reach the endpoint, are counted by reason, and their neighbours are published intact', async () => {
    const { agg, errors } = harness()
    const unit: StandardUnit = 'Microseconds'
    const dims = { EndpointName: 'ep-bad', VariantName: 'AllTraffic' }
    const h = agg.series('ModelLatency', dims, { unit })
    const now = clock.now()
    const ref = new Reference()
    const good = (v: number): void => {
      agg.record('ModelLatency', v, dims, { unit, timestamp: now })
      ref.add(kNsInvocations, 'ModelLatency', dims, unit, now, v)
    }
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`D${i}`, `v${i}`]))
    const rand = mulberry32(99)
    const expected: Partial<Record<RejectReason, number>> = {}
    const bad = (reason: RejectReason, f: () => void): void => { f(); expected[reason] = (expected[reason] ?? 0) + 1 }
    for (let i = 0; i < 20; i++) {
      good(1000 + Math.round(rand() * 1e6) / 1e3)
      bad('not_a_number', () => { agg.record('ModelLatency', NaN, dims, { unit }) })
      bad('not_a_number', () => { h.record(NaN) })
      bad('not_finite', () => { agg.record('ModelLatency', Infinity, dims, { unit }) })
      bad('not_finite', () => { h.record(-Infinity) })
      bad('too_many_dimensions', () => { agg.record('ModelLatency', 5, eleven, { unit }) })
      bad('namespace_invalid', () => { agg.record('ModelLatency', 5, dims, { unit, namespace: 'AWS/SageMaker' }) })
      bad('unit_invalid', () => { agg.record('ModelLatency', 5, dims, { unit: 'Millis' as StandardUnit }) })
      bad('dimension_invalid', () => { agg.record('ModelLatency', 5, { EndpointName: '', VariantName: 'AllTraffic' }, { unit }) })
      bad('timestamp_too_old', () => { agg.record('ModelLatency', 5, dims, { unit, timestamp: now - 21 * 24 * 3600_000 }) })
      bad('timestamp_in_future', () => { agg.record('ModelLatency', 5, dims, { unit, timestamp: now + 3 * 3600_000 }) })
      bad('value_out_of_range', () => { agg.record('ModelLatency', 2 ** 400, dims, { unit }) })
      bad('value_out_of_range', () => { h.record(-(2 ** 400)) })
      good(2000 + Math.round(rand() * 1e6) / 1e3)
      h.record(1.5)
      ref.add(kNsInvocations, 'ModelLatency', dims, unit, now, 1.5)
    }
    const st0 = agg.stats()
    expect(st0.samplesAccepted).toBe(ref.samples)
    const total = Object.values(expected).reduce((a, b) => a + b, 0)
    expect(st0.samplesRejected).toBe(total)
    for (const [reason, n] of Object.entries(st0.rejectedByReason)) {
      expect(n, reason).toBe(expected[reason as RejectReason] ?? 0)
    }

    clock.advance(kPeriodMs + kGraceMs)
    await settle(agg)
    expect(strict.rejected).toEqual([])
    expect(errors).toEqual([])
    const got = received()
    expect(got).toHaveLength(1)
    expect(got[0].namespace).toBe(kNsInvocations)
    expect(got[0].datum.Dimensions).toEqual([{ Name: 'EndpointName', Value: 'ep-bad' }, { Name: 'VariantName', Value: 'AllTraffic' }])
    const m = mergeLikeCloudWatch(got)
    const [raw] = [...ref.series.values()]
    const [pub] = [...m.values()]
    expect(pub.count).toBe(raw.count)
    expect(pub.min).toBe(1.5)
    expect(pub.max).toBe(raw.max)
    expect(relErr(pub.sum, raw.sum)).toBeLessThanOrEqual(1e-12)
    expect(agg.stats().datumsPublished).toBe(1)
    await agg.close()
  })
})

// -------------------------------------------------------------------------------------------
// Faults
// -------------------------------------------------------------------------------------------

/** 1200 small datums: two requests (1000 + 200), both in flight at once (concurrency 4). */
function recordFaultWorkload (agg: Aggregator): number {
  for (let i = 0; i < 600; i++) {
    const dims = { EndpointName: `ep-${i % 40}`, VariantName: `v-${Math.floor(i / 40)}` }
    agg.record('Invocations', 1, dims, { unit: 'Count', count: 1 + (i % 3) })
    agg.record('ModelLatency', 1000 + i, dims, { unit: 'Microseconds' })
  }
  return 1200
}

/** Asserts that the endpoint holds each of the engine's datums exactly once (or twice, for `dups`). */
function expectEachOnce (expectedDatums: number, dups: Set<string> = new Set()): void {
  const seen = new Map<string, number>()
  for (const { namespace, datum } of received()) {
    const id = datumId(namespace, datum)
    seen.set(id, (seen.get(id) ?? 0) + 1)
  }
  expect(seen.size).toBe(expectedDatums)
  for (const [id, n] of seen) expect(n, id).toBe(dups.has(id) ? 2 : 1)
}

type Case = { fault: FaultKind | 'refused', throttled: boolean }
const kCases: Case[] = [
  { fault: 'throttle', throttled: true },
  { fault: '500', throttled: false },
  { fault: '503', throttled: false },
  { fault: 'timeout', throttled: false },
  { fault: 'reset', throttled: false },
  { fault: 'refused', throttled: false },
]

describe('faults: the engine retries until every datum is accepted exactly once', () => {
  it.each(kCases)('$fault', async ({ fault, throttled }) => {
    // The request timeout (real time) only matters for the timeout fault; it is kept well above
    // what a normal request takes on a loaded 2-core machine so that only the faulted one times out.
    const { agg, errors } = harness({}, fault === 'timeout' ? { requestTimeoutMs: kRequestTimeoutMs } : {})
    const datums = recordFaultWorkload(agg)
    if (fault === 'refused') await strict.refuse()
    else strict.nextFaults(fault)
    // Seal the minute: both requests start at once; the first to arrive is faulted
    // (when refusing, both fail to connect).
    clock.advance(kPeriodMs + kGraceMs)
    await agg.flush()   // waits for both attempts; the failed one waits for its backoff
    const failedRequests = fault === 'refused' ? 2 : 1
    let st = agg.stats()
    expect(st.requestsSent).toBe(2)
    expect(st.requestsFailed).toBe(failedRequests)
    expect(st.requestsThrottled).toBe(throttled ? 1 : 0)
    expect(st.requestsRetried).toBe(0)
    expect(st.datumsQueued).toBeGreaterThan(0)
    expect(st.datumsPublished + st.datumsQueued).toBe(datums)
    expect(errors).toHaveLength(failedRequests)
    for (const e of errors) {
      expect(e.code).toBe('METRICS_ERR_SINK')
      expect(e.retryable).toBe(true)
      expect(e.throttled).toBe(throttled)
      // Sent and never answered: CloudWatch may have stored it. A refusal or an answer leaves no doubt.
      expect(e.outcomeUnknown).toBe(fault === 'timeout' || fault === 'reset')
    }
    if (throttled) expect(st.concurrency).toBeLessThan(4)   // AIMD: halved on throttling

    if (fault === 'refused') await strict.resume()
    // The backoff passes: the publisher's own timer sends the retry (no flush() involved).
    clock.advance(kRetryMaxMs)
    await strict.waitFor(ep => ep.stats.datums >= datums)
    await settle(agg)

    expectEachOnce(datums)
    st = agg.stats()
    expect(st.datumsPublished).toBe(datums)
    expect(st.requestsSent).toBe(2 + failedRequests)
    expect(st.requestsRetried).toBe(failedRequests)
    expect(st.requestsFailed).toBe(failedRequests)
    expect(st.requestsSucceeded).toBe(2)
    expect(st.datumsFailed).toBe(0)
    expect(st.datumsQueued).toBe(0)
    expect(strict.rejected).toEqual([])
    // Retries are new SDK calls of one attempt each (the sink leaves retrying to the engine).
    expect(strict.log.every(l => l.attempt === 1)).toBe(true)
    if (fault !== 'refused') {
      expect(strict.stats.faults[fault]).toBe(1)
      expect(strict.log).toHaveLength(3)
    }
    await agg.close()
  })

  it('acceptThenTimeout: the service took the request but the client timed out; the retry may duplicate that one request, no more', async () => {
    // CloudWatch recorded the datums, the answer never came, the engine cannot know, so it
    // sends them again (at-least-once delivery). CloudWatch would then count those datums
    // twice. What must hold: only the datums of that one request arrive twice, all others once.
    const { agg, errors } = harness({}, { requestTimeoutMs: kRequestTimeoutMs })
    const datums = recordFaultWorkload(agg)
    strict.nextFaults('acceptThenTimeout')
    clock.advance(kPeriodMs + kGraceMs)
    await agg.flush()
    expect(agg.stats().requestsFailed).toBe(1)
    expect(errors).toHaveLength(1)
    expect(errors[0].retryable).toBe(true)
    expect(errors[0].outcomeUnknown).toBe(true)
    expect(agg.stats().requestsUnanswered).toBe(1)
    clock.advance(kRetryMaxMs)
    await settle(agg)

    const faulted = strict.accepted.filter(a => a.viaFault === 'acceptThenTimeout')
    expect(faulted).toHaveLength(1)
    const dups = new Set(faulted[0].datums.map(d => datumId(faulted[0].namespace, d)))
    expect(strict.stats.datums).toBe(datums + faulted[0].datums.length)
    expectEachOnce(datums, dups)
    const st = agg.stats()
    expect(st.datumsPublished).toBe(datums)
    expect(st.requestsRetried).toBe(1)
    expect(st.datumsQueued).toBe(0)
    await agg.close()
  })
})

describe('close()', () => {
  it('seals and publishes the open minute', async () => {
    const { agg } = harness()
    const dims = { EndpointName: 'ep-close', VariantName: 'AllTraffic' }
    for (let i = 0; i < 100; i++) agg.record('ModelLatency', 500 + i, dims, { unit: 'Microseconds' })
    const r = await agg.close()   // the minute is still open: nothing advanced the clock
    expect(r.unsent).toEqual([])
    expect(r.datumsPending).toBe(0)
    expect(r.datumsPublished).toBe(1)
    const [d] = strict.allDatums()
    expect(new Date(d.Timestamp!).getTime()).toBe(T0)
    expect(d.StatisticValues).toEqual({ SampleCount: 100, Sum: 100 * 500 + 4950, Minimum: 500, Maximum: 599 })
    // and then refuses new samples, counted
    agg.record('ModelLatency', 1, dims, { unit: 'Microseconds' })
    expect(agg.stats().rejectedByReason.closed).toBe(1)
  })

  it('returns what it could not publish by its deadline (service unreachable)', async () => {
    const { agg } = harness({ closeTimeoutMs: 300 })
    for (let i = 0; i < 1200; i++) agg.record('Invocations', 1, { EndpointName: `ep-${i}` }, { unit: 'Count' })
    await strict.refuse()
    let r
    try {
      r = await agg.close()
    } finally {
      await strict.resume()
    }
    expect(r.datumsPublished).toBe(0)
    expect(r.datumsPending).toBe(1200)
    expect(r.unsent.map(b => b.datums.length).sort((a, b) => a - b)).toEqual([200, 1000])
    expect(r.errors.length).toBeGreaterThanOrEqual(2)
    expect(r.errors.every(e => e.retryable)).toBe(true)
    expect(strict.stats.datums).toBe(0)
  })
})

describe('a datum the service rejects as invalid', () => {
  let strict3: StrictEndpoint
  beforeAll(async () => {
    // The service allows 3 dimensions; the engine allows its default 10, so a series with 5
    // dimensions passes the engine and is rejected by the service.
    strict3 = await startStrictEndpoint({ now: () => clock.now(), maxDimensions: 3 })
  })
  afterAll(async () => { await strict3?.close() })

  it('is isolated by splitting; every other datum is published; datumsFailed and a non-retryable error', async () => {
    const { agg, errors } = harness({}, { endpoint: strict3.endpoint })
    const good = 40
    for (let i = 0; i < good; i++) {
      agg.record('ModelLatency', 1000 + i, { EndpointName: `ep-${i}`, VariantName: 'AllTraffic' }, { unit: 'Microseconds' })
      if (i === 17) {
        agg.record('ModelLatency', 5, { EndpointName: 'wide', VariantName: 'v', ContainerName: 'c', Region: 'r', Zone: 'z' }, { unit: 'Microseconds' })
      }
    }
    clock.advance(kPeriodMs + kGraceMs)
    await settle(agg)

    const got = strict3.accepted.flatMap(a => a.datums)
    expect(got).toHaveLength(good)
    expect(got.every(d => d.Dimensions!.length === 2)).toBe(true)
    expect(new Set(got.map(d => d.Dimensions![0].Value)).size).toBe(good)
    expect(strict3.rejected.length).toBeGreaterThanOrEqual(2)
    expect(strict3.rejected.every(r => r.code === 'InvalidParameterValue')).toBe(true)
    const st = agg.stats()
    expect(st.datumsFailed).toBe(1)
    expect(st.datumsPublished).toBe(good)
    expect(st.requestsFailed).toBe(strict3.rejected.length)
    expect(st.requestsRetried).toBe(0)
    expect(st.datumsQueued).toBe(0)
    const fatal = errors.filter(e => !e.retryable)
    expect(fatal).toHaveLength(1)
    expect(fatal[0].datums).toBe(1)
    expect(fatal[0].message).toMatch(/InvalidParameterValue/)
    // Splitting is not retrying: nothing was re-sent as the same batch.
    expect(errors.every(e => !e.retryable)).toBe(true)
    await agg.close()
  })
})
