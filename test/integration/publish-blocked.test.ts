/**
 * A permanent failure while publishing (access denied, unknown credentials, no region) is
 * said at once and does not hammer: the data stays queued, the next attempt waits for the
 * backoff ceiling (retryMaxMs) instead of the transient cadence, `stats().blockedBy` says
 * why, the sidecar's `/healthz` answers 503 with the reason (and the status page shows it),
 * and the first request that succeeds clears it all.
 *
 * Through the real SDK (cloudWatchSink) against the strict endpoint, which refuses with
 * CloudWatch's own 403 answers while `deny` is set. The engine runs on a ManualClock and
 * attempts are counted with `stats().requestsSent`, which a send increments synchronously
 * when a timer fires: no sleeping, no wall-clock assertions.
 */
import http from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { cloudWatchSink, createAggregator, ManualClock, type Aggregator, type SinkError } from '../../src/index.js'
import { kPeriodMs } from '../../src/limits.js'
import { resolveSettings } from '../../src/cli/config.js'
import { kSidecarSettings, startSidecar } from '../../src/cli/sidecar.js'
import { startStrictEndpoint, type StrictDenial, type StrictEndpoint } from '../helpers/strict-endpoint.js'
import { withAwsEnv } from '../helpers/aws-env.js'

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0)
const kGraceMs = 5_000
const kRetryBaseMs = 10
const kRetryMaxMs = 40_000
const kCredentials = { accessKeyId: 'AKIDSTRICTTEST', secretAccessKey: 'strict-test-secret' }

let clock = new ManualClock(T0)
let strict: StrictEndpoint

beforeAll(async () => { strict = await startStrictEndpoint({ now: () => clock.now(), maxDimensions: 10 }) })
afterAll(async () => { await strict?.close() })
beforeEach(() => {
  strict.reset()
  strict.deny = undefined
  clock = new ManualClock(T0 + 1_000)
})

function engine (sinkOptions: Parameters<typeof cloudWatchSink>[0], listen = true): { agg: Aggregator, errors: SinkError[], warnings: string[] } {
  const errors: SinkError[] = []
  const warnings: string[] = []
  const agg = createAggregator({
    namespace: 'Minutely/Blocked',
    sink: cloudWatchSink(sinkOptions),
    clock,
    gracePeriodMs: kGraceMs,
    retryBaseMs: kRetryBaseMs,
    retryMaxMs: kRetryMaxMs,
    maxConcurrentRequests: 1,
    closeTimeoutMs: 300,
    onWarning: (m) => { warnings.push(m) },
  })
  if (listen) agg.on('error', (e: SinkError) => { errors.push(e) })
  return { agg, errors, warnings }
}

/** Records a minute of samples (3 series) and seals it: the first attempt starts at once. */
function recordAndSeal (agg: Aggregator): number {
  for (let i = 0; i < 30; i++) agg.record('ModelLatency', 1000 + i, { EndpointName: 'blocked', VariantName: `v${i % 3}` }, { unit: 'Microseconds' })
  clock.advance(kPeriodMs + kGraceMs)
  return 3
}

/** Waits (yielding to the event loop, not on the clock) until the publisher has seen `n` answers. */
async function answered (agg: Aggregator, n: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const st = agg.stats()
    if (st.requestsSucceeded + st.requestsFailed >= n && st.inFlightRequests === 0) return
    await new Promise(resolve => { setTimeout(resolve, 5) })
  }
  throw new Error(`the publisher did not see ${n} answers: ${JSON.stringify(agg.stats())}`)
}

/** Advances the clock in steps up to `ms`, checking after each that no new attempt started. */
function advanceQuietly (agg: Aggregator, ms: number, sent: number): void {
  for (let left = ms; left > 0; left -= Math.min(left, 997)) {
    clock.advance(Math.min(left, 997))
    expect(agg.stats().requestsSent).toBe(sent)
  }
}

describe('a permanent failure is kept, said at once, and retried at the backoff ceiling', () => {
  it.each<StrictDenial>(['AccessDenied', 'InvalidClientTokenId'])('%s (HTTP 403)', async (denial) => {
    strict.deny = denial
    const { agg, errors } = engine({ endpoint: strict.endpoint, region: 'us-east-1', credentials: kCredentials })
    const datums = recordAndSeal(agg)
    await answered(agg, 1)
    let st = agg.stats()
    expect(st.requestsSent).toBe(1)
    expect(errors).toHaveLength(1)
    expect(errors[0].permanent).toBe(true)
    expect(errors[0].retryable).toBe(true)
    expect(errors[0].message).toContain(denial)
    expect(st.blockedBy).toContain(denial)
    expect(st.blockedSince).toBe(T0 + 1_000 + kPeriodMs + kGraceMs)
    expect(st.datumsQueued).toBe(datums)   // kept, not split and dropped as a bad request
    expect(st.datumsFailed).toBe(0)

    // The transient cadence would have retried ~12 times by now (10 ms doubling); it waits for the ceiling.
    advanceQuietly(agg, kRetryMaxMs - 1, 1)
    clock.advance(1)
    expect(agg.stats().requestsSent).toBe(2)
    await answered(agg, 2)
    advanceQuietly(agg, kRetryMaxMs - 1, 2)

    // Fixed: the next attempt succeeds, and health is back.
    strict.deny = undefined
    clock.advance(1)
    await answered(agg, 3)
    st = agg.stats()
    expect(st.requestsSent).toBe(3)
    expect(st.datumsPublished).toBe(datums)
    expect(st.datumsQueued).toBe(0)
    expect(st.blockedBy).toBeNull()
    expect(st.blockedSince).toBe(0)
    expect(strict.log.every(l => l.attempt === 1)).toBe(true)
    console.log(`publish-blocked ${denial}: ${st.requestsSent} attempts over ${2 * kRetryMaxMs} ms of clock (retryMaxMs ${kRetryMaxMs}), ${st.datumsFailed + st.datumsDropped} datums dropped`)
    await agg.close()
  })

  it('no region (the library path): one attempt, a warning at once, no hammering', async () => {
    await withAwsEnv({}, async () => {
      const { agg, warnings } = engine({ endpoint: strict.endpoint, credentials: kCredentials }, false)
      recordAndSeal(agg)
      await answered(agg, 1)
      expect(agg.stats().requestsSent).toBe(1)
      expect(agg.stats().blockedBy).toMatch(/Region is missing/)
      expect(warnings.filter(w => /Region is missing/.test(w))).toHaveLength(1)
      advanceQuietly(agg, kRetryMaxMs - 1, 1)
      expect(strict.stats.requests).toBe(0)   // nothing ever left the process
      const r = await agg.close()   // one more try at close, then the deadline
      expect(r.datumsPending).toBe(3)
      expect(agg.stats().requestsSent).toBe(2)
    })
  })

  it('no credentials in the chain (CredentialsProviderError) is permanent too', async () => {
    await withAwsEnv({}, async () => {
      const { agg, errors } = engine({ endpoint: strict.endpoint, region: 'us-east-1' })
      recordAndSeal(agg)
      await answered(agg, 1)
      expect(errors.map(e => [e.permanent, e.message.includes('CredentialsProviderError')])).toEqual([[true, true]])
      advanceQuietly(agg, kRetryMaxMs - 1, 1)
      await agg.close()
    })
  })
})

/** GET a path of the sidecar: status and parsed JSON. */
function get (port: number, path: string): Promise<{ status: number, json: any }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, res => {
      let s = ''
      res.on('data', (d: Buffer) => { s += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: JSON.parse(s) }) })
    }).on('error', reject)
  })
}

describe('the sidecar: logged at error level, /healthz 503 with the reason, the status page shows it', () => {
  it('AccessDenied, then fixed', async () => {
    strict.deny = 'AccessDenied'
    const lines: string[] = []
    const settings = resolveSettings(kSidecarSettings, { 'http-port': '0', 'statsd-port': 'off', 'emf-port': 'off', namespace: 'Minutely/BlockedSidecar' }, {})
    const sc = await startSidecar(settings, {
      sink: cloudWatchSink({ endpoint: strict.endpoint, region: 'us-east-1', credentials: kCredentials }),
      clock,
      log: l => { lines.push(l) },
    })
    try {
      expect(await get(sc.http.port, '/healthz')).toEqual({ status: 200, json: { status: 'ok' } })
      sc.aggregator.record('ModelLatency', 1200, { EndpointName: 'blocked' }, { unit: 'Microseconds' })
      clock.advance(kPeriodMs + 5_000)   // the sidecar's grace period is --grace-ms (5 s)
      await answered(sc.aggregator, 1)
      expect(lines.filter(l => l.startsWith('error: publish: ') && l.includes('AccessDenied'))).toHaveLength(1)

      const h = await get(sc.http.port, '/healthz')
      expect(h.status).toBe(503)
      expect(h.json.status).toBe('unhealthy')
      expect(h.json.problems).toHaveLength(1)
      expect(h.json.problems[0].component).toBe('publish')
      expect(h.json.problems[0].message).toMatch(/publishing is blocked .*AccessDenied.*not authorized to perform: cloudwatch:PutMetricData/)
      const page = await get(sc.http.port, '/api/status')
      expect(page.json.health).toEqual(h.json)
      expect(page.json.publish.blockedBy).toContain('AccessDenied')
      expect(sc.health()).toEqual(h.json)

      strict.deny = undefined
      clock.advance(30_000)   // the sidecar's backoff ceiling (retryMaxMs default)
      await answered(sc.aggregator, 2)
      expect(await get(sc.http.port, '/healthz')).toEqual({ status: 200, json: { status: 'ok' } })
      expect((await get(sc.http.port, '/api/status')).json.health).toEqual({ status: 'ok', problems: [] })
    } finally {
      await sc.close()
    }
  })
})
