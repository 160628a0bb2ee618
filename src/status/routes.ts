/**
 * The status routes for the HTTP listener's `routes` option:
 *
 *   GET /            the status page (HTML + one inline script; refreshes itself)
 *   GET /metrics     self-metrics, Prometheus text format 0.0.4
 *   GET /api/status  the page's data as JSON (`?metric=&dim=&limit=`)
 *
 * ```ts
 * const status = statusRoutes({ aggregator, pool, timing: sink.timing, info: { version } })
 * await startHttpListener({ aggregator, port, host, routes: status })
 * ```
 * Creating the routes makes the aggregator keep the summaries of its last sealed minutes
 * (`keepSealedMinutes`, 5 by default) for the page.
 */
import type http from 'node:http'
import { StatusBuilder, type StatusInfo, type StatusQuery } from './api.js'
import { kContentType, renderMetrics, type SelfMetricsSources } from './metrics.js'
import { renderPage } from './page.js'
import type { Health } from './health.js'
import { kVersion } from './version.js'

export interface StatusRoutesOptions extends SelfMetricsSources {
  /** Shown on the page; `endpoints` may be filled in place later (it is read at each request). @default version from package.json */
  info?: StatusInfo
  /** Sealed minutes the page can show. @default 5 */
  keepSealedMinutes?: number
  /** How often the page polls, ms. @default 2000 */
  refreshMs?: number
  /** Most series per minute in `/api/status` unless `?limit=` says otherwise. @default 500 */
  maxSeriesPerMinute?: number
  /** The page's snapshot of the open minute is recomputed at most this often, ms. @default 1000 */
  minSnapshotIntervalMs?: number
  /** Serve the HTML page at `/` (the JSON and /metrics stay). @default true */
  page?: boolean
  /** The health the page shows (the sidecar's, as `/healthz` answers it). @default the aggregator's */
  health?: () => Health
}

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void

const kCommonHeaders = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }

function sendText (res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...kCommonHeaders, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra })
  res.end(body)
}

function internalError (res: http.ServerResponse, err: unknown): void {
  if (res.headersSent) { res.destroy(); return }
  sendText(res, 500, 'application/json; charset=utf-8', JSON.stringify({ error: `status: ${(err as Error)?.message ?? String(err)}` }))
}

function queryOf (req: http.IncomingMessage): StatusQuery {
  const u = new URL(req.url ?? '/', 'http://status.invalid')
  const limit = u.searchParams.get('limit')
  return {
    metric: u.searchParams.get('metric') ?? undefined,
    dim: u.searchParams.get('dim') ?? undefined,
    limit: limit !== null && limit !== '' ? Number(limit) : undefined,
  }
}

/** The handlers by path, for `startHttpListener({ routes })`. */
export function statusRoutes (o: StatusRoutesOptions): Record<string, RouteHandler> {
  o.aggregator.keepSealedMinutes(o.keepSealedMinutes ?? 5)
  const info: StatusInfo = { ...o.info }   // `endpoints` stays the caller's object: fill it in place
  if (info.version === undefined && kVersion !== '') info.version = kVersion
  const builder = new StatusBuilder({ ...o, info, defaultLimit: o.maxSeriesPerMinute })
  const page = renderPage({ refreshMs: o.refreshMs })
  const metricsInfo = { version: info.version, namespace: info.namespace, sink: info.sink }
  const routes: Record<string, RouteHandler> = {
    '/metrics': (_req, res) => {
      try {
        sendText(res, 200, kContentType, renderMetrics({ ...o, info: metricsInfo }))
      } catch (err) { internalError(res, err) }
    },
    '/api/status': (req, res) => {
      try {
        sendText(res, 200, 'application/json; charset=utf-8', JSON.stringify(builder.build(queryOf(req))))
      } catch (err) { internalError(res, err) }
    },
  }
  if (o.page !== false) {
    routes['/'] = (_req, res) => {
      sendText(res, 200, 'text/html; charset=utf-8', page.html, { 'content-security-policy': page.csp, 'x-frame-options': 'DENY' })
    }
  }
  return routes
}
