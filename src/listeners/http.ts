/**
 * HTTP JSON ingest: `POST /v1/samples` with `{"samples":[{metric, value, unit?, dimensions?,
 * timestamp? (epoch ms), count?, namespace?}]}` answers `{"accepted":N,"rejected":[{index,
 * reason, message}]}`, each message naming the sample and its field (`samples[3].metric is
 * required`). `GET /healthz` answers 200 `{"status":"ok"}` while the sidecar runs and
 * `health` finds nothing wrong, else 503 with `{"status":"unhealthy","problems":[...]}`.
 *
 * Bodies may be sent with `content-encoding: gzip` or `deflate`; other codings get 415. Slow
 * clients cannot hold the listener: connections are capped (`maxConnections`; at the cap the
 * one idle the longest makes room, see ./connections.ts), and a request's headers must arrive
 * within `headersTimeoutMs` and all of it within `requestTimeoutMs` (counted from the
 * connection, or from the previous answer on a kept-alive one), kept by the listener's own
 * timer to within a tick, not Node's 30 s check: past it, `408` and the connection is closed.
 * Bodies are bounded by `maxBodyBytes` (413), which bounds both the bytes on the wire and the
 * decompressed size: inflating stops at the limit, so a decompression bomb costs at most the
 * limit in memory.
 * Other routes (status page, /metrics) are mounted by the sidecar through `routes`.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Readable } from 'node:stream'
import zlib from 'node:zlib'
import type { Aggregator, RecordOptions } from '../core/aggregator.js'
import type { RejectReason } from '../samples/reasons.js'
import { nameOf, show } from '../samples/show.js'
import { Connections, tickFor, type ConnectionStats } from './connections.js'
import { closestName } from '../option-names.js'

/** The largest body the HTTP listener takes unless told (the sidecar's --max-body-bytes too): 1 MiB. */
export const kDefaultMaxBodyBytes = 1_048_576

export interface HttpListenerOptions {
  aggregator: Aggregator
  port: number
  host: string
  /** Largest body accepted, in bytes, on the wire and once decompressed. @default 1048576 */
  maxBodyBytes?: number
  /** Most samples in one request. @default 100000 */
  maxSamplesPerRequest?: number
  /** Extra GET routes: path → handler. */
  routes?: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>
  /** Called before each request; return false to refuse it (auth). */
  authorize?: (req: http.IncomingMessage) => boolean
  /**
   * Rewrites the engine's option names in answers (`raise options.maxDimensions`) into what the
   * listener's users set (the sidecar: `--max-dimensions`). @default unchanged
   */
  renameOptions?: (message: string) => string
  /** What `GET /healthz` reports (503 unless `status` is `ok`). @default always ok */
  health?: () => { status: string }
  /**
   * Most connections at once. At the cap, a new connection closes the one idle the longest (no
   * complete request for a second); it is refused only when every one is busy. @default 256
   */
  maxConnections?: number
  /** A request's headers must have arrived this long after the connection (or the previous answer). @default 10000 */
  headersTimeoutMs?: number
  /** All of a request, body included, must have arrived this long after the connection (or the previous answer). @default 30000 */
  requestTimeoutMs?: number
}

export const kDefaultHttpMaxConnections = 256
export const kDefaultHeadersTimeoutMs = 10_000
export const kDefaultRequestTimeoutMs = 30_000

export interface HttpListener {
  readonly server: http.Server
  readonly port: number
  readonly host: string
  /** Connections: counters (accepted, refused and closed at the cap, closed at a deadline), and `open` now. */
  readonly stats: Readonly<ConnectionStats> & { readonly open: number }
  close (): Promise<void>
}

/** What a client past its deadline gets before the connection closes (as Node's own timeouts answer). */
const k408 = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: 67\r\n\r\n{"error":"the request did not arrive in time: send it all at once"}'

export interface IngestResult { accepted: number, rejected: Array<{ index: number, reason: RejectReason, message: string }> }

function send (res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s) })
  res.end(s)
}

// ------------------------------------------------------------------- per-sample answers

/** The field of a sample each engine reason is about. */
const kFieldOf: Partial<Record<RejectReason, string>> = {
  not_a_number: 'value',
  not_finite: 'value',
  value_out_of_range: 'value',
  count_invalid: 'count',
  minute_total_out_of_range: 'value',
  timestamp_too_old: 'timestamp',
  timestamp_in_future: 'timestamp',
  timestamp_invalid: 'timestamp',
  metric_name_invalid: 'metric',
  namespace_invalid: 'namespace',
  unit_invalid: 'unit',
  too_many_dimensions: 'dimensions',
  dimension_invalid: 'dimensions',
}

/** How the engine's messages name each field ("value \"fast\" is not a number"). */
const kSubjectOf: Record<string, string> = { value: 'value', count: 'count', timestamp: 'timestamp', metric: 'metric name', namespace: 'namespace', unit: 'unit' }

/** The fields a sample may have; any other is a typo (a misspelt `unit` would silently publish `None`). */
const kSampleFields = ['metric', 'value', 'unit', 'dimensions', 'timestamp', 'count', 'namespace']

/** A sample's first field that is not one, as a rejection naming the closest field, or undefined. */
function unknownField (i: number, s: Record<string, unknown>): { reason: RejectReason, message: string } | undefined {
  for (const k in s) {
    if (kSampleFields.includes(k)) continue
    const near = closestName(k, kSampleFields)
    const field = /^[A-Za-z_$][\w$]{0,39}$/.test(k) ? `.${k}` : `[${show(k, 40)}]`   // never raw control characters
    return { reason: 'malformed', message: `samples[${i}]${field} is not a field of a sample${near !== undefined ? `; did you mean ${near}?` : ''} (fields: ${kSampleFields.join(', ')})` }
  }
  return undefined
}

/**
 * The engine's rejection of `samples[i]` in the words of the HTTP body: `samples[1].value
 * "fast" is not a number: send a finite number`. The engine says which sample by its metric
 * name (`ModelLatency: value …`); an HTTP client needs the index and the JSON field instead.
 */
export function sampleMessage (i: number, sample: Readonly<Record<string, unknown>>, r: { reason: RejectReason, message: string }): string {
  const at = `samples[${i}]`
  const field = kFieldOf[r.reason]
  if (r.reason === 'closed') return `${at}: the sidecar is shutting down; send it again once it is back`
  if (field === 'metric' && (sample.metric === undefined || sample.metric === null)) return `${at}.metric is required: the metric name, a non-empty string`
  if (field === 'value' && (sample.value === undefined || sample.value === null)) return `${at}.value is required: a finite number`
  if (field === 'namespace' && (typeof sample.namespace !== 'string' || sample.namespace === '')) {
    return `${at}.namespace must be a string of 1–255 characters (or left out for the default namespace); got ${show(sample.namespace)}`
  }
  let text = r.message
  const name = nameOf(sample.metric)
  if (text.startsWith(name + ': ')) text = text.slice(name.length + 2)
  else if (typeof sample.metric === 'string' && text.startsWith(sample.metric + ': ')) text = text.slice(sample.metric.length + 2)
  if (field === undefined) return `${at}: ${text}`
  const subject = kSubjectOf[field]
  if (subject !== undefined && text.startsWith(subject + ' ')) return `${at}.${field} ${text.slice(subject.length + 1)}`
  return `${at}.${field}: ${text}`
}

/** Records the samples of one parsed body; never throws. */
export function ingestJson (agg: Aggregator, body: unknown, maxSamples: number): IngestResult | { error: string } {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { samples?: unknown }).samples)) {
    return { error: 'body must be a JSON object {"samples": [...]}, each sample {"metric", "value", "unit"?, "dimensions"?, "timestamp"? (epoch ms), "count"?, "namespace"?}' }
  }
  const samples = (body as { samples: unknown[] }).samples
  if (samples.length > maxSamples) return { error: `at most ${maxSamples} samples a request; got ${samples.length}: split the batch` }
  const out: IngestResult = { accepted: 0, rejected: [] }
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as Record<string, unknown> | null
    let r: { reason: RejectReason, message: string } | undefined
    // What JSON can hold and the engine's record() does not take: checked here, in the body's words.
    if (s === null || typeof s !== 'object' || Array.isArray(s)) {
      r = { reason: 'malformed', message: `samples[${i}] must be an object {"metric", "value", ...}; got ${show(s)}` }
      agg.countRejected(r.reason, r.message)
    } else if ((r = unknownField(i, s)) !== undefined) {
      agg.countRejected(r.reason, r.message)
    } else if (s.dimensions !== undefined && (s.dimensions === null || typeof s.dimensions !== 'object' || Array.isArray(s.dimensions))) {
      r = { reason: 'dimension_invalid', message: `samples[${i}].dimensions must be an object of name → string value; got ${show(s.dimensions)}` }
      agg.countRejected(r.reason, r.message)
    } else if (s.timestamp !== undefined && (typeof s.timestamp !== 'number' || !Number.isFinite(s.timestamp))) {
      r = { reason: 'timestamp_invalid', message: `samples[${i}].timestamp must be epoch milliseconds (a number); got ${show(s.timestamp)}` }
      agg.countRejected(r.reason, r.message)
    } else if (s.count !== undefined && typeof s.count !== 'number') {
      r = { reason: 'count_invalid', message: `samples[${i}].count must be a positive number; got ${show(s.count)}` }
      agg.countRejected(r.reason, r.message)
    } else {
      const opts: RecordOptions | undefined = (s.unit !== undefined || s.timestamp !== undefined || s.count !== undefined || s.namespace !== undefined)
        ? { unit: s.unit as RecordOptions['unit'], timestamp: s.timestamp as number | undefined, count: s.count as number | undefined, namespace: s.namespace as string | undefined }
        : undefined
      const e = agg.tryRecord(s.metric as string, s.value as number, s.dimensions as Record<string, string> | undefined, opts)
      if (e !== undefined) r = { reason: e.reason, message: sampleMessage(i, s, e) }
    }
    if (r === undefined) out.accepted++
    else out.rejected.push({ index: i, reason: r.reason, message: r.message })
  }
  return out
}

// ------------------------------------------------------------------- bodies

/** The content codings the listener reads (`x-gzip` is read as gzip, as RFC 9110 asks). */
export const kContentCodings = ['gzip', 'deflate', 'identity'] as const
export type ContentCoding = typeof kContentCodings[number]

/** The coding of a `content-encoding` header, or undefined when it is not one we read (or several stacked). */
export function contentCoding (header: string | undefined): ContentCoding | undefined {
  const codings = (header ?? '').split(',').map(x => x.trim().toLowerCase()).filter(x => x !== '' && x !== 'identity')
  if (codings.length === 0) return 'identity'
  if (codings.length > 1) return undefined
  const c = codings[0] === 'x-gzip' ? 'gzip' : codings[0]
  return c === 'gzip' || c === 'deflate' ? c : undefined
}

/** A body that could not be read, with the status, the answer and the reason it is counted under. */
export interface BodyFailure { status: 400 | 413, error: string, reason: RejectReason, counted: string }

/** What {@link readBody} read: the body or why not, and how many bytes came in and came out. */
export type BodyRead = ({ body: Buffer } | { failure: BodyFailure, /** the connection must be closed: the rest of the body was not read */ close: boolean } | { gone: true }) &
  { wireBytes: number, decodedBytes: number }

/**
 * `deflate` is the zlib format (RFC 1950), but some clients send raw deflate (RFC 1951):
 * a zlib stream starts with a header whose two bytes are a multiple of 31 and name method 8.
 */
function deflateDecoder (first: Buffer): zlib.Inflate | zlib.InflateRaw {
  const zlibHeader = first.length >= 2 && (first[0] & 0x0f) === 8 && (first[0] >> 4) <= 7 && ((first[0] << 8) | first[1]) % 31 === 0
  return zlibHeader ? zlib.createInflate() : zlib.createInflateRaw()
}

/**
 * Reads a request body of at most `maxBytes`, on the wire and decoded. Past the decoded limit it
 * stops inflating and reads the rest of the request without keeping it (up to `maxBytes` on the
 * wire), so that the 413 reaches a client that is still sending: a server that closes the
 * connection while the client writes makes the client's kernel drop the answer with a reset.
 * Past `maxBytes` on the wire it gives up at once (`close`).
 */
export function readBody (req: Readable, coding: ContentCoding, maxBytes: number): Promise<BodyRead> {
  return new Promise(resolve => {
    const chunks: Buffer[] = []
    let wire = 0
    let size = 0
    let decoder: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | undefined
    let decoderDone = coding === 'identity'
    let reqEnded = false
    let failure: BodyFailure | undefined
    let done = false
    const finish = (r: { body: Buffer } | { failure: BodyFailure, close: boolean } | { gone: true }): void => {
      if (done) return
      done = true
      resolve({ ...r, wireBytes: wire, decodedBytes: size })
    }
    const tooLarge = (): BodyFailure => coding === 'identity' || wire > maxBytes
      ? { status: 413, error: `body is over the limit of ${maxBytes} bytes: send smaller batches`, reason: 'too_large', counted: `HTTP body over the limit of ${maxBytes} bytes` }
      : { status: 413, error: `body is over the limit of ${maxBytes} bytes once decompressed: send smaller batches`, reason: 'too_large', counted: `HTTP body over the limit of ${maxBytes} bytes once decompressed` }
    const stopDecoding = (): void => {
      if (decoder !== undefined && !decoderDone) decoder.destroy()
      decoderDone = true
    }
    const settle = (): void => {
      if (!reqEnded || !decoderDone) return
      if (failure !== undefined) finish({ failure, close: false })
      else finish({ body: Buffer.concat(chunks, size) })
    }
    const take = (c: Buffer): void => {
      size += c.length   // everything decoded, kept or not: what inflating cost
      if (failure !== undefined) return
      if (size > maxBytes) { failure = tooLarge(); chunks.length = 0; stopDecoding(); settle(); return }
      chunks.push(c)
    }
    req.on('data', (c: Buffer) => {
      wire += c.length
      if (wire > maxBytes) { failure = tooLarge(); stopDecoding(); finish({ failure, close: true }); return }
      if (failure !== undefined) return   // read and dropped
      if (coding === 'identity') { take(c); return }
      if (decoder === undefined) {
        decoder = coding === 'gzip' ? zlib.createGunzip() : deflateDecoder(c)
        decoder.on('data', take)
        decoder.on('end', () => { decoderDone = true; settle() })
        decoder.on('error', (err: Error) => {
          if (decoderDone) return
          failure ??= { status: 400, error: `body is not valid ${coding}: ${err.message}`, reason: 'malformed', counted: `HTTP body is not valid ${coding}: ${err.message}` }
          decoderDone = true
          settle()
        })
      }
      decoder.write(c)
    })
    req.on('end', () => {
      reqEnded = true
      if (decoder !== undefined && !decoderDone) decoder.end()
      else decoderDone = true
      settle()
    })
    // The client went away: nothing is answered, nothing was recorded.
    req.on('error', () => { stopDecoding(); finish({ gone: true }) })
    req.on('close', () => { if (!reqEnded) { stopDecoding(); finish({ gone: true }) } })
  })
}

/**
 * Reads and drops a request body of at most `maxBytes` (for an answer that does not need it to
 * reach a client that is still sending); resolves false when it is longer, or the client left.
 */
function drain (req: Readable, maxBytes: number): Promise<boolean> {
  return new Promise(resolve => {
    let wire = 0
    req.on('data', (c: Buffer) => { wire += c.length; if (wire > maxBytes) { req.pause(); resolve(false) } })
    req.on('end', () => { resolve(true) })
    req.on('error', () => { resolve(false) })
  })
}

/** Starts the HTTP listener. */
export async function startHttpListener (o: HttpListenerOptions): Promise<HttpListener> {
  const maxBody = o.maxBodyBytes ?? kDefaultMaxBodyBytes
  const maxSamples = o.maxSamplesPerRequest ?? 100_000
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && url === '/healthz') { const h = o.health?.(); send(res, h === undefined || h.status === 'ok' ? 200 : 503, h === undefined || h.status === 'ok' ? { status: 'ok' } : h); return }
    if (o.authorize !== undefined && !o.authorize(req)) {
      res.setHeader('www-authenticate', 'Bearer')   // RFC 6750 §3
      send(res, 401, { error: 'missing or wrong bearer token: send "authorization: Bearer <token>"' })
      return
    }
    if (req.method === 'GET' && o.routes?.[url] !== undefined) { o.routes[url](req, res); return }
    if (url !== '/v1/samples') { send(res, 404, { error: `no route ${req.method ?? ''} ${url}: POST /v1/samples, GET /healthz` }); return }
    if (req.method !== 'POST') { res.setHeader('allow', 'POST'); send(res, 405, { error: 'use POST /v1/samples' }); return }
    const coding = contentCoding(req.headers['content-encoding'])
    if (coding === undefined) {
      const error = `content-encoding ${show(req.headers['content-encoding'])} is not supported: send the body as gzip, deflate or identity (uncompressed)`
      o.aggregator.countRejected('malformed', `HTTP body with ${error}`)
      // RFC 9110 §15.5.16: a 415 for a content coding says which codings are accepted.
      res.setHeader('accept-encoding', kContentCodings.join(', '))
      res.setHeader('connection', 'close')
      void drain(req, maxBody).then(whole => {
        send(res, 415, { error })
        if (!whole) res.on('finish', () => { req.destroy() })
      })
      return
    }
    const declared = Number(req.headers['content-length'])
    if (declared > maxBody) {
      o.aggregator.countRejected('too_large', `HTTP body of ${declared} bytes is over the limit of ${maxBody}`)
      res.setHeader('connection', 'close')
      send(res, 413, { error: `body of ${declared} bytes is over the limit of ${maxBody} bytes: send smaller batches` })
      req.resume()
      return
    }
    void readBody(req, coding, maxBody).then(r => {
      if ('gone' in r) return   // the client went away: nothing was recorded
      if ('failure' in r) {
        o.aggregator.countRejected(r.failure.reason, r.failure.counted)
        res.setHeader('connection', 'close')
        send(res, r.failure.status, { error: r.failure.error })
        // The rest of the body is still coming: close once the answer is out.
        if (r.close) res.on('finish', () => { req.destroy() })
        return
      }
      let body: unknown
      try {
        body = JSON.parse(r.body.toString('utf8'))
      } catch (err) {
        o.aggregator.countRejected('malformed', `HTTP body is not JSON: ${(err as Error).message}`)
        send(res, 400, { error: `body is not valid JSON: ${(err as Error).message}` })
        return
      }
      const out = ingestJson(o.aggregator, body, maxSamples)
      if ('error' in out) {
        o.aggregator.countRejected('malformed', out.error)
        send(res, 400, { error: out.error })
        return
      }
      if (o.renameOptions !== undefined) for (const x of out.rejected) x.message = o.renameOptions(x.message)
      send(res, 200, out)
    })
  })
  const headersMs = o.headersTimeoutMs ?? kDefaultHeadersTimeoutMs
  const requestMs = Math.max(headersMs, o.requestTimeoutMs ?? kDefaultRequestTimeoutMs)
  // Node's own checks stay as a backstop; the listener's timer keeps the deadlines.
  server.headersTimeout = headersMs
  server.requestTimeout = requestMs
  server.keepAliveTimeout = 5_000
  const conns = new Connections(o.maxConnections ?? kDefaultHttpMaxConnections, tickFor(headersMs))
  const late = (sock: Socket): void => {
    if (sock.writable) sock.write(k408)
    sock.destroy()
  }
  server.on('connection', (sock: Socket) => {
    const t = conns.admit(sock)
    if (t === undefined) { sock.destroy(); return }
    t.deadline = t.doneAt + headersMs
    t.expire = () => { late(sock) }
  })
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = conns.get(req.socket)
    if (t === undefined) return
    t.deadline = req.complete ? Infinity : t.doneAt + requestMs
    req.once('end', () => { t.deadline = Infinity })
    res.once('finish', () => {
      t.doneAt = Date.now()
      t.deadline = t.doneAt + headersMs   // the next request's (kept alive for 5 s at most)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve() })
  }).catch((err: unknown) => { conns.stop(); throw err })
  const addr = server.address() as AddressInfo
  return {
    server,
    port: addr.port,
    host: o.host,
    stats: Object.defineProperty(conns.stats, 'open', { get: () => conns.size, enumerable: false }) as ConnectionStats & { readonly open: number },
    close: async () => {
      conns.stop()
      await new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeIdleConnections()
        setTimeout(() => { server.closeAllConnections() }, 2_000).unref()
      })
    },
  }
}
