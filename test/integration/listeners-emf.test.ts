/**
 * The sidecar's EMF agent endpoint end to end, with the real aws-embedded-metrics package in
 * Agent mode over TCP and UDP: the app changes nothing but AWS_EMF_AGENT_ENDPOINT, and what
 * the sidecar publishes equals what the app logged (exact SampleCount, Sum, Minimum, Maximum
 * per series, each dimension set its own series). Plus the framing, limits and connection
 * handling of the TCP side with raw sockets.
 */
import { connect, type Socket } from 'node:net'
import { createSocket } from 'node:dgram'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, type InMemorySink } from '../../src/index.js'
import { resolveSettings } from '../../src/cli/config.js'
import { kSidecarSettings, startSidecar, type Sidecar } from '../../src/cli/sidecar.js'
import { IngestPool } from '../../src/ingest/pool.js'
import { startEmfListener } from '../../src/listeners/emf-agent.js'

interface Stat { unit: string, count: number, sum: number, min: number, max: number }

function key (ns: string, metric: string, dims: Record<string, string>): string {
  return `${ns} ${metric} ${JSON.stringify(Object.entries(dims).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))}`
}

function add (m: Map<string, Stat>, k: string, unit: string, v: number): void {
  let s = m.get(k)
  if (s === undefined) { s = { unit, count: 0, sum: 0, min: Infinity, max: -Infinity }; m.set(k, s) }
  s.count++; s.sum += v; s.min = Math.min(s.min, v); s.max = Math.max(s.max, v)
}

function published (sink: InMemorySink): Map<string, Stat> {
  const out = new Map<string, Stat>()
  for (const d of sink.datums()) {
    const k = key(d.Namespace, d.MetricName, Object.fromEntries(d.Dimensions.map(x => [x.Name, x.Value])))
    let s = out.get(k)
    if (s === undefined) { s = { unit: d.Unit, count: 0, sum: 0, min: Infinity, max: -Infinity }; out.set(k, s) }
    s.count += d.StatisticValues.SampleCount; s.sum += d.StatisticValues.Sum
    s.min = Math.min(s.min, d.StatisticValues.Minimum); s.max = Math.max(s.max, d.StatisticValues.Maximum)
  }
  return out
}

const sorted = (m: Map<string, Stat>): Array<[string, Stat]> => [...m].sort(([a], [b]) => a < b ? -1 : 1)

async function until (cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 10))
}

/** Everything the app sent has been merged by the engine once accepted + rejected reach `n`. */
function handled (sidecar: Sidecar): number {
  const st = sidecar.aggregator.stats()
  return st.samplesAccepted + st.samplesRejected
}

describe('EMF agent endpoint with aws-embedded-metrics (Agent mode)', () => {
  let sidecar: Sidecar
  let sink: InMemorySink
  let lib: typeof import('aws-embedded-metrics')
  const savedEnv = { ...process.env }

  beforeAll(async () => {
    sink = inMemorySink()
    const settings = resolveSettings(kSidecarSettings, { 'http-port': '0', 'statsd-port': 'off', 'emf-port': '0', 'ingest-threads': '2' }, {})
    sidecar = await startSidecar(settings, { sink, log: () => {} })
    // The library reads its configuration once, at import: the app is configured by the
    // environment only, as in production.
    process.env.AWS_EMF_ENVIRONMENT = 'Agent'
    process.env.AWS_EMF_AGENT_ENDPOINT = `tcp://127.0.0.1:${sidecar.emf!.port}`
    process.env.AWS_EMF_SERVICE_NAME = 'inference'
    process.env.AWS_EMF_SERVICE_TYPE = 'SageMaker'
    process.env.AWS_EMF_LOG_GROUP_NAME = '/aws/sagemaker/Endpoints/ep-1'
    lib = await import('aws-embedded-metrics')
  })
  afterAll(async () => {
    process.env = savedEnv
    await sidecar.close()
  })

  it('TCP and UDP: what the app logged is what the sidecar publishes, per dimension set', async () => {
    const want = new Map<string, Stat>()
    const defaults = { LogGroup: '/aws/sagemaker/Endpoints/ep-1', ServiceName: 'inference', ServiceType: 'SageMaker' }
    let samples = 0
    // 300 requests, each with its own logger (the library's usual pattern), over TCP.
    for (let r = 0; r < 300; r++) {
      const m = lib.createMetricsLogger()
      m.setNamespace('Minutely/Emf')
      const ep = `ep-${r % 3}`
      m.putDimensions({ EndpointName: ep, VariantName: 'AllTraffic' })
      const lat = 1000 + ((r * 7919) % 50_000)
      m.putMetric('ModelLatency', lat, lib.Unit.Microseconds)
      m.putMetric('ModelLatency', lat + 1, lib.Unit.Microseconds)
      m.putMetric('Invocations', 1, lib.Unit.Count)
      m.putMetric('CPUUtilization', (r % 400) / 4, lib.Unit.Percent, lib.StorageResolution.High)
      m.setProperty('RequestId', `req-${r}`)
      await m.flush()
      const dims = { ...defaults, EndpointName: ep, VariantName: 'AllTraffic' }
      add(want, key('Minutely/Emf', 'ModelLatency', dims), 'Microseconds', lat)
      add(want, key('Minutely/Emf', 'ModelLatency', dims), 'Microseconds', lat + 1)
      add(want, key('Minutely/Emf', 'Invocations', dims), 'Count', 1)
      add(want, key('Minutely/Emf', 'CPUUtilization', dims), 'Percent', (r % 400) / 4)
      samples += 4
    }
    // Several dimension sets: each value is recorded once per set. 150 values span two documents.
    {
      const m = lib.createMetricsLogger()
      m.setNamespace('Minutely/Emf')
      m.setDimensions([{ EndpointName: 'ep-x', VariantName: 'v1' }, { EndpointName: 'ep-x' }])
      for (let i = 0; i < 150; i++) {
        m.putMetric('ContainerLatency', 10 * i, lib.Unit.Milliseconds)
        add(want, key('Minutely/Emf', 'ContainerLatency', { EndpointName: 'ep-x', VariantName: 'v1' }), 'Milliseconds', 10 * i)
        add(want, key('Minutely/Emf', 'ContainerLatency', { EndpointName: 'ep-x' }), 'Milliseconds', 10 * i)
      }
      await m.flush()
      samples += 300
    }
    // UDP: an AgentSink pointed at udp:// (what AWS_EMF_AGENT_ENDPOINT=udp://... gives).
    lib.Configuration.agentEndpoint = `udp://127.0.0.1:${sidecar.emf!.port}`
    const udpSink = new lib.AgentSink('udp-group')
    const env = {
      probe: async () => true,
      getName: () => 'inference',
      getType: () => 'SageMaker',
      getLogGroupName: () => 'udp-group',
      configureContext: () => {},
      getSink: () => udpSink,
    }
    for (let r = 0; r < 100; r++) {
      const m = new lib.MetricsLogger(async () => env)
      m.setNamespace('Minutely/EmfUdp')
      m.putDimensions({ EndpointName: 'udp-ep' })
      m.putMetric('ModelLatency', 500 + r, lib.Unit.Microseconds)
      await m.flush()
      add(want, key('Minutely/EmfUdp', 'ModelLatency', { LogGroup: 'udp-group', ServiceName: 'inference', ServiceType: 'SageMaker', EndpointName: 'udp-ep' }), 'Microseconds', 500 + r)
      samples++
    }
    await until(() => handled(sidecar) >= samples)
    await sidecar.close()
    expect(sidecar.aggregator.stats().samplesRejected).toBe(0)
    expect(sorted(published(sink))).toEqual(sorted(want))
    expect(sidecar.emf!.stats.datagrams).toBe(100)
  })
})

describe('EMF agent endpoint: framing, limits, connections', () => {
  const open: Array<{ close: () => Promise<unknown> }> = []
  afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

  async function setup (o: { maxLineBytes?: number, idleTimeoutMs?: number, maxConnections?: number } = {}) {
    const sink = inMemorySink()
    const aggregator = createAggregator({ namespace: 'Default', sink, onWarning: () => {} })
    const pool = new IngestPool({ aggregator, threads: 1 })
    const emf = await startEmfListener({ aggregator, pool, port: 0, ...o })
    open.push({ close: () => aggregator.close() }, { close: () => pool.close() }, emf)
    const finish = async (): Promise<void> => { await emf.close(); await pool.close(); await aggregator.close() }
    return { sink, aggregator, pool, emf, finish }
  }

  function doc (value: number, name = 'Lat'): string {
    return JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Raw', Dimensions: [['Svc']], Metrics: [{ Name: name, Unit: 'Milliseconds' }] }] }, Svc: 'a', [name]: value })
  }

  function connectTo (port: number): Promise<Socket> {
    return new Promise((resolve, reject) => { const s = connect(port, '127.0.0.1', () => { resolve(s) }); s.once('error', reject) })
  }

  function write (s: Socket, data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => { s.write(data, (e) => { if (e) reject(e); else resolve() }) })
  }

  it('a document split over many TCP writes, and many documents in one write, are parsed exactly once', async () => {
    const { sink, aggregator, emf, finish } = await setup()
    const s = await connectTo(emf.port)
    const text = Array.from({ length: 50 }, (_, i) => doc(i)).join('\n') + '\n'
    // Byte by byte for the first 3 documents, then the rest in one write.
    const cut = text.split('\n').slice(0, 3).join('\n').length + 1
    for (let i = 0; i < cut; i++) await write(s, text.slice(i, i + 1))
    await write(s, text.slice(cut))
    await until(() => aggregator.stats().samplesAccepted >= 50)
    s.end()
    await finish()
    const d = sink.datums().filter(x => x.MetricName === 'Lat')
    expect(d.reduce((a, x) => a + x.StatisticValues.SampleCount, 0)).toBe(50)
    expect(d.reduce((a, x) => a + x.StatisticValues.Sum, 0)).toBe(49 * 50 / 2)
  })

  it('bad documents are counted by reason; the good documents of the same stream still count', async () => {
    const { sink, aggregator, emf, finish } = await setup()
    const s = await connectTo(emf.port)
    await write(s, [doc(1), '{not json', doc(2), JSON.stringify({ no: '_aws' }), doc(3), JSON.stringify({ _aws: { Timestamp: 'x', CloudWatchMetrics: [] } })].join('\n') + '\n')
    await until(() => aggregator.stats().samplesAccepted + aggregator.stats().samplesRejected >= 6)
    s.end()
    await finish()
    expect(sink.datums().find(x => x.MetricName === 'Lat')?.StatisticValues).toMatchObject({ SampleCount: 3, Sum: 6, Minimum: 1, Maximum: 3 })
    const st = aggregator.stats()
    expect(st.samplesRejected).toBe(3)
    expect(st.rejectedByReason.malformed).toBeGreaterThanOrEqual(2)
    expect(st.rejectedByReason.timestamp_invalid).toBe(1)
  })

  it('an over-long line is counted once as too_large and skipped to the next newline, however it is chunked', async () => {
    const { sink, aggregator, emf, finish } = await setup({ maxLineBytes: 4096 })
    const s = await connectTo(emf.port)
    const huge = '{"_aws":' + 'x'.repeat(20_000) + '}'
    await write(s, doc(1) + '\n' + huge.slice(0, 3000))
    for (let i = 3000; i < huge.length; i += 1000) await write(s, huge.slice(i, i + 1000))
    await write(s, '\n' + doc(2) + '\n' + 'y'.repeat(5000) + '\n' + doc(3) + '\n')
    await until(() => aggregator.stats().samplesAccepted >= 3)
    s.end()
    await finish()
    expect(sink.datums().find(x => x.MetricName === 'Lat')?.StatisticValues).toMatchObject({ SampleCount: 3, Sum: 6 })
    expect(aggregator.stats().rejectedByReason.too_large).toBe(2)
    expect(emf.stats.linesTooLong).toBe(2)
  })

  it('an unterminated last document is parsed when the client closes', async () => {
    const { sink, aggregator, emf, finish } = await setup()
    const s = await connectTo(emf.port)
    await write(s, doc(7))
    s.end()
    await until(() => aggregator.stats().samplesAccepted >= 1)
    await finish()
    expect(sink.datums().find(x => x.MetricName === 'Lat')?.StatisticValues).toMatchObject({ SampleCount: 1, Sum: 7 })
  })

  it('idle connections are closed; connections past maxConnections are refused and counted', async () => {
    const { aggregator, emf } = await setup({ idleTimeoutMs: 100, maxConnections: 1 })
    const a = await connectTo(emf.port)
    const closed = new Promise<void>(resolve => { a.once('close', () => { resolve() }) })
    a.resume()
    const b = await connectTo(emf.port)   // accepted by the kernel, then dropped by the server
    const bClosed = new Promise<void>(resolve => { b.once('close', () => { resolve() }); b.once('error', () => {}) })
    b.resume()
    await bClosed
    await closed   // the idle timeout ended the first one
    expect(emf.stats.connectionsRefused).toBe(1)
    expect(aggregator.stats().rejectedByReason.overloaded).toBe(1)
  })

  it('UDP: several documents a datagram; an oversize datagram is too_large', async () => {
    const sink = inMemorySink()
    const aggregator = createAggregator({ namespace: 'Default', sink, onWarning: () => {} })
    const pool = new IngestPool({ aggregator, threads: 1 })
    const emf = await startEmfListener({ aggregator, pool, port: 0, maxDatagramBytes: 1000 })
    const sock = createSocket('udp4')
    const send = (t: string): Promise<void> => new Promise((resolve, reject) => { sock.send(Buffer.from(t), emf.port, '127.0.0.1', (e) => { if (e) reject(e); else resolve() }) })
    await send(doc(1) + '\n' + doc(2) + '\n')
    await send(doc(4) + ' '.repeat(1000))
    sock.close()
    await until(() => emf.stats.datagrams >= 2 && aggregator.stats().samplesAccepted >= 2)
    await emf.close()
    await pool.close()
    await aggregator.close()
    expect(sink.datums().find(x => x.MetricName === 'Lat')?.StatisticValues).toMatchObject({ SampleCount: 2, Sum: 3 })
    expect(aggregator.stats().rejectedByReason.too_large).toBe(1)
  })

  it('a sender faster than the workers is slowed by TCP flow control, not dropped', async () => {
    const sink = inMemorySink()
    const aggregator = createAggregator({ namespace: 'Default', sink, onWarning: () => {} })
    // A small queue (256 KiB, 2 MB sent): the pool saturates (half full) again and again, so
    // the listener must pause the socket. What a socket read (≤ 64 KiB) pushes after the
    // pause still fits in the other half.
    const pool = new IngestPool({ aggregator, threads: 1, batchBytes: 4096, maxQueuedBytes: 262_144 })
    const emf = await startEmfListener({ aggregator, pool, port: 0 })
    const s = await connectTo(emf.port)
    const n = 20_000
    const chunk: string[] = []
    for (let i = 0; i < n; i++) chunk.push(doc(1))
    await write(s, chunk.join('\n') + '\n')
    s.end()
    await until(() => aggregator.stats().samplesAccepted >= n, 20_000)
    await emf.close()
    await pool.close()
    await aggregator.close()
    expect(pool.stats.datagramsDropped).toBe(0)
    expect(emf.stats.pauses).toBeGreaterThan(0)
    expect(sink.datums().filter(x => x.MetricName === 'Lat').reduce((a, x) => a + x.StatisticValues.SampleCount, 0)).toBe(n)
  })
})
