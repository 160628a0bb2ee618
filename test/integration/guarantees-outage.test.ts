/**
 * The outage guarantees against the strict endpoint, through the real SDK:
 *  - CloudWatch answering 503 for 10 minutes under steady load: 0 samples lost, the publish
 *    queue stays within its memory budget, the rest spills to the spool and is replayed in
 *    order after recovery;
 *  - half of all requests throttled: 0 lost, concurrency backs off.
 * Engine time is a ManualClock (10 simulated minutes take a second or two); the HTTP is real.
 * Each test prints its figures.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { cloudWatchSink, createAggregator, ManualClock, type Aggregator } from '../../src/index.js'
import { startStrictEndpoint, type StrictEndpoint } from '../helpers/strict-endpoint.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
let strict: StrictEndpoint
let clock: ManualClock
const dirs: string[] = []

beforeAll(async () => {
  clock = new ManualClock(T0)
  strict = await startStrictEndpoint({ now: () => clock.now(), maxDimensions: 10 })
})
afterAll(async () => {
  await strict.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function sink () {
  return cloudWatchSink({ endpoint: strict.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, requestTimeoutMs: 2000 })
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/** Merged SampleCount of everything the endpoint accepted, per metric. */
function acceptedCount (metric: string): number {
  return strict.allDatums().filter(d => d.MetricName === metric).reduce((a, d) => a + (d.StatisticValues?.SampleCount ?? 0), 0)
}

async function settle (agg: Aggregator, metric: string, expected: number): Promise<void> {
  for (let i = 0; i < 600 && acceptedCount(metric) < expected; i++) {
    clock.advance(5_000)
    await tick()
    if (agg.stats().inFlightRequests > 0) await strict.waitFor(() => agg.stats().inFlightRequests === 0, 5_000).catch(() => {})
  }
}

it('a 10-minute 503 outage under steady load loses nothing; memory stays in budget; spool replays in order', async () => {
  strict.reset()
  const dir = mkdtempSync(join(tmpdir(), 'minutely-outage-')); dirs.push(dir)
  const budget = 1_048_576
  const agg = createAggregator({ namespace: 'Outage', sink: sink(), clock, gracePeriodMs: 1000, maxQueuedBytes: budget, spoolDir: join(dir, 'spool'), retryBaseMs: 500, retryMaxMs: 30_000, maxConcurrentRequests: 1, onWarning: () => {} })
  const outage = strict.inject('503', { every: 1 })
  const handles = Array.from({ length: 600 }, (_, i) => agg.series('OutageLatency', { Host: `host-${i}`, Pool: 'p'.repeat(60) }, { unit: 'Microseconds' }))
  let recorded = 0; let peakQueued = 0; let peakSpool = 0
  for (let s = 0; s < 600; s++) {          // 10 minutes, one step a second
    for (let k = 0; k < 20; k++) { handles[(s * 20 + k) % handles.length].record(100 + ((s * 31 + k * 7) % 5000)); recorded++ }
    clock.advance(1000)
    await tick()
    const st = agg.stats()
    peakQueued = Math.max(peakQueued, st.bytesQueued)
    peakSpool = Math.max(peakSpool, st.spoolBytes)
  }
  const during = agg.stats()
  expect(acceptedCount('OutageLatency')).toBe(0)
  expect(during.requestsFailed).toBeGreaterThan(0)
  outage.remove()
  await settle(agg, 'OutageLatency', recorded - 20 * 61)   // all sealed minutes
  await agg.close()
  const st = agg.stats()
  const published = acceptedCount('OutageLatency')
  console.log(`outage: recorded ${recorded}, published ${published}, requests failed ${st.requestsFailed}, retried ${st.requestsRetried}, peak queue ${peakQueued} B (budget ${budget}), peak spool ${peakSpool} B, dropped ${st.datumsDropped}`)
  expect(published).toBe(recorded)
  expect(st.datumsDropped).toBe(0)
  expect(peakQueued).toBeLessThanOrEqual(budget + 1_000_000)   // the budget plus at most one batch in hand
  expect(peakSpool).toBeGreaterThan(0)
  // replayed in order (one request at a time here): minutes arrive oldest first
  const stamps = strict.accepted.flatMap(r => r.datums.filter(d => d.MetricName === 'OutageLatency').map(d => d.Timestamp!.getTime()))
  const firstSeen = [...new Set(stamps)]
  expect(firstSeen).toEqual([...firstSeen].sort((a, b) => a - b))
}, 120_000)

it('half of all requests throttled: nothing lost, concurrency backs off', async () => {
  strict.reset()
  const agg = createAggregator({ namespace: 'Throttle', sink: sink(), clock, gracePeriodMs: 1000, retryBaseMs: 200, retryMaxMs: 5_000, maxConcurrentRequests: 8, onWarning: () => {} })
  const rule = strict.inject('throttle', { probability: 0.5 })
  let recorded = 0; let minConcurrency = Infinity
  for (let s = 0; s < 300; s++) {          // 5 minutes
    for (let k = 0; k < 50; k++) { agg.record('ThrottledLatency', 1 + ((s * 50 + k) % 977), { Host: `h${k % 40}` }); recorded++ }
    clock.advance(1000)
    await tick()
    minConcurrency = Math.min(minConcurrency, agg.stats().concurrency)
  }
  await settle(agg, 'ThrottledLatency', recorded - 50 * 61)
  rule.remove()
  await agg.close()
  const st = agg.stats()
  const published = acceptedCount('ThrottledLatency')
  console.log(`throttle: recorded ${recorded}, published ${published}, requests ${st.requestsSent}, throttled ${st.requestsThrottled}, retried ${st.requestsRetried}, lowest concurrency ${minConcurrency} of 8`)
  expect(published).toBe(recorded)
  expect(st.requestsThrottled).toBeGreaterThan(0)
  expect(minConcurrency).toBeLessThan(8)
}, 120_000)
