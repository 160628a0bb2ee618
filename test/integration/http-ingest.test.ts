/**
 * The HTTP JSON ingest over real HTTP on 127.0.0.1: per-sample rejections in the body's words
 * (`samples[i].<field>`), and bodies sent gzip- or deflate-encoded, with `maxBodyBytes` applied
 * to the decompressed size — a decompression bomb gets 413 and is never inflated past the limit.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, type Aggregator } from '../../src/index.js'
import { readBody, startHttpListener, type BodyRead, type HttpListener } from '../../src/listeners/http.js'
import { flagText } from '../../src/cli/config.js'
import { kSidecarSettings } from '../../src/cli/sidecar.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 30)
const open: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const close of open.splice(0)) await close()
})

async function start (opts: { maxBodyBytes?: number, maxDimensions?: number, renameOptions?: (m: string) => string } = {}): Promise<{ agg: Aggregator, base: string, port: number }> {
  const clock = new ManualClock(T0)
  const agg = createAggregator({ namespace: 'HttpIngest', sink: inMemorySink(), clock, maxDimensions: opts.maxDimensions, onWarning: () => {} })
  const listener: HttpListener = await startHttpListener({ aggregator: agg, port: 0, host: '127.0.0.1', maxBodyBytes: opts.maxBodyBytes, renameOptions: opts.renameOptions })
  open.push(async () => { await listener.close(); await agg.close() })
  return { agg, base: `http://127.0.0.1:${listener.port}`, port: listener.port }
}

interface Answer { status: number, headers: http.IncomingHttpHeaders, json: any }

/** One POST with node:http, so that the test sets content-encoding and content-length itself. */
function post (port: number, body: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/samples', agent: false, headers: { 'content-type': 'application/json', ...headers } }, res => {
      let s = ''
      res.on('data', (d: Buffer) => { s += d.toString() })
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(s) } catch { json = s }
        resolve({ status: res.statusCode!, headers: res.headers, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** 1 GiB of zeros as ~1 MB of gzip: 16 gzip members of 64 MiB each (a gzip stream may hold several). */
function gzipBomb (): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(64 * 2 ** 20), { level: 9 })
  return Buffer.concat(Array.from({ length: 16 }, () => member))
}

const samples = [
  { metric: 'ModelLatency', value: 1234, unit: 'Microseconds', dimensions: { EndpointName: 'ep' } },
  { metric: 'Invocations', value: 1, unit: 'Count', dimensions: { EndpointName: 'ep' } },
]
const json = JSON.stringify({ samples })

describe('per-sample rejections name the sample and its field', () => {
  it('samples[i].<field> and what to change, never a library call or option name', async () => {
    const { port } = await start({ maxDimensions: 2, renameOptions: m => flagText(m, kSidecarSettings) })
    const cases: Array<[unknown, string, RegExp]> = [
      [{ value: 1 }, 'metric_name_invalid', /^samples\[0\]\.metric is required/],
      [{ metric: '', value: 1 }, 'metric_name_invalid', /^samples\[1\]\.metric must be a non-empty string/],
      [{ metric: 'x'.repeat(300), value: 1 }, 'metric_name_invalid', /^samples\[2\]\.metric "x+\.\.\." is 300 characters long: at most 255/],
      [{ metric: 'm' }, 'not_a_number', /^samples\[3\]\.value is required: a finite number/],
      [{ metric: 'm', value: 'fast' }, 'not_a_number', /^samples\[4\]\.value "fast" is not a number: send a finite number/],
      [{ metric: 'm', value: 1, unit: 'ms' }, 'unit_invalid', /^samples\[5\]\.unit "ms" is not a CloudWatch unit; use one of .*Milliseconds/],
      [{ metric: 'm', value: 1, dimensions: { a: '1', b: '2', c: '3' } }, 'too_many_dimensions', /^samples\[6\]\.dimensions: 3 dimensions .*at most 2 .*raise --max-dimensions/],
      [{ metric: 'm', value: 1, dimensions: { a: '' } }, 'dimension_invalid', /^samples\[7\]\.dimensions: dimension "a" has an empty value/],
      [{ metric: 'm', value: 1, dimensions: [1] }, 'dimension_invalid', /^samples\[8\]\.dimensions must be an object/],
      [{ metric: 'm', value: 1, timestamp: 1 }, 'timestamp_too_old', /^samples\[9\]\.timestamp 1970-01-01T00:00:00\.001Z is older than/],
      [{ metric: 'm', value: 1, timestamp: 'now' }, 'timestamp_invalid', /^samples\[10\]\.timestamp must be epoch milliseconds/],
      [{ metric: 'm', value: 1, count: -1 }, 'count_invalid', /^samples\[11\]\.count -1 must be a positive finite number/],
      [{ metric: 'm', value: 1, count: '2' }, 'count_invalid', /^samples\[12\]\.count must be a positive number; got "2"/],
      [{ metric: 'm', value: 1, namespace: '' }, 'namespace_invalid', /^samples\[13\]\.namespace must be a string of 1–255 characters \(or left out/],
      [{ metric: 'm', value: 1, namespace: 'AWS/x' }, 'namespace_invalid', /^samples\[14\]\.namespace "AWS\/x" starts with "AWS\/"/],
      [7, 'malformed', /^samples\[15\] must be an object/],
    ]
    const body = JSON.stringify({ samples: cases.map(c => c[0]) }).replace(/\]\}$/, ',{"metric":"m","value":1e400}]}')   // 1e400 parses to Infinity
    const r = await post(port, body)
    expect(r.status).toBe(200)
    expect(r.json.accepted).toBe(0)
    const rejected = r.json.rejected as Array<{ index: number, reason: string, message: string }>
    expect(rejected.map(x => [x.index, x.reason])).toEqual([...cases.map((c, i) => [i, c[1]]), [16, 'not_finite']])
    cases.forEach((c, i) => { expect(rejected[i].message).toMatch(c[2]) })
    expect(rejected[16].message).toMatch(/^samples\[16\]\.value Infinity is not finite/)
    for (const x of rejected) {
      expect(x.message).toMatch(new RegExp(`^samples\\[${x.index}\\]`))
      expect(x.message).not.toMatch(/record\(|options\.|maxDimensions|close\(\)/)
    }
  })

  it('a misspelt field is a rejection naming the closest field, not a sample published with defaults; the others still count', async () => {
    const { agg, port } = await start()
    const r = await post(port, JSON.stringify({ samples: [
      { metric: 'ModelLatency', value: 1, unti: 'Seconds' },
      { metric: 'ModelLatency', value: 2, unit: 'Seconds', timestmap: 1 },
      { metric: 'ModelLatency', value: 3, 'bad\u0000key': 1 },
      { metric: 'ModelLatency', value: 4, unit: 'Seconds' },
    ] }))
    expect(r.status).toBe(200)
    expect(r.json.accepted).toBe(1)
    expect(r.json.rejected.map((x: { index: number, reason: string }) => [x.index, x.reason])).toEqual([[0, 'malformed'], [1, 'malformed'], [2, 'malformed']])
    expect(r.json.rejected[0].message).toMatch(/^samples\[0\]\.unti is not a field of a sample; did you mean unit\? \(fields: metric, value, unit, dimensions, timestamp, count, namespace\)$/)
    expect(r.json.rejected[1].message).toMatch(/^samples\[1\]\.timestmap is not a field of a sample; did you mean timestamp\?/)
    expect(r.json.rejected[2].message).toMatch(/^samples\[2\]\["bad\\u0000key"\] is not a field of a sample \(fields:/)
    expect(agg.stats().rejectedByReason.malformed).toBe(3)
    expect(agg.snapshot().open.flatMap(p => p.series).map(x => [x.metric, x.unit, x.count])).toEqual([['ModelLatency', 'Seconds', 1]])
  })

  it('without renameOptions the engine\'s option names stay (the listener knows no flags)', async () => {
    const { port } = await start({ maxDimensions: 1 })
    const r = await post(port, JSON.stringify({ samples: [{ metric: 'm', value: 1, dimensions: { a: '1', b: '2' } }] }))
    expect(r.json.rejected[0].message).toMatch(/^samples\[0\]\.dimensions: .*raise options\.maxDimensions/)
  })
})

describe('content-encoding', () => {
  it('gzip, x-gzip, deflate (zlib and raw) and identity bodies are read; other codings get 415 naming the supported ones', async () => {
    const { agg, port } = await start()
    const raw = Buffer.from(json)
    for (const [coding, body] of [
      ['gzip', zlib.gzipSync(raw)], ['x-gzip', zlib.gzipSync(raw)], ['GZIP', zlib.gzipSync(raw)],
      ['deflate', zlib.deflateSync(raw)], ['deflate', zlib.deflateRawSync(raw)],
      ['identity', raw], ['', raw], ['identity, gzip', zlib.gzipSync(raw)],
    ] as Array<[string, Buffer]>) {
      const r = await post(port, body, { 'content-encoding': coding })
      expect({ coding, status: r.status, json: r.json }).toEqual({ coding, status: 200, json: { accepted: 2, rejected: [] } })
    }
    expect(agg.stats().samplesAccepted).toBe(16)

    for (const coding of ['br', 'compress', 'zstd', 'gzip, gzip']) {
      const r = await post(port, zlib.gzipSync(raw), { 'content-encoding': coding })
      expect(r.status, coding).toBe(415)
      expect(r.json.error).toContain(JSON.stringify(coding))
      expect(r.json.error).toMatch(/gzip, deflate or identity/)
      expect(r.headers['accept-encoding']).toBe('gzip, deflate, identity')
    }
    expect(agg.stats().samplesAccepted).toBe(16)
    expect(agg.stats().rejectedByReason.malformed).toBe(4)
  })

  it('a body that is not what its content-encoding says gets 400', async () => {
    const { agg, port } = await start()
    const r = await post(port, json, { 'content-encoding': 'gzip' })
    expect(r.status).toBe(400)
    expect(r.json.error).toMatch(/^body is not valid gzip/)
    const cut = zlib.gzipSync(Buffer.from(json)).subarray(0, 20)   // truncated
    const t = await post(port, cut, { 'content-encoding': 'gzip' })
    expect(t.status).toBe(400)
    expect(t.json.error).toMatch(/not valid gzip|JSON/)
    expect(agg.stats().samplesAccepted).toBe(0)
  })

  it('maxBodyBytes applies to the decompressed size: exactly the limit passes, one byte more gets 413', async () => {
    const exact = JSON.stringify({ samples: [{ metric: 'm', value: 1 }], pad: '' })
    const limit = exact.length + 100
    const { agg, port } = await start({ maxBodyBytes: limit })
    const padded = (n: number): Buffer => Buffer.from(JSON.stringify({ samples: [{ metric: 'm', value: 1 }], pad: ' '.repeat(n) }))
    const atLimit = padded(100)
    expect(atLimit.length).toBe(limit)
    expect((await post(port, zlib.gzipSync(atLimit), { 'content-encoding': 'gzip' })).json).toEqual({ accepted: 1, rejected: [] })
    const over = await post(port, zlib.gzipSync(padded(101)), { 'content-encoding': 'gzip' })
    expect(over.status).toBe(413)
    expect(over.json.error).toMatch(new RegExp(`over the limit of ${limit} bytes once decompressed`))
    expect(agg.stats().rejectedByReason.too_large).toBe(1)
  })

  it('a 1 GiB gzip bomb (~1 MB on the wire) gets 413, read to its end so that the client sees the answer', async () => {
    const bomb = gzipBomb()
    expect(bomb.length).toBeLessThan(2 * 2 ** 20)
    const { agg, port } = await start({ maxBodyBytes: 2 * 2 ** 20 })
    const r = await post(port, bomb, { 'content-encoding': 'gzip' })
    expect(r.status).toBe(413)
    expect(r.json.error).toMatch(/once decompressed/)
    expect(agg.stats().rejectedByReason.too_large).toBe(1)
    expect(agg.stats().samplesAccepted).toBe(0)
  })

  it('the compressed bytes are capped too: a body within the limit decoded but over it on the wire gets 413', async () => {
    const max = 64 * 1024
    const { agg, port } = await start({ maxBodyBytes: max })
    const exact = Buffer.from(JSON.stringify({ samples: [{ metric: 'm', value: 1 }], pad: ' '.repeat(max - 47) }))
    expect(exact.length).toBe(max)
    expect((await post(port, exact)).json).toEqual({ accepted: 1, rejected: [] })
    const stored = zlib.gzipSync(exact, { level: 0 })   // stored blocks: a little longer than what they hold
    expect(stored.length).toBeGreaterThan(max)
    const status = await new Promise<{ status: number, error: string }>((resolve, reject) => {
      // Not declared (chunked): counted as it arrives.
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/samples', agent: false, headers: { 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' } }, res => {
        let s = ''
        res.on('data', (d: Buffer) => { s += d.toString() })
        res.on('end', () => { resolve({ status: res.statusCode!, error: (JSON.parse(s) as { error: string }).error }) })
      })
      req.on('error', reject)
      req.end(stored)
    })
    expect(status.status).toBe(413)
    expect(status.error).toBe(`body is over the limit of ${max} bytes: send smaller batches`)
    const declared = await post(port, stored, { 'content-encoding': 'gzip' })
    expect(declared.status).toBe(413)
    expect(agg.stats().samplesAccepted).toBe(1)
    expect(agg.stats().rejectedByReason.too_large).toBe(2)
  })
})

describe('readBody stops inflating at the limit', () => {
  /** A real server whose handler reads with readBody, to see how far it inflated. */
  async function reader (coding: 'gzip' | 'deflate' | 'identity', max: number): Promise<{ port: number, result: Promise<BodyRead> }> {
    let got!: (r: BodyRead) => void
    const result = new Promise<BodyRead>(resolve => { got = resolve })
    const server = http.createServer((req, res) => {
      void readBody(req, coding, max).then(r => { got(r); res.end('ok') })
    })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    open.push(async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }) }) })
    return { port: (server.address() as AddressInfo).port, result }
  }

  it('1 GiB of zeros behind ~1 MB of gzip: at most one zlib chunk past the limit is ever inflated', async () => {
    const max = 2 * 2 ** 20
    const bomb = gzipBomb()
    const { port, result } = await reader('gzip', max)
    await post(port, bomb)
    const r = await result
    console.log(`gzip bomb: ${bomb.length} B on the wire would inflate to ${2 ** 30} B; inflated ${r.decodedBytes} B for a limit of ${max} B, then 413`)
    expect('failure' in r && r.failure.status).toBe(413)
    expect('failure' in r && r.close).toBe(false)   // the whole request was read (and dropped)
    expect(r.wireBytes).toBe(bomb.length)
    expect(r.decodedBytes).toBeGreaterThan(max)
    expect(r.decodedBytes).toBeLessThanOrEqual(max + 64 * 1024)   // not 1 GiB
  })

  it('a body within the limit comes back whole, decoded', async () => {
    const { port, result } = await reader('deflate', 1000)
    await post(port, zlib.deflateSync(Buffer.from(json)))
    const r = await result
    expect('body' in r && r.body.toString()).toBe(json)
    expect(r.decodedBytes).toBe(json.length)
  })
})
