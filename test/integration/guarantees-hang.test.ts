/**
 * CloudWatch hanging: for 100 s it reads every request, records its datums, and never answers
 * (the strict endpoint's `acceptThenTimeout`), under 1,000 samples/s. Every request then ends in
 * a timeout whose outcome is unknown, and each resend may be counted again by the service. The
 * test prints what the service recorded against what was sent.
 *
 * Through the real SDK (cloudWatchSink) over loopback. Time is scaled: the engine's clock runs
 * `kSpeed` times faster than the wall clock, and every time constant of the scenario is divided
 * by the same factor (the 10 s request timeout, the 500 ms / 30 s backoff, the 100 s hang), so
 * the sequence of requests, and the ratio, are those of a 100 s hang with the defaults.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { cloudWatchSink, createAggregator, kDefaults, type Clock } from '../../src/index.js'
import { kDefaultRequestTimeoutMs } from '../../src/sinks/aws-client.js'
import { kPeriodMs } from '../../src/limits.js'
import { startStrictEndpoint, type StrictEndpoint } from '../helpers/strict-endpoint.js'

const kSpeed = 10
const kHangMs = 100_000
const kRate = 1000            // samples a second, of engine time
const kSeries = 20            // an endpoint's latency over 20 variants or hosts: ~3 datums a series and minute

/** A clock that runs `speed` times faster than the wall clock, from `t0`. */
class ScaledClock implements Clock {
  readonly #start = performance.now()
  constructor (readonly t0: number, readonly speed: number) {}
  now (): number { return this.t0 + Math.floor((performance.now() - this.#start) * this.speed) }
  setTimer (fn: () => void, ms: number): unknown {
    const t = setTimeout(fn, Math.max(0, ms) / this.speed)
    t.unref()
    return t
  }

  clearTimer (h: unknown): void { clearTimeout(h as NodeJS.Timeout) }
}

let strict: StrictEndpoint
let clock: ScaledClock
beforeAll(async () => {
  strict = await startStrictEndpoint({ now: () => clock.now(), maxDimensions: 10 })
})
afterAll(async () => { await strict?.close() })

function sampleCount (namespace: string): number {
  return strict.allDatums(namespace).reduce((a, d) => a + (d.StatisticValues?.SampleCount ?? 0), 0)
}

it('a 100 s hang (recorded, never answered) under 1,000 samples/s: what the service counts stays within 2× what was sent', async () => {
  // The hang begins with a minute, so that the whole of it is sealed and sent while nothing answers.
  const t0 = Math.ceil(Date.now() / kPeriodMs) * kPeriodMs + 10 * kPeriodMs
  clock = new ScaledClock(t0, kSpeed)
  strict.reset()
  const agg = createAggregator({
    namespace: 'Hang',
    clock,
    sink: cloudWatchSink({ endpoint: strict.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, requestTimeoutMs: kDefaultRequestTimeoutMs / kSpeed }),
    gracePeriodMs: 5_000,
    retryBaseMs: kDefaults.retryBaseMs,
    retryMaxMs: kDefaults.retryMaxMs,
    closeTimeoutMs: 30_000,
    onWarning: () => {},
  })
  const handles = Array.from({ length: kSeries }, (_, i) => agg.series('ModelLatency', { EndpointName: 'ep', VariantName: `v${i}` }, { unit: 'Microseconds' }))
  const hang = strict.inject('acceptThenTimeout', { every: 1 })
  let sent = 0
  await new Promise<void>(resolve => {
    const t = setInterval(() => {
      const at = Math.min(clock.now(), t0 + kHangMs) - t0
      const due = Math.floor(at * kRate / 1000)
      // Latencies spread over two decades (1 ms – 100 ms): several datums a series and minute.
      for (; sent < due; sent++) handles[sent % kSeries].record(1000 * 100 ** ((sent * 0.618034) % 1))
      if (at >= kHangMs) { clearInterval(t); resolve() }
    }, 5)
  })
  hang.remove()
  const during = agg.stats()
  await agg.close()
  const st = agg.stats()
  const recorded = sampleCount('Hang')
  const ratio = recorded / sent
  console.log(`hang: ${kHangMs / 1000} s recorded and never answered, ${kRate} samples/s over ${kSeries} series: sent ${sent}, counted by the service ${recorded} (${ratio.toFixed(2)}×); ` +
    `${strict.stats.faults.acceptThenTimeout} requests hung, ${st.requestsSent} sent, ${st.requestsRetried} retried, ${during.requestsFailed} failed during the hang; ${st.datumsQueued} datums left`)
  expect(st.datumsQueued).toBe(0)
  expect(st.datumsPublished).toBeGreaterThan(0)
  expect(recorded).toBeGreaterThanOrEqual(sent)   // at least once
  expect(ratio).toBeLessThanOrEqual(2)
  // What hung: the minute in flight when the hang began (its first send), then probes of one
  // datum each, one at a time; each got no answer and was counted as such.
  const hung = strict.accepted.filter(a => a.viaFault === 'acceptThenTimeout')
  const firstSends = hung.filter(a => a.datums.length > 1)
  expect(firstSends.length).toBeGreaterThan(0)
  expect(hung.slice(firstSends.length).every(a => a.datums.length === 1)).toBe(true)
  expect(hung.length - firstSends.length).toBeGreaterThanOrEqual(1)
  expect(st.requestsUnanswered).toBe(hung.length)
  // Every datum sent during the hang is counted by the service at most three times (its first
  // send, its probe, the send that succeeded), most of them at most twice.
  const copies = new Map<string, number>()
  for (const a of strict.accepted) for (const d of a.datums) {
    const k = JSON.stringify([d.Dimensions, d.Timestamp, d.Values?.[0], d.StatisticValues])
    copies.set(k, (copies.get(k) ?? 0) + 1)
  }
  expect(Math.max(...copies.values())).toBeLessThanOrEqual(3)
}, 120_000)
