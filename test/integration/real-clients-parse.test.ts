/**
 * The real clients, over real sockets on 127.0.0.1, into the parsers:
 * - hot-shots (plain mode, buffered and unbuffered, tags, sample rates, timestamps; Datadog mode
 *   with its |c: / |e: / |card: extension fields and client telemetry) -> node:dgram -> parseStatsd
 * - aws-embedded-metrics in Agent mode over TCP (node:net, newline framing) and UDP -> parseEmf
 */
import { createServer, type Server, type Socket as NetSocket } from 'node:net'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { StatsD } from 'hot-shots'
import { parseStatsd, type StatsdParseOptions } from '../../src/ingest/statsd.js'
import { parseEmf } from '../../src/ingest/emf.js'
import { RecordingReceiver, type RecordedSample } from '../helpers/recording-receiver.js'

/** A whole second a few minutes ago: aws-embedded-metrics refuses timestamps older than 2 weeks. */
const TS = Math.floor(Date.now() / 60_000) * 60_000 - 120_000

/** Polls until `cond` holds; a failing expectation afterwards shows what did arrive. */
async function until (cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 10))
}

function closeClient (client: StatsD): Promise<void> {
  return new Promise(resolve => { client.close(() => resolve()) })
}

/** JSON with object keys sorted, so dimension objects compare regardless of insertion order. */
function canon (x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v))
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
    : v)
}

/** Strips fields that vary by client mode, for comparing the values that matter. */
function brief (x: RecordedSample): [string, number, string | undefined, Record<string, string> | undefined, number] {
  return [x.metric, x.value, x.unit, x.dimensions, x.count]
}

describe('hot-shots -> UDP -> parseStatsd', () => {
  let socket: UdpSocket
  let port: number
  let receiver: RecordingReceiver
  let datagrams: string[]
  const options: StatsdParseOptions = { units: { ModelLatency: 'Microseconds', OverheadLatency: 'Microseconds' } }
  const savedEnv = { ...process.env }

  beforeAll(async () => {
    // hot-shots switches itself to Datadog mode when any DD_* variable is set; the plain-mode
    // tests must not depend on the environment they run in.
    for (const k of Object.keys(process.env)) if (k.startsWith('DD_') || k.startsWith('DATADOG_')) delete process.env[k]
    socket = createSocket('udp4')
    socket.on('message', msg => {
      datagrams.push(msg.toString('utf8'))
      parseStatsd(msg, receiver, options)
    })
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
    port = (socket.address()).port
  })
  afterAll(async () => {
    process.env = savedEnv
    await new Promise<void>(resolve => socket.close(() => resolve()))
  })
  afterEach(() => { vi.restoreAllMocks() })

  function fresh (): void {
    receiver = new RecordingReceiver()
    datagrams = []
  }

  it('plain mode, one datagram per metric: every type, tags, rates and timestamps arrive exactly', async () => {
    fresh()
    // hot-shots samples with Math.random() < rate: pin it so sampled calls are always sent.
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const client = new StatsD({ host: '127.0.0.1', port, datadog: false, errorHandler: e => { throw e } })
    const ep = { EndpointName: 'ep-1', VariantName: 'AllTraffic' }
    client.timing('ModelLatency', 1234.5, ep)
    client.timing('OverheadLatency', 87, 0.5, ep)
    client.increment('Invocations', ep)
    client.increment('Invocations', 3, 0.25, ep)
    client.decrement('Inflight')
    client.gauge('CPUUtilization', 173.25, ['Host:ep-1/AllTraffic/i-0abc'])
    client.gauge('Temperature', -4.5)
    client.histogram('PayloadSize', 2048, ['canary', 'route:/invocations'])
    client.distribution('BatchSize', 8, { model: 'resnet' })
    client.gauge('Queue', 7, { timestamp: new Date(TS) })
    client.increment('Retries', 1, { timestamp: TS / 1000, tags: { reason: 'timeout' } })
    const expected: Array<ReturnType<typeof brief>> = [
      ['ModelLatency', 1234.5, 'Microseconds', ep, 1],
      ['OverheadLatency', 87, 'Microseconds', ep, 2],
      ['Invocations', 1, 'Count', ep, 1],
      ['Invocations', 3, 'Count', ep, 4],
      ['Inflight', -1, 'Count', undefined, 1],
      ['CPUUtilization', 173.25, 'None', { Host: 'ep-1/AllTraffic/i-0abc' }, 1],
      ['Temperature', -4.5, 'None', undefined, 1],
      ['PayloadSize', 2048, 'None', { canary: 'true', route: '/invocations' }, 1],
      ['BatchSize', 8, 'None', { model: 'resnet' }, 1],
      ['Queue', 7, 'None', undefined, 1],
      ['Retries', 1, 'Count', { reason: 'timeout' }, 1],
    ]
    await until(() => receiver.samples.length >= expected.length)
    await closeClient(client)
    expect(receiver.rejects).toEqual([])
    // UDP on loopback keeps order in practice, but the assertion must not depend on it.
    // hot-shots moves bare tags after key:value tags; the receiver canonicalises dimension order.
    expect(receiver.samples.map(brief).map(canon).sort()).toEqual(expected.map(canon).sort())
    expect(datagrams.length).toBe(expected.length)
    expect(datagrams.some(d => d.includes('\n'))).toBe(false)
    const ts = receiver.samples.filter(x => x.metric === 'Queue' || x.metric === 'Retries').map(x => x.timestampMs)
    expect(ts).toEqual([TS, TS])
    expect(receiver.samples.filter(x => !['Queue', 'Retries'].includes(x.metric)).every(x => Number.isNaN(x.timestampMs))).toBe(true)
  })

  it('plain mode with maxBufferSize: lines share datagrams; unsupported lines among them are rejected alone', async () => {
    fresh()
    const client = new StatsD({
      host: '127.0.0.1', port, datadog: false, maxBufferSize: 200, bufferFlushInterval: 50,
      prefix: 'svc', globalTags: { env: 'test' }, errorHandler: e => { throw e },
    })
    for (let i = 0; i < 30; i++) client.distribution('lat', i, { op: i % 2 === 0 ? 'even' : 'odd' })
    client.set('users', 'alice')
    client.event('deploy', 'v2 rolled out')
    client.check('svc.up', client.CHECKS.OK)
    client.gaugeDelta('conns', 4)
    client.gaugeDelta('conns', -2)
    client.increment('done')
    client.flush()
    await until(() => receiver.samples.length >= 32 && receiver.rejects.length >= 4)
    await closeClient(client)

    // Several lines a datagram, none over the buffer size.
    expect(datagrams.length).toBeLessThan(receiver.samples.length)
    expect(datagrams.some(d => d.split('\n').length > 1)).toBe(true)
    expect(datagrams.every(d => Buffer.byteLength(d) <= 200)).toBe(true)

    const lat = receiver.samples.filter(x => x.metric === 'svc.lat')
    expect(lat.map(x => x.value)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(lat.every(x => x.dimensions?.env === 'test' && x.unit === 'None' && x.count === 1)).toBe(true)
    expect(lat.map(x => x.dimensions?.op)).toEqual(Array.from({ length: 30 }, (_, i) => i % 2 === 0 ? 'even' : 'odd'))
    // Identical tag strings share one dimensions object (the receiver's identity fast path).
    expect(lat[0].dimensions).toBe(lat[2].dimensions)
    // gaugeDelta(-2) is on the wire as "-2|g", the same bytes as gauge(-2): read as an absolute value.
    expect(receiver.samples.filter(x => x.metric !== 'svc.lat').map(brief)).toEqual([
      ['svc.conns', -2, 'None', { env: 'test' }, 1],
      ['svc.done', 1, 'Count', { env: 'test' }, 1],
    ])
    expect(receiver.reasons()).toEqual(['unsupported_type', 'unsupported_type', 'unsupported_type', 'unsupported_type'])
    expect(receiver.rejects[0].message).toMatch(/sets/)
    expect(receiver.rejects[1].message).toMatch(/events/)
    expect(receiver.rejects[2].message).toMatch(/service checks/)
    expect(receiver.rejects[3].message).toMatch(/gauge delta "\+4"/)
  })

  it('Datadog mode: |c:, |e: and |card: fields and client telemetry are accepted', async () => {
    fresh()
    vi.spyOn(Math, 'random').mockReturnValue(0)
    process.env.DD_EXTERNAL_ENV = 'it-false,cn-inference,pu-1234'
    const client = new StatsD({
      host: '127.0.0.1', port, datadog: true, containerID: 'c0ffee1234', cardinality: 'orchestrator',
      includeDatadogTelemetry: true, telemetryFlushInterval: 100, maxBufferSize: 1000, bufferFlushInterval: 20,
      errorHandler: e => { throw e },
    })
    delete process.env.DD_EXTERNAL_ENV
    client.distribution('ModelLatency', 950, 0.5, { EndpointName: 'ep' })
    client.increment('Invocations', 1, { cardinality: 'low', tags: ['EndpointName:ep'] })
    client.histogram('h', 3, { timestamp: new Date(TS) })
    await until(() => receiver.samples.some(x => x.metric.startsWith('datadog.dogstatsd.client.')))
    await closeClient(client)

    const all = datagrams.join('\n')
    expect(all).toContain('|c:c0ffee1234')
    expect(all).toContain('|e:it-false,cn-inference,pu-1234')
    expect(all).toContain('|card:orchestrator')
    expect(all).toContain('|card:low')
    expect(receiver.rejects).toEqual([])
    const mine = receiver.samples.filter(x => !x.metric.startsWith('datadog.dogstatsd.client.'))
    expect(mine.map(brief)).toEqual([
      ['ModelLatency', 950, 'Microseconds', { EndpointName: 'ep' }, 2],
      ['Invocations', 1, 'Count', { EndpointName: 'ep' }, 1],
      ['h', 3, 'None', undefined, 1],
    ])
    expect(mine[2].timestampMs).toBe(TS)
    const telemetry = receiver.samples.filter(x => x.metric.startsWith('datadog.dogstatsd.client.'))
    expect(telemetry.every(x => x.unit === 'Count' && x.dimensions?.client === 'nodejs')).toBe(true)
  })
})

describe('aws-embedded-metrics (Agent mode) -> parseEmf', () => {
  let tcp: Server
  let tcpPort: number
  const conns = new Set<NetSocket>()
  let udp: UdpSocket
  let udpPort: number
  let receiver: RecordingReceiver
  let documents: string[]
  let lib: typeof import('aws-embedded-metrics')
  const savedEnv = { ...process.env }

  beforeAll(async () => {
    tcp = createServer(sock => {
      conns.add(sock)
      sock.on('close', () => conns.delete(sock))
      // TCP is a stream: a document may arrive in pieces, or several in one chunk.
      // Frame on \n as the CloudWatch agent does, and hand whole lines to the parser.
      let pending: Buffer = Buffer.alloc(0)
      sock.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
        const last = pending.lastIndexOf(10)
        if (last < 0) return
        const whole = pending.subarray(0, last + 1)
        pending = pending.subarray(last + 1)
        documents.push(...whole.toString('utf8').split('\n').filter(l => l !== ''))
        parseEmf(whole, receiver)
      })
    })
    await new Promise<void>(resolve => tcp.listen(0, '127.0.0.1', resolve))
    tcpPort = (tcp.address() as AddressInfo).port

    udp = createSocket('udp4')
    udp.on('message', msg => {
      documents.push(...msg.toString('utf8').split('\n').filter(l => l !== ''))
      parseEmf(msg, receiver)
    })
    await new Promise<void>(resolve => udp.bind(0, '127.0.0.1', resolve))
    udpPort = udp.address().port

    // The library reads its configuration from the environment once, at import, and starts
    // resolving its environment then: set everything before the first import.
    process.env.AWS_EMF_ENVIRONMENT = 'Agent'
    process.env.AWS_EMF_AGENT_ENDPOINT = `tcp://127.0.0.1:${tcpPort}`
    process.env.AWS_EMF_SERVICE_NAME = 'inference'
    process.env.AWS_EMF_SERVICE_TYPE = 'SageMaker'
    process.env.AWS_EMF_LOG_GROUP_NAME = '/aws/sagemaker/Endpoints/ep-1'
    lib = await import('aws-embedded-metrics')
  })
  afterAll(async () => {
    process.env = savedEnv
    for (const c of conns) c.destroy()
    await new Promise<void>(resolve => tcp.close(() => resolve()))
    await new Promise<void>(resolve => udp.close(() => resolve()))
  })

  function fresh (): void {
    receiver = new RecordingReceiver()
    documents = []
  }

  const defaults = { LogGroup: '/aws/sagemaker/Endpoints/ep-1', ServiceName: 'inference', ServiceType: 'SageMaker' }

  it('TCP: values, units, default + custom dimensions and the timestamp arrive exactly', async () => {
    fresh()
    const m = lib.createMetricsLogger()
    m.setNamespace('minutely/test')
    m.setTimestamp(new Date(TS))
    m.putDimensions({ EndpointName: 'ep-1', VariantName: 'AllTraffic' })
    m.putMetric('ModelLatency', 1200, lib.Unit.Microseconds)
    m.putMetric('ModelLatency', 1350.5, lib.Unit.Microseconds)
    m.putMetric('Invocations', 1, lib.Unit.Count)
    m.putMetric('CPUUtilization', 173.25, lib.Unit.Percent, lib.StorageResolution.High)
    m.putMetric('NoUnit', 3)
    m.setProperty('RequestId', 'req-1')
    await m.flush()
    await until(() => receiver.samples.length >= 5)

    expect(receiver.rejects).toEqual([])
    expect(documents.length).toBe(1)
    const dims = { ...defaults, EndpointName: 'ep-1', VariantName: 'AllTraffic' }
    const s = (metric: string, value: number, unit: string): RecordedSample =>
      ({ metric, value, unit, dimensions: dims, timestampMs: TS, count: 1, namespace: 'minutely/test' })
    // The library orders metrics in a document by how many values each has left (a max-heap),
    // not by insertion: compare as sets.
    expect(receiver.samples.map(canon).sort()).toEqual([
      s('ModelLatency', 1200, 'Microseconds'),
      s('ModelLatency', 1350.5, 'Microseconds'),
      s('Invocations', 1, 'Count'),
      s('CPUUtilization', 173.25, 'Percent'),
      s('NoUnit', 3, 'None'),
    ].map(canon).sort())
    // What the library actually sent.
    const sent = JSON.parse(documents[0]) as Record<string, unknown> & { _aws: Record<string, unknown> }
    expect(sent._aws.LogGroupName).toBe('/aws/sagemaker/Endpoints/ep-1')
    expect(sent.ModelLatency).toEqual([1200, 1350.5])
    expect(sent.Invocations).toBe(1)
    const directives = sent._aws.CloudWatchMetrics as Array<{ Metrics: Array<{ Name: string }> }>
    expect(directives.length).toBe(1)
    expect(directives[0]).toMatchObject({
      Dimensions: [['LogGroup', 'ServiceName', 'ServiceType', 'EndpointName', 'VariantName']],
      Namespace: 'minutely/test',
    })
    expect(directives[0].Metrics.map(canon).sort()).toEqual([
      { Name: 'ModelLatency', Unit: 'Microseconds' },
      { Name: 'Invocations', Unit: 'Count' },
      { Name: 'CPUUtilization', Unit: 'Percent', StorageResolution: 1 },
      { Name: 'NoUnit', Unit: 'None' },
    ].map(canon).sort())
  })

  it('TCP: several dimension sets record each value once per set; 150 values are split over two documents', async () => {
    fresh()
    const m = lib.createMetricsLogger()
    m.setNamespace('minutely/test')
    m.setTimestamp(TS)
    m.setDimensions([{ EndpointName: 'ep-1', VariantName: 'v1' }, { EndpointName: 'ep-1' }])
    for (let i = 0; i < 150; i++) m.putMetric('ModelLatency', i, lib.Unit.Microseconds)
    await m.flush()
    await until(() => receiver.samples.length >= 300)

    expect(receiver.rejects).toEqual([])
    expect(documents.length).toBe(2)
    const bySet = (d: Record<string, string>): number[] =>
      receiver.samples.filter(x => canon(x.dimensions) === canon(d)).map(x => x.value).sort((a, b) => a - b)
    const all = Array.from({ length: 150 }, (_, i) => i)
    // setDimensions without useDefault drops the default dimensions.
    expect(bySet({ EndpointName: 'ep-1', VariantName: 'v1' })).toEqual(all)
    expect(bySet({ EndpointName: 'ep-1' })).toEqual(all)
    expect(receiver.samples.length).toBe(300)
    expect(receiver.samples.every(x => x.unit === 'Microseconds' && x.timestampMs === TS && x.count === 1)).toBe(true)
  })

  it('UDP: one document per datagram, each ending in a newline', async () => {
    fresh()
    // AgentSink reads Configuration.agentEndpoint when it is constructed; a custom environment
    // hands that sink to a MetricsLogger (the TCP tests above use the library's own resolution).
    lib.Configuration.agentEndpoint = `udp://127.0.0.1:${udpPort}`
    const sink = new lib.AgentSink('udp-group')
    const env = {
      probe: async () => true,
      getName: () => 'inference',
      getType: () => 'SageMaker',
      getLogGroupName: () => 'udp-group',
      configureContext: () => undefined,
      getSink: () => sink,
    }
    const m = new lib.MetricsLogger(async () => env)
    m.setNamespace('minutely/udp')
    m.setTimestamp(TS)
    m.putDimensions({ Host: 'ep-1/AllTraffic/i-0abc' })
    for (let i = 0; i < 120; i++) m.putMetric('GPUUtilization', i / 2, lib.Unit.Percent)
    m.putMetric('MemoryUtilization', 41.5, lib.Unit.Percent)
    await m.flush()
    await until(() => receiver.samples.length >= 121)

    expect(receiver.rejects).toEqual([])
    expect(documents.length).toBe(2)
    const dims = { LogGroup: 'udp-group', ServiceName: 'inference', ServiceType: 'SageMaker', Host: 'ep-1/AllTraffic/i-0abc' }
    expect(receiver.samples.every(x => canon(x.dimensions) === canon(dims) && x.namespace === 'minutely/udp')).toBe(true)
    expect(receiver.samples.filter(x => x.metric === 'GPUUtilization').map(x => x.value).sort((a, b) => a - b))
      .toEqual(Array.from({ length: 120 }, (_, i) => i / 2))
    expect(receiver.samples.filter(x => x.metric === 'MemoryUtilization').map(brief))
      .toEqual([['MemoryUtilization', 41.5, 'Percent', dims, 1]])
  })
})
