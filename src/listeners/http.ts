/**
 * HTTP JSON ingest: `POST /v1/samples` with `{"samples":[{metric, value, unit?, dimensions?,
 * timestamp? (epoch ms), count?, namespace?}]}` answers `{"accepted":N,"rejected":[{index,
 * reason, message}]}`. `GET /healthz` answers 200 while the sidecar runs.
 *
 * Slow clients are bounded by header and request timeouts; bodies by `maxBodyBytes` (413).
 * Other routes (status page, /metrics) are mounted by the sidecar through `routes`.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Aggregator, RecordOptions } from '../core/aggregator.js'
import type { RejectReason } from '../samples/reasons.js'
import { nameOf } from '../samples/show.js'

export interface HttpListenerOptions {
  aggregator: Aggregator
  port: number
  host: string
  /** Largest body accepted, in bytes. @default 1048576 */
  maxBodyBytes?: number
  /** Most samples in one request. @default 100000 */
  maxSamplesPerRequest?: number
  /** Extra GET routes: path → handler. */
  routes?: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>
  /** Called before each request; return false to refuse it (auth). */
  authorize?: (req: http.IncomingMessage) => boolean
}

export interface HttpListener {
  readonly server: http.Server
  readonly port: number
  readonly host: string
  close (): Promise<void>
}

export interface IngestResult { accepted: number, rejected: Array<{ index: number, reason: RejectReason, message: string }> }

function send (res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s) })
  res.end(s)
}

/** Records the samples of one parsed body; never throws. */
export function ingestJson (agg: Aggregator, body: unknown, maxSamples: number): IngestResult | { error: string } {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { samples?: unknown }).samples)) {
    return { error: 'body must be a JSON object {"samples": [...]}, each sample {"metric", "value", "unit"?, "dimensions"?, "timestamp"? (epoch ms), "count"?}' }
  }
  const samples = (body as { samples: unknown[] }).samples
  if (samples.length > maxSamples) return { error: `at most ${maxSamples} samples a request; got ${samples.length}: split the batch` }
  const out: IngestResult = { accepted: 0, rejected: [] }
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as Record<string, unknown> | null
    let r: { reason: RejectReason, message: string } | undefined
    if (s === null || typeof s !== 'object' || Array.isArray(s)) {
      r = { reason: 'malformed', message: 'a sample must be an object {"metric", "value", ...}' }
      agg.countRejected(r.reason, r.message)
    } else if (s.dimensions !== undefined && (s.dimensions === null || typeof s.dimensions !== 'object' || Array.isArray(s.dimensions))) {
      r = { reason: 'dimension_invalid', message: `${nameOf(s.metric)}: "dimensions" must be an object of name → string value` }
      agg.countRejected(r.reason, r.message)
    } else if (s.timestamp !== undefined && typeof s.timestamp !== 'number') {
      r = { reason: 'timestamp_invalid', message: `${nameOf(s.metric)}: "timestamp" must be epoch milliseconds (a number)` }
      agg.countRejected(r.reason, r.message)
    } else if (s.count !== undefined && typeof s.count !== 'number') {
      r = { reason: 'count_invalid', message: `${nameOf(s.metric)}: "count" must be a positive number` }
      agg.countRejected(r.reason, r.message)
    } else {
      const opts: RecordOptions | undefined = (s.unit !== undefined || s.timestamp !== undefined || s.count !== undefined || s.namespace !== undefined)
        ? { unit: s.unit as RecordOptions['unit'], timestamp: s.timestamp as number | undefined, count: s.count as number | undefined, namespace: s.namespace as string | undefined }
        : undefined
      r = agg.tryRecord(s.metric as string, s.value as number, s.dimensions as Record<string, string> | undefined, opts)
    }
    if (r === undefined) out.accepted++
    else out.rejected.push({ index: i, reason: r.reason, message: r.message })
  }
  return out
}

/** Starts the HTTP listener. */
export async function startHttpListener (o: HttpListenerOptions): Promise<HttpListener> {
  const maxBody = o.maxBodyBytes ?? 1_048_576
  const maxSamples = o.maxSamplesPerRequest ?? 100_000
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && url === '/healthz') { send(res, 200, { status: 'ok' }); return }
    if (o.authorize !== undefined && !o.authorize(req)) { send(res, 401, { error: 'missing or wrong bearer token: send "authorization: Bearer <token>"' }); return }
    if (req.method === 'GET' && o.routes?.[url] !== undefined) { o.routes[url](req, res); return }
    if (url !== '/v1/samples') { send(res, 404, { error: `no route ${req.method ?? ''} ${url}: POST /v1/samples, GET /healthz` }); return }
    if (req.method !== 'POST') { res.setHeader('allow', 'POST'); send(res, 405, { error: 'use POST /v1/samples' }); return }
    const declared = Number(req.headers['content-length'])
    if (declared > maxBody) {
      o.aggregator.countRejected('too_large', `HTTP body of ${declared} bytes is over the limit of ${maxBody}`)
      res.setHeader('connection', 'close')
      send(res, 413, { error: `body of ${declared} bytes is over the limit of ${maxBody} bytes: send smaller batches` })
      req.resume()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (c: Buffer) => {
      if (over) return
      size += c.length
      if (size > maxBody) {
        over = true
        o.aggregator.countRejected('too_large', `HTTP body over the limit of ${maxBody} bytes`)
        res.setHeader('connection', 'close')
        send(res, 413, { error: `body is over the limit of ${maxBody} bytes: send smaller batches` })
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (over) return
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch (err) {
        o.aggregator.countRejected('malformed', `HTTP body is not JSON: ${(err as Error).message}`)
        send(res, 400, { error: `body is not valid JSON: ${(err as Error).message}` })
        return
      }
      const r = ingestJson(o.aggregator, body, maxSamples)
      if ('error' in r) {
        o.aggregator.countRejected('malformed', r.error)
        send(res, 400, { error: r.error })
        return
      }
      send(res, 200, r)
    })
    req.on('error', () => { /* client went away: nothing was recorded */ })
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  return {
    server,
    port: addr.port,
    host: o.host,
    close: async () => {
      await new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeIdleConnections()
        setTimeout(() => { server.closeAllConnections() }, 2_000).unref()
      })
    },
  }
}
