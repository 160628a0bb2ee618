/**
 * The log shipper and the CloudWatch Logs sink, through the real
 * `@aws-sdk/client-cloudwatch-logs` over loopback, against the strict logs endpoint: group and
 * stream creation, the PutLogEvents limits, retries under faults, and the one documented
 * duplicate window.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { CloudWatchLogsClient, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { kEventOverheadBytes, kMaxBatchBytes, kMaxEventMessageBytes, kMaxEventsPerBatch } from '../../src/logs/limits.js'
import { createLogShipper, type LogShipper } from '../../src/logs/shipper.js'
import { cloudWatchLogsSink } from '../../src/logs/sinks/cloudwatch-logs.js'
import { startStrictLogsEndpoint, type StrictLogsEndpoint } from '../helpers/strict-logs-endpoint.js'
import * as documented from '../helpers/strict-logs-endpoint.js'
import * as product from '../../src/logs/limits.js'

const credentials = { accessKeyId: 'AKIDSTRICTLOGS', secretAccessKey: 'strict-logs-secret' }
let ep: StrictLogsEndpoint
let n = 0
let group: string

beforeAll(async () => { ep = await startStrictLogsEndpoint() })
afterAll(async () => { await ep?.close() })
beforeEach(() => { ep.clearFaults(); group = `/aws/sagemaker/Endpoints/strict-${++n}` })

function shipper (opts: { requestTimeoutMs?: number, flushIntervalMs?: number } = {}): LogShipper {
  const sink = cloudWatchLogsSink({ region: 'us-east-1', endpoint: ep.endpoint, credentials, requestTimeoutMs: opts.requestTimeoutMs ?? 2000 })
  return createLogShipper({ sink, flushIntervalMs: opts.flushIntervalMs ?? 60_000, retryBaseMs: 5, retryMaxMs: 20, onWarning: () => {} })
}

const lines = (count: number, prefix: string): string[] => Array.from({ length: count }, (_, i) => `${prefix} ${String(i).padStart(5, '0')}`)

describe('the PutLogEvents limits', () => {
  // The endpoint states them from the AWS documentation; src/logs/limits.ts states them for the
  // product. Written twice on purpose, so that one wrong copy shows here.
  it('the endpoint\'s, from the AWS documentation, are the product\'s (src/logs/limits.ts)', () => {
    const names = ['kMaxEventsPerBatch', 'kMaxBatchBytes', 'kEventOverheadBytes', 'kMaxEventBytes', 'kMaxBatchSpanMs', 'kMaxEventAgeMs',
      'kMaxEventFutureMs', 'kMaxLogStreamNameLength'] as const
    for (const name of names) expect(product[name], name).toBe(documented[name])
    expect(product.kLogGroupNamePattern.source).toBe(documented.kLogGroupNamePattern.source)
    expect(product.kMaxEventMessageBytes + product.kEventOverheadBytes).toBeLessThanOrEqual(documented.kMaxEventBytes)
  })
})

describe('CloudWatch Logs sink + shipper against the strict endpoint', () => {
  it('creates a missing group and stream, then delivers in order', async () => {
    const sh = shipper()
    const before = ep.log.length
    const w = sh.stream(group, 'AllTraffic/i-1/container-1')
    for (const l of lines(20, 'a')) w.write(l)
    const r = await sh.close()
    expect(r.eventsUnsent).toBe(0)
    expect(ep.events(group, 'AllTraffic/i-1/container-1').map(e => e.message)).toEqual(lines(20, 'a'))
    expect(ep.log.slice(before).map(e => `${e.op}:${e.code ?? e.status}`)).toEqual([
      'CreateLogStream:ResourceNotFoundException', 'CreateLogGroup:200', 'CreateLogStream:200', 'PutLogEvents:200',
    ])
  })

  it('takes ResourceAlreadyExistsException as success', async () => {
    ep.seed(group, 'v/i/c')
    const sh = shipper()
    const before = ep.log.length
    sh.stream(group, 'v/i/c').write('hello')
    await sh.close()
    expect(ep.log.slice(before).map(e => `${e.op}:${e.code ?? e.status}`)).toEqual(['CreateLogStream:ResourceAlreadyExistsException', 'PutLogEvents:200'])
    expect(ep.events(group, 'v/i/c').map(e => e.message)).toEqual(['hello'])
  })

  it('stays within 10,000 events and 1,048,576 bytes (26 a event) a call, splitting over-long lines', async () => {
    const sh = shipper()
    const w = sh.stream(group, 's')
    const want = lines(22_000, 'small')
    for (const l of want) w.write(l)
    const big = Array.from({ length: 9 }, (_, i) => String(i).repeat(200_000))
    for (const b of big) w.write(b)
    const huge = 'h'.repeat(kMaxEventMessageBytes + 1000) // one line, two events
    w.write(huge)
    const before = ep.puts.length
    const r = await sh.close(10_000)
    expect(r.eventsUnsent).toBe(0)
    expect(ep.rejections.filter(x => x.code === 'InvalidParameterException')).toEqual([])
    const puts = ep.puts.slice(before)
    expect(puts.length).toBeGreaterThanOrEqual(5)
    for (const p of puts) {
      expect(p.events).toBeLessThanOrEqual(kMaxEventsPerBatch)
      expect(p.batchBytes).toBeLessThanOrEqual(kMaxBatchBytes)
    }
    expect(puts[0].events).toBe(kMaxEventsPerBatch)
    const got = ep.events(group, 's').map(e => e.message)
    expect(got.slice(0, want.length)).toEqual(want)
    expect(got.slice(want.length, want.length + 9)).toEqual(big)
    expect(got.slice(want.length + 9)).toEqual([huge.slice(0, kMaxEventMessageBytes), huge.slice(kMaxEventMessageBytes)])
    expect(Buffer.byteLength(got[want.length + 9]) + kEventOverheadBytes).toBe(256 * 1024)
  })

  it.each(['throttle', '500', '503', 'reset', 'timeout'] as const)('retries after %s and delivers every line once, in order', async (fault) => {
    const sh = shipper({ requestTimeoutMs: 300 })
    const w = sh.stream(group, 's')
    w.write('first')
    await sh.flush() // the stream exists now
    ep.inject(fault, { op: 'PutLogEvents', times: 2 })
    for (const l of lines(300, fault)) w.write(l)
    const r = await sh.close(10_000)
    expect(r.eventsUnsent).toBe(0)
    expect(r.stats.requestsFailed).toBe(2)
    expect(ep.events(group, 's').map(e => e.message)).toEqual(['first', ...lines(300, fault)])
  })

  it('the duplicate window: a batch stored but never acknowledged is stored again by the retry, back to back', async () => {
    const sh = shipper({ requestTimeoutMs: 300 })
    const w = sh.stream(group, 's')
    w.write('before')
    await sh.flush()
    ep.inject('acceptThenTimeout', { op: 'PutLogEvents' })
    const batch = lines(5, 'dup')
    for (const l of batch) w.write(l)
    await sh.flush()
    w.write('after')
    await sh.close(10_000)
    // Exactly that batch, twice, in order; nothing else duplicated.
    expect(ep.events(group, 's').map(e => e.message)).toEqual(['before', ...batch, ...batch, 'after'])
  })

  it('drops only the event the service refuses as invalid', async () => {
    const sh = shipper()
    const w = sh.stream(group, 's')
    ep.inject('invalid', { op: 'PutLogEvents', messageContains: 'POISON', times: 100 })
    const want = lines(100, 'ok')
    want.forEach((l, i) => { w.write(l); if (i === 42) w.write('POISON pill') })
    const r = await sh.close(10_000)
    expect(ep.events(group, 's').map(e => e.message)).toEqual(want)
    expect(r.stats.eventsFailed).toBe(1)
  })

  it('recreates a group deleted under it', async () => {
    const sh = shipper()
    const w = sh.stream(group, 's')
    w.write('one')
    await sh.flush()
    ep.dropGroup(group)
    w.write('two')
    await sh.close()
    expect(ep.events(group, 's').map(e => e.message)).toEqual(['two'])
  })

  it('counts events the service refuses for their timestamp', async () => {
    const skewed = await startStrictLogsEndpoint({ now: () => Date.now() - 3 * 3600_000 }) // the service's clock: 3 h behind
    try {
      const sink = cloudWatchLogsSink({ region: 'us-east-1', endpoint: skewed.endpoint, credentials })
      const sh = createLogShipper({ sink, flushIntervalMs: 60_000, onWarning: () => {} })
      for (const l of lines(4, 'future')) sh.stream('/g', 's').write(l)
      const r = await sh.close()
      expect(r.stats.eventsSent).toBe(4)
      expect(r.stats.eventsRejected).toBe(4)
      expect(skewed.events('/g', 's')).toEqual([])
    } finally {
      await skewed.close()
    }
  })
})

describe('the strict logs endpoint enforces the contract the shipper must respect', () => {
  const client = (): CloudWatchLogsClient => new CloudWatchLogsClient({ region: 'us-east-1', endpoint: ep.endpoint, credentials, maxAttempts: 1 })
  const put = async (logEvents: Array<{ timestamp: number, message: string }>): Promise<string> => {
    const c = client()
    try {
      await c.send(new PutLogEventsCommand({ logGroupName: '/strict/contract', logStreamName: 's', logEvents }))
      return 'ok'
    } catch (err) {
      return (err as Error).name
    } finally {
      c.destroy()
    }
  }
  beforeAll(() => { ep.seed('/strict/contract', 's') })
  const now = Date.now()

  it('refuses events out of chronological order', async () => {
    expect(await put([{ timestamp: now, message: 'b' }, { timestamp: now - 1, message: 'a' }])).toBe('InvalidParameterException')
  })
  it('refuses more than 10,000 events, over 1,048,576 bytes, empty messages, and events over 256 KB', async () => {
    expect(await put(Array.from({ length: 10_001 }, () => ({ timestamp: now, message: 'x' })))).toBe('InvalidParameterException')
    expect(await put(Array.from({ length: 5 }, () => ({ timestamp: now, message: 'y'.repeat(220_000) })))).toBe('InvalidParameterException')
    expect(await put([{ timestamp: now, message: '' }])).toBe('InvalidParameterException')
    expect(await put([{ timestamp: now, message: 'z'.repeat(256 * 1024 - 25) }])).toBe('InvalidParameterException')
    expect(await put([{ timestamp: now, message: 'z'.repeat(256 * 1024 - 26) }])).toBe('ok')
  })
  it('refuses a batch spanning more than 24 hours, and a missing stream', async () => {
    expect(await put([{ timestamp: now - 25 * 3600_000, message: 'a' }, { timestamp: now, message: 'b' }])).toBe('InvalidParameterException')
    const c = client()
    try {
      await expect(c.send(new PutLogEventsCommand({ logGroupName: '/strict/contract', logStreamName: 'nope', logEvents: [{ timestamp: now, message: 'x' }] })))
        .rejects.toMatchObject({ name: 'ResourceNotFoundException' })
    } finally {
      c.destroy()
    }
  })
})
