/**
 * One sample never costs its neighbours: on every ingest path, 1,000 good samples of a series
 * and hostile ones beside them (a weight of 1e300, a StatsD rate of 1e-300, EMF Counts of 1e308,
 * a second 2e108 that takes the minute's Sum past 2^360). The sidecar publishes through the real
 * @aws-sdk/client-cloudwatch to the strict endpoint, which enforces CloudWatch's limits: every
 * request is accepted, each series' datums carry SampleCount 1000, and each hostile sample is
 * counted under its own reason.
 */
import { createSocket } from 'node:dgram'
import http from 'node:http'
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StatsD } from 'hot-shots'
import { cloudWatchSink, createAggregator, type RejectReason } from '../../src/index.js'
import { resolveSettings } from '../../src/cli/config.js'
import { kSidecarSettings, startSidecar, type Sidecar } from '../../src/cli/sidecar.js'
import { encodeCheckpoint } from '../../src/store/checkpoint.js'
import { Histogram } from '../../src/store/histogram.js'
import { Spool } from '../../src/publish/spool.js'
import { kPeriodMs } from '../../src/limits.js'
import { crash } from '../helpers/spool-crash.js'
import { startStrictEndpoint, type StrictEndpoint } from '../helpers/strict-endpoint.js'

const kCredentials = { accessKeyId: 'AKIDSTRICTTEST', secretAccessKey: 'strict-test-secret' }
const kHuge = 2e108   // valid alone (2^360 ≈ 2.35e108); two of them are not

let strict: StrictEndpoint
beforeAll(async () => { strict = await startStrictEndpoint({ maxDimensions: 10 }) })
afterAll(async () => { await strict?.close() })

function sink (): ReturnType<typeof cloudWatchSink> {
  return cloudWatchSink({ endpoint: strict.endpoint, region: 'us-east-1', credentials: kCredentials })
}

/** What the endpoint accepted for `metric`, over every datum (a minute boundary or a split may make several). */
function publishedOf (metric: string): { datums: number, count: number, sum: number, max: number } {
  const out = { datums: 0, count: 0, sum: 0, max: -Infinity }
  for (const a of strict.accepted) {
    for (const d of a.datums) {
      if (d.MetricName !== metric) continue
      out.datums++
      out.count += d.StatisticValues!.SampleCount!
      out.sum += d.StatisticValues!.Sum!
      out.max = Math.max(out.max, d.StatisticValues!.Maximum!)
    }
  }
  return out
}

async function until (cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
}

function post (port: number, body: unknown): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/samples', agent: false, headers: { 'content-type': 'application/json' } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }) })
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

function udp (port: number, lines: string[]): Promise<void> {
  const s = createSocket('udp4')
  return new Promise((resolve, reject) => {
    let left = lines.length
    for (const l of lines) {
      s.send(l, port, '127.0.0.1', e => { if (e !== null) reject(e); else if (--left === 0) s.close(() => { resolve() }) })
    }
  })
}

function tcp (port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => { c.end(text) })
    c.on('error', reject)
    c.on('close', () => { resolve() })
  })
}

function emfDoc (metric: string, value: unknown): string {
  return JSON.stringify({
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Minutely/Totals', Dimensions: [['Path']], Metrics: [{ Name: metric, Unit: 'Milliseconds' }] }] },
    Path: 'emf', [metric]: value,
  }) + '\n'
}

describe('a hostile sample is refused alone: the other 1,000 samples of its minute are published', () => {
  let sidecar: Sidecar
  const rejected: Partial<Record<RejectReason, number>> = {}

  beforeAll(async () => {
    // Every sample of a series must fall in one minute: start early in one.
    const into = Date.now() % kPeriodMs
    if (into > 45_000) await new Promise(resolve => setTimeout(resolve, kPeriodMs - into + 500))
    const settings = resolveSettings(kSidecarSettings, { 'http-port': '0', 'statsd-port': '0', 'emf-port': '0', 'ingest-threads': '2', namespace: 'Minutely/Totals' }, {})
    sidecar = await startSidecar(settings, { sink: sink(), log: () => {} })
    const agg = sidecar.aggregator

    // Library: record() and a handle, each 999 samples of 5, one 2e108 (valid) and the hostile ones.
    for (let i = 0; i < 999; i++) agg.record('L1', 5)
    agg.record('L1', kHuge)
    agg.record('L1', kHuge)                                    // minute_total_out_of_range
    agg.record('L1', 5, undefined, { count: 1e300 })           // count_invalid
    agg.record('L1', 1e200, undefined, { count: 1e9 })         // value_out_of_range (1e200 > 2^360)
    const h = agg.series('L2')
    for (let i = 0; i < 999; i++) h.record(5)
    h.record(kHuge)
    h.record(-kHuge)                                           // the Sum is fine, the sum of magnitudes is not: a share would overflow
    h.recordWith(kHuge, 1, Date.now())                         // minute_total_out_of_range on the weighted path
    h.recordWith(1e-100, 1e-9, Number.NaN)                     // 1e-109 < 2^-360: minute_total_out_of_range

    // HTTP JSON.
    const samples: unknown[] = []
    for (let i = 0; i < 999; i++) samples.push({ metric: 'P1', value: 5 })
    samples.push({ metric: 'P1', value: kHuge })
    samples.push({ metric: 'P1', value: 5, count: 1e300 })
    samples.push({ metric: 'P1', value: kHuge })
    const answer = await post(sidecar.http.port, { samples })
    expect(answer.status).toBe(200)
    expect(answer.body.accepted).toBe(1000)
    expect(answer.body.rejected).toEqual([
      { index: 1000, reason: 'count_invalid', message: expect.stringMatching(/^samples\[1000\]\.count 1e\+300 must be a positive finite number from 1e-9 to 1e9/) },
      { index: 1001, reason: 'minute_total_out_of_range', message: expect.stringMatching(/^samples\[1001\]\.value 2e\+108 × count 1 would take its minute's Sum past what CloudWatch accepts .*the minute's other samples are kept/) },
    ])

    // StatsD over UDP with hot-shots, parsed on the worker threads; the hostile lines raw.
    const port = sidecar.statsd!.port!
    const client = new StatsD({ host: '127.0.0.1', port, datadog: false, errorHandler: (e) => { throw e } })
    for (let i = 0; i < 998; i++) client.timing('S1', 5)
    await new Promise<void>(resolve => { client.close(() => { resolve() }) })
    await udp(port, ['S1:2e108|ms', 'S1:1e10|ms|@1e-300', 'S1:2e108|ms', 'S1:5|ms\nS1:2e108|ms'])

    // EMF: the good samples with aws-embedded-metrics over TCP, the hostile documents raw over TCP and UDP.
    process.env.AWS_EMF_ENVIRONMENT = 'Agent'
    process.env.AWS_EMF_AGENT_ENDPOINT = `tcp://127.0.0.1:${sidecar.emf!.port}`
    const lib = await import('aws-embedded-metrics')
    for (let f = 0; f < 10; f++) {
      const m = lib.createMetricsLogger()
      m.setNamespace('Minutely/Totals')
      m.setDimensions({ Path: 'emf' })
      for (let i = 0; i < (f === 9 ? 99 : 100); i++) m.putMetric('E1', 5, lib.Unit.Milliseconds)
      await m.flush()
    }
    await tcp(sidecar.emf!.port, emfDoc('E1', kHuge) + emfDoc('E1', { Values: [5, 6], Counts: [1e308, 1e308] }) + emfDoc('E1', kHuge))
    await udp(sidecar.emf!.port, [emfDoc('E1', { Values: [7], Counts: [1e300] }), emfDoc('E1', [kHuge])])

    // Everything sent has been merged: 5 × 1000 accepted, 16 rejected.
    await until(() => agg.stats().samplesAccepted + agg.stats().samplesRejected >= 5016)
    Object.assign(rejected, agg.stats().rejectedByReason)
    await sidecar.close()
  }, 60_000)

  it('the strict endpoint accepts every request and each series-minute carries its 1,000 good samples', () => {
    expect(strict.rejected).toEqual([])
    const got = Object.fromEntries(['L1', 'L2', 'P1', 'S1', 'E1'].map(m => [m, publishedOf(m)]))
    console.log('published per series (datums, SampleCount, Sum, Maximum):', JSON.stringify(got))
    console.log('rejected by reason:', JSON.stringify(Object.fromEntries(Object.entries(rejected).filter(([, n]) => n > 0))))
    for (const m of ['L1', 'L2', 'P1', 'S1', 'E1']) {
      expect(got[m].datums, m).toBe(1)
      expect(got[m].count, m).toBe(1000)
      expect(got[m].max, m).toBe(kHuge)
      expect(got[m].sum / (kHuge + 999 * 5), m).toBeCloseTo(1, 12)
    }
  })

  it('each hostile sample is counted under its own reason', () => {
    // minute_total_out_of_range: L1 1, L2 3 (-2e108, a weighted 2e108, 1e-100 × 1e-9), P1 1, S1 2, E1 2 (TCP, UDP)
    // count_invalid: L1 1, P1 1, S1 1 (rate 1e-300), E1 3 (Counts 1e308 twice over TCP, 1e300 over UDP)
    expect(rejected.minute_total_out_of_range).toBe(1 + 3 + 1 + 2 + 2)
    expect(rejected.count_invalid).toBe(1 + 1 + 1 + 3)
    expect(rejected.value_out_of_range).toBe(1)
  })
})

describe('the checkpoint restore refuses an aggregate that would take its minute out of range', () => {
  it('two checkpointed aggregates of one series-minute, each valid, together too large: the second is refused whole', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'minutely-totals-')), 'spool')
    try {
      const now = Date.now()
      const period = now - (now % kPeriodMs)
      const mk = (values: number[]): Histogram => { const h = new Histogram(6); for (const v of values) h.add(v, 1); return h }
      const entry = { period, late: false, ns: 'Minutely/Totals', metric: 'C1', unit: 'None', dims: [] as Array<[string, string]> }
      const spool = new Spool({ dir, maxBytes: 2 ** 30, now: () => Date.now(), warner: { warn: () => {} } })
      const good = mk([...Array.from({ length: 999 }, () => 5), kHuge])
      const hostile = mk([kHuge])
      expect(spool.writeCheckpoint(encodeCheckpoint(6, [entry, entry], [good, hostile]), { aggregates: 2, samples: 1001 })).toBe(true)
      crash(dir)
      const warnings: string[] = []
      const agg = createAggregator({ namespace: 'Minutely/Totals', sink: sink(), spoolDir: dir, onWarning: (...a: unknown[]) => { warnings.push(a.map(String).join(' ')) } })
      expect(agg.stats().rejectedByReason.minute_total_out_of_range).toBe(1)
      expect(warnings.join('\n')).toMatch(/spool checkpoint, C1: an aggregate of 1 samples .* would take its minute's Sum past what CloudWatch accepts/)
      await agg.close()
      expect(strict.rejected).toEqual([])
      const got = publishedOf('C1')
      console.log('checkpoint restore, C1 published:', JSON.stringify(got))
      expect(got.count).toBe(1000)
      expect(got.max).toBe(kHuge)
    } finally { rmSync(dirname(dir), { recursive: true, force: true }) }
  })
})

function dirname (p: string): string { return p.slice(0, p.lastIndexOf('/')) }
