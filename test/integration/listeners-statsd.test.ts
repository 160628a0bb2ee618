/**
 * The sidecar's StatsD listener end to end, with the real hot-shots client: UDP (plain mode,
 * buffered and unbuffered, Datadog mode configured only by DD_* variables in a child process)
 * and the Unix datagram socket. What the sidecar publishes must equal what was sent: exact
 * SampleCount (weighted by sample rates), Sum, Minimum and Maximum per series.
 */
import { createSocket } from 'node:dgram'
import { createRequire } from 'node:module'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, afterAll, describe, expect, it, vi } from 'vitest'
import { StatsD } from 'hot-shots'
import { ConfigError, inMemorySink, ManualClock, type InMemorySink } from '../../src/index.js'
import { resolveSettings } from '../../src/cli/config.js'
import { kSidecarSettings, startSidecar, type Sidecar } from '../../src/cli/sidecar.js'
import { IngestPool } from '../../src/ingest/pool.js'
import { createAggregator } from '../../src/core/aggregator.js'
import { startStatsdListener } from '../../src/listeners/statsd.js'

interface Stat { unit?: string, count: number, sum: number, min: number, max: number }

/** Series key: metric and its dimensions sorted by name. */
function key (metric: string, dims: Record<string, string> | undefined): string {
  return metric + ' ' + JSON.stringify(Object.entries(dims ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}

class Expected {
  readonly m = new Map<string, Stat>()
  add (metric: string, value: number, dims?: Record<string, string>, weight = 1, unit?: string): void {
    const k = key(metric, dims)
    let s = this.m.get(k)
    if (s === undefined) { s = { unit, count: 0, sum: 0, min: Infinity, max: -Infinity }; this.m.set(k, s) }
    s.count += weight; s.sum += value * weight
    if (value < s.min) s.min = value
    if (value > s.max) s.max = value
  }
}

/** What the sink received, folded per series over every minute and every split datum. */
function published (sink: InMemorySink, skip: (metric: string) => boolean = () => false): Map<string, Stat> {
  const out = new Map<string, Stat>()
  for (const d of sink.datums()) {
    if (skip(d.MetricName)) continue
    const k = key(d.MetricName, Object.fromEntries(d.Dimensions.map(x => [x.Name, x.Value])))
    let s = out.get(k)
    if (s === undefined) { s = { unit: d.Unit, count: 0, sum: 0, min: Infinity, max: -Infinity }; out.set(k, s) }
    s.count += d.StatisticValues.SampleCount; s.sum += d.StatisticValues.Sum
    s.min = Math.min(s.min, d.StatisticValues.Minimum); s.max = Math.max(s.max, d.StatisticValues.Maximum)
  }
  return out
}

function expectSame (got: Map<string, Stat>, want: Expected): void {
  const norm = (m: Map<string, Stat>, withUnit: boolean): Record<string, Stat> =>
    Object.fromEntries([...m].map(([k, s]) => [k, withUnit ? s : { ...s, unit: undefined }]).sort(([a], [b]) => String(a) < String(b) ? -1 : 1))
  const withUnit = [...want.m.values()].every(s => s.unit !== undefined)
  expect(norm(got, withUnit)).toEqual(norm(want.m, withUnit))
}

/** Resolves once `n()` has stopped moving for 100 ms (datagrams in flight have landed). */
async function settled (n: () => number, atLeast = 1): Promise<void> {
  const end = Date.now() + 10_000
  let last = -1
  while (Date.now() < end) {
    const v = n()
    if (v >= atLeast && v === last) return
    last = v
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/**
 * unix-dgram is hot-shots' optional dependency, a native addon built at install for one Node
 * ABI: it may be missing, or installed for another Node (NODE_MODULE_VERSION …, after a switch
 * of Node major without `npm rebuild`). Where it does not load, the Unix socket tests give way
 * to one that checks --statsd-socket is refused, saying why and what to run.
 */
function unixDgramError (): NodeJS.ErrnoException | undefined {
  try { createRequire(import.meta.url)('unix-dgram'); return undefined } catch (err) { return err as NodeJS.ErrnoException }
}
const kUnixDgramError = unixDgramError()
if (kUnixDgramError !== undefined) {
  process.stderr.write(`listeners-statsd.test.ts: unix-dgram does not load in Node ${process.version} (${String(kUnixDgramError.message).replace(/\s+/g, ' ').slice(0, 240)}): ` +
    'the Unix datagram socket tests are replaced by the test of --statsd-socket\'s refusal\n')
}

function closeClient (client: StatsD): Promise<void> {
  return new Promise(resolve => { client.close(() => { resolve() }) })
}

const sidecars: Sidecar[] = []
afterEach(async () => { await Promise.all(sidecars.splice(0).map(s => s.close())) })

async function start (flags: Record<string, string> = {}, clock?: ManualClock): Promise<{ sidecar: Sidecar, sink: InMemorySink, port: number }> {
  const sink = inMemorySink()
  const settings = resolveSettings(kSidecarSettings, {
    'http-port': '0', 'statsd-port': '0', 'emf-port': 'off', 'ingest-threads': '2',
    'statsd-units': 'ModelLatency=Microseconds,OverheadLatency=Microseconds', ...flags,
  }, {})
  const sidecar = await startSidecar(settings, { sink, clock, log: () => {} })
  sidecars.push(sidecar)
  return { sidecar, sink, port: sidecar.statsd?.port ?? 0 }
}

/** Closes the sidecar (listeners drain, workers finish, everything is sealed and published). */
async function finish (sidecar: Sidecar): Promise<void> {
  await settled(() => sidecar.statsd!.stats.datagrams)
  await sidecar.close()
}

describe('StatsD listener with hot-shots', () => {
  const savedEnv = { ...process.env }
  beforeAll(() => {
    // hot-shots switches to Datadog mode when any DD_* variable is set: plain mode must not
    // depend on the environment the tests run in.
    for (const k of Object.keys(process.env)) if (k.startsWith('DD_') || k.startsWith('DATADOG_')) delete process.env[k]
  })
  afterAll(() => { process.env = savedEnv })
  afterEach(() => { vi.restoreAllMocks() })

  it('plain mode, a datagram per metric: published equals sent, sample rates weighted', async () => {
    const { sidecar, sink, port } = await start()
    vi.spyOn(Math, 'random').mockReturnValue(0)   // every sampled call is sent
    const client = new StatsD({ host: '127.0.0.1', port, datadog: false, errorHandler: (e) => { throw e } })
    const want = new Expected()
    const eps = ['ep-a', 'ep-b', 'ep-c']
    for (let i = 0; i < 1500; i++) {
      const dims = { EndpointName: eps[i % 3], VariantName: i % 5 === 0 ? 'canary' : 'AllTraffic' }
      const us = 800 + ((i * 7919) % 40_000)
      client.timing('ModelLatency', us, dims); want.add('ModelLatency', us, dims, 1, 'Microseconds')
      client.timing('OverheadLatency', us % 997, 0.25, dims); want.add('OverheadLatency', us % 997, dims, 4, 'Microseconds')
      client.increment('Invocations', 1, dims); want.add('Invocations', 1, dims, 1, 'Count')
      if (i % 10 === 0) { client.gauge('GPUUtilization', i % 101, { Host: 'h1' }); want.add('GPUUtilization', i % 101, { Host: 'h1' }, 1, 'None') }
      if (i % 3 === 0) { client.distribution('QueueDepth', i % 17, 0.5); want.add('QueueDepth', i % 17, undefined, 2, 'None') }
      if (i % 4 === 0) { client.histogram('PayloadBytes', 100 + i, ['Route:/invocations']); want.add('PayloadBytes', 100 + i, { Route: '/invocations' }, 1, 'None') }
      // The sender shares this process's event loop with the sidecar: let it read now and then,
      // as a separate process would, so that a loaded CI machine cannot overflow the socket buffer.
      if (i % 100 === 99) await new Promise(resolve => setTimeout(resolve, 1))
    }
    await closeClient(client)
    await finish(sidecar)
    expectSame(published(sink), want)
    const st = sidecar.aggregator.stats()
    expect(st.samplesRejected).toBe(0)
    expect(sidecar.pool!.stats.datagramsDropped).toBe(0)
  })

  it('plain mode with maxBufferSize: many lines a datagram; a bad line is rejected alone', async () => {
    const { sidecar, sink, port } = await start()
    const client = new StatsD({ host: '127.0.0.1', port, datadog: false, maxBufferSize: 1400, bufferFlushInterval: 10, errorHandler: (e) => { throw e } })
    const want = new Expected()
    for (let i = 0; i < 20_000; i++) {
      const dims = { EndpointName: `ep-${i % 7}`, VariantName: 'AllTraffic' }
      const us = 1 + ((i * 104_729) % 250_000)
      client.timing('ModelLatency', us, dims); want.add('ModelLatency', us, dims)
      if (i % 1000 === 0) client.set('Users', i)   // unsupported type, in the middle of a datagram
      if (i % 1000 === 999) await new Promise(resolve => setTimeout(resolve, 1))
    }
    await closeClient(client)
    // A raw datagram mixing good and bad lines: the good ones still count.
    const raw = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      raw.send(Buffer.from('ModelLatency:5|ms|#EndpointName:ep-0,VariantName:AllTraffic\nModelLatency:abc|ms\nbroken\nModelLatency:7|ms|#EndpointName:ep-0,VariantName:AllTraffic\nx:1|ms|@2'), port, '127.0.0.1', (err) => { if (err) reject(err); else resolve() })
    })
    raw.close()
    want.add('ModelLatency', 5, { EndpointName: 'ep-0', VariantName: 'AllTraffic' })
    want.add('ModelLatency', 7, { EndpointName: 'ep-0', VariantName: 'AllTraffic' })
    await finish(sidecar)
    expectSame(published(sink), want)
    expect(sidecar.statsd!.stats.datagrams).toBeLessThan(20_000 / 10)   // lines really shared datagrams
    const st = sidecar.aggregator.stats()
    expect(st.rejectedByReason).toMatchObject({ unsupported_type: 20, not_a_number: 1, malformed: 1, count_invalid: 1 })
    expect(st.samplesRejected).toBe(23)
  })

  it('Datadog mode, configured only by DD_* variables in another process, works unchanged', async () => {
    const { sidecar, sink, port } = await start()
    // The child is an app that knows nothing of minutely: `new StatsD()` with no options.
    const script = `
      const { createRequire } = require('node:module')
      const { StatsD } = createRequire(process.cwd() + '/')('hot-shots')
      Math.random = () => 0
      const client = new StatsD({ errorHandler: (e) => { console.error(e); process.exit(3) }, telemetryFlushInterval: 50 })
      const sent = []
      for (let i = 0; i < 300; i++) {
        const us = 500 + i * 13
        client.distribution('ModelLatency', us, 0.5, { EndpointName: 'dd-ep' }); sent.push(['ModelLatency', us, 2])
        client.increment('Invocations', 1, { EndpointName: 'dd-ep' }); sent.push(['Invocations', 1, 1])
      }
      setTimeout(() => client.close(() => { process.stdout.write(JSON.stringify({ datadog: client.datadog, sent })) }), 150)
    `
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], {
        cwd: process.cwd(),
        env: {
          PATH: process.env.PATH,
          DD_AGENT_HOST: '127.0.0.1', DD_DOGSTATSD_PORT: String(port),
          DD_ENV: 'prod', DD_SERVICE: 'inference', DD_VERSION: '1.2.3',
          DD_EXTERNAL_ENV: 'it-false,cn-model,pu-42', DD_CARDINALITY: 'low',
        },
      }, (err, stdout) => { if (err) reject(err); else resolve(stdout) })
    })
    const { datadog, sent } = JSON.parse(out) as { datadog: boolean, sent: Array<[string, number, number]> }
    expect(datadog).toBe(true)
    const want = new Expected()
    // Datadog mode adds env/service/version as tags: they become dimensions.
    const dims = { EndpointName: 'dd-ep', env: 'prod', service: 'inference', version: '1.2.3' }
    for (const [m, v, w] of sent) want.add(m, v, dims, w, m === 'ModelLatency' ? 'Microseconds' : 'Count')
    await finish(sidecar)
    expectSame(published(sink, m => m.startsWith('datadog.dogstatsd.client.')), want)
    // The client's own telemetry arrives too, and nothing was rejected (|c:, |e:, |card: are accepted).
    expect(sink.datums().some(d => d.MetricName.startsWith('datadog.dogstatsd.client.'))).toBe(true)
    expect(sidecar.aggregator.stats().samplesRejected).toBe(0)
  })

  it.skipIf(kUnixDgramError !== undefined)('a Unix datagram socket (--statsd-socket) takes what hot-shots sends over uds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-uds-'))
    const path = join(dir, 'statsd.sock')
    try {
      const { sidecar, sink } = await start({ 'statsd-port': 'off', 'statsd-socket': path })
      expect(sidecar.statsd!.port).toBeUndefined()
      const client = new StatsD({ protocol: 'uds', path, datadog: false, errorHandler: (e) => { throw e } })
      const want = new Expected()
      for (let i = 0; i < 500; i++) {
        client.timing('ModelLatency', 100 + i, { EndpointName: 'uds-ep' }); want.add('ModelLatency', 100 + i, { EndpointName: 'uds-ep' })
      }
      await closeClient(client)
      await finish(sidecar)
      expectSame(published(sink), want)
      expect(existsSync(path)).toBe(false)   // the socket file is removed on close
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.skipIf(kUnixDgramError !== undefined)('a stale socket file is replaced; a regular file at the path is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-uds-'))
    try {
      // A socket file left behind by a process that died without removing it.
      const stale = join(dir, 'stale.sock')
      const ud = createRequire(import.meta.url)('unix-dgram') as { createSocket: (t: string) => { bind: (p: string) => void, close: () => void, on: (e: string, f: () => void) => void } }
      const old = ud.createSocket('unix_dgram')
      old.on('error', () => {})
      old.bind(stale)
      old.close()
      expect(existsSync(stale)).toBe(true)
      const { sidecar } = await start({ 'statsd-port': 'off', 'statsd-socket': stale })
      expect(sidecar.statsd!.socketPath).toBe(stale)
      const file = join(dir, 'not-a-socket')
      writeFileSync(file, 'x')
      await expect(start({ 'statsd-port': 'off', 'statsd-socket': file })).rejects.toThrow(/not a socket/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.runIf(kUnixDgramError !== undefined)('where unix-dgram does not load, --statsd-socket is refused, saying why and what to run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-uds-'))
    const path = join(dir, 'statsd.sock')
    try {
      const err = await start({ 'statsd-port': 'off', 'statsd-socket': path }).then(() => undefined, (e: unknown) => e as ConfigError)
      expect(err).toBeInstanceOf(ConfigError)
      expect(err!.code).toBe('METRICS_ERR_INVALID_OPTION')
      const message = err!.message
      expect(message).toMatch(/^--statsd-socket needs the optional package unix-dgram/)
      expect(message).not.toContain('\n')
      if (kUnixDgramError!.code === 'MODULE_NOT_FOUND') {
        expect(message).toContain('npm install unix-dgram')
      } else {
        // Installed but not loadable here: the reason (e.g. NODE_MODULE_VERSION), this Node, and the fix.
        expect(message).toContain(String(kUnixDgramError!.message).split('\n')[0].trim())
        expect(message).toContain(`Node ${process.version}`)
        expect(message).toContain('npm rebuild unix-dgram')
      }
      expect(existsSync(path)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('StatsD listener limits and time', () => {
  it('rejects an oversize datagram whole (too_large) and keeps the others', async () => {
    const { sidecar, sink, port } = await start({ 'max-datagram-bytes': '100' })
    const sock = createSocket('udp4')
    const send = (s: string): Promise<void> => new Promise((resolve, reject) => { sock.send(Buffer.from(s), port, '127.0.0.1', (e) => { if (e) reject(e); else resolve() }) })
    await send('Small:1|c\nSmall:2|c')
    await send(Array.from({ length: 20 }, (_, i) => `Big:${i}|c`).join('\n'))   // ~180 bytes
    await send('Small:3|c')
    sock.close()
    await finish(sidecar)
    expect(sink.datums().filter(d => d.MetricName === 'Small').reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(3)
    expect(sink.datums().some(d => d.MetricName === 'Big')).toBe(false)
    expect(sidecar.aggregator.stats().rejectedByReason.too_large).toBe(1)
    expect(sidecar.statsd!.stats.tooLarge).toBe(1)
  })

  it('samples without a timestamp land in the minute they were received in (batches are cut at the boundary)', async () => {
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 59, 900)
    const clock = new ManualClock(t0)
    const { sidecar, sink, port } = await start({ 'ingest-threads': '1' }, clock)
    const sock = createSocket('udp4')
    const send = (s: string): Promise<void> => new Promise((resolve, reject) => { sock.send(Buffer.from(s), port, '127.0.0.1', (e) => { if (e) reject(e); else resolve() }) })
    await send('Lat:1|ms\nLat:2|ms')
    await settled(() => sidecar.pool!.stats.datagramsReceived)
    clock.set(t0 + 200)   // 12:01:00.100
    await sidecar.statsd!.sync()   // the receiving thread has taken the new minute
    await send('Lat:10|ms')
    sock.close()
    await finish(sidecar)
    const byMinute = new Map<number, number>()
    for (const d of sink.datums()) byMinute.set(d.Timestamp.getTime(), (byMinute.get(d.Timestamp.getTime()) ?? 0) + d.StatisticValues.Sum)
    expect(Object.fromEntries(byMinute)).toEqual({ [Date.UTC(2026, 0, 1, 12, 0)]: 3, [Date.UTC(2026, 0, 1, 12, 1)]: 10 })
  })

  it('a taken port is a configuration error naming the flag', async () => {
    const { port } = await start()
    await expect(start({ 'statsd-port': String(port) })).rejects.toThrow(/--statsd-port: UDP port \d+ on 127.0.0.1 is in use/)
  })

  it('reports the receive buffer the kernel granted', async () => {
    const agg = createAggregator({ namespace: 'T', sink: inMemorySink(), onWarning: () => {} })
    const pool = new IngestPool({ aggregator: agg, threads: 1 })
    const lines: string[] = []
    const l = await startStatsdListener({ aggregator: agg, pool, port: 0, recvBufferBytes: 1 << 20, log: (s) => { lines.push(s) } })
    try {
      expect(l.recvBufferBytes).toBeGreaterThan(0)
      expect(l.port).toBeGreaterThan(0)
    } finally {
      await l.close(0)
      await pool.close()
      await agg.close()
    }
  })
})
