/**
 * The status routes mounted on the real HTTP listener (127.0.0.1, port 0): `/metrics` in the
 * Prometheus text format, `/api/status` as JSON with its filters, `/` as HTML with a strict
 * Content-Security-Policy, and the listener's `authorize` guarding them like any route.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, type Aggregator } from '../../src/index.js'
import { startHttpListener, type HttpListener } from '../../src/listeners/http.js'
import { statusRoutes } from '../../src/status/routes.js'
import { timedSink } from '../../src/status/publish-timing.js'
import type { StatusDoc } from '../../src/status/api.js'
import { parseExposition } from '../unit/status/prom-parse.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const open: Array<{ agg: Aggregator, http: HttpListener }> = []

afterEach(async () => {
  for (const { agg, http } of open.splice(0)) { await http.close(); await agg.close() }
})

async function start (authorize?: (req: import('node:http').IncomingMessage) => boolean) {
  const clock = new ManualClock(T0)
  const sink = timedSink(inMemorySink(), () => clock.now())
  const agg = createAggregator({ namespace: 'Status', sink, clock, gracePeriodMs: 1000, onWarning: () => {} })
  const routes = statusRoutes({ aggregator: agg, timing: sink.timing, info: { version: '1.2.3', endpoints: { 'HTTP ingest': 'http://127.0.0.1/v1/samples' } }, minSnapshotIntervalMs: 0 })
  const http = await startHttpListener({ aggregator: agg, port: 0, host: '127.0.0.1', routes, authorize })
  open.push({ agg, http })
  return { clock, sink, agg, base: `http://127.0.0.1:${http.port}` }
}

async function post (base: string, samples: unknown[]): Promise<{ accepted: number, rejected: unknown[] }> {
  const r = await fetch(`${base}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ samples }) })
  expect(r.status).toBe(200)
  return await r.json() as { accepted: number, rejected: unknown[] }
}

describe('status routes on the HTTP listener', () => {
  it('serves /metrics in the Prometheus text format with the numbers of stats()', async () => {
    const { clock, agg, base } = await start()
    await post(base, [
      { metric: 'ModelLatency', value: 1200, unit: 'Microseconds', dimensions: { EndpointName: 'ep' } },
      { metric: 'ModelLatency', value: 'fast' },
      { metric: 'Invocations', value: 1, dimensions: { EndpointName: 'ep' } },
    ])
    clock.advance(61_000)
    await agg.flush()
    const r = await fetch(`${base}/metrics`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const m = parseExposition(await r.text())
    const st = agg.stats()
    expect(m.get('minutely_samples_accepted_total')).toBe(st.samplesAccepted)
    expect(m.get('minutely_samples_accepted_total')).toBe(2)
    expect(m.get('minutely_samples_rejected_total{reason="not_a_number"}')).toBe(1)
    expect(m.get('minutely_datums_published_total')).toBe(st.datumsPublished)
    expect(m.get('minutely_requests_sent_total')).toBe(1)
    expect(m.get('minutely_publish_request_duration_seconds_count')).toBe(1)
    expect(m.get('minutely_last_publish_timestamp_seconds')).toBe((T0 + 61_000) / 1000)
  })

  it('serves /api/status with the minutes, filtered by ?metric= and ?dim=', async () => {
    const { agg, base } = await start()
    await post(base, [
      { metric: 'ModelLatency', value: 1000, unit: 'Microseconds', dimensions: { EndpointName: 'a', VariantName: 'v1' } },
      { metric: 'ModelLatency', value: 3000, unit: 'Microseconds', dimensions: { EndpointName: 'b', VariantName: 'canary' } },
      { metric: 'CPUUtilization', value: 55, unit: 'Percent', dimensions: { Host: 'h' } },
    ])
    const all = await (await fetch(`${base}/api/status`)).json() as StatusDoc
    expect(all.minutes).toHaveLength(1)
    expect(all.minutes[0]).toMatchObject({ state: 'open', total: 3, matched: 3, samples: 3 })
    expect(all.info).toMatchObject({ namespace: 'Status', sink: 'memory', version: '1.2.3' })
    expect(all.ingest.accepted).toBe(agg.stats().samplesAccepted)
    const f = await (await fetch(`${base}/api/status?metric=latency&dim=${encodeURIComponent('VariantName=canary')}`)).json() as StatusDoc
    expect(f.minutes[0].series.map(s => s.dims)).toEqual([[['EndpointName', 'b'], ['VariantName', 'canary']]])
    expect(f.minutes[0]).toMatchObject({ total: 3, matched: 1 })
    const lim = await (await fetch(`${base}/api/status?limit=1`)).json() as StatusDoc
    expect(lim.minutes[0].series).toHaveLength(1)
  })

  it('serves the page with a CSP that allows only its own script', async () => {
    const { base } = await start()
    const r = await fetch(`${base}/`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(r.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-/)
    expect(r.headers.get('x-content-type-options')).toBe('nosniff')
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(await r.text()).toContain('<title>minutely · status</title>')
    // Ingest and health are untouched.
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    expect((await fetch(`${base}/nope`)).status).toBe(404)
  })

  it('is guarded by the listener\'s authorize like every route but /healthz', async () => {
    const { base } = await start(req => req.headers.authorization === 'Bearer let-me-in')
    for (const path of ['/', '/metrics', '/api/status']) {
      expect((await fetch(base + path)).status).toBe(401)
      expect((await fetch(base + path, { headers: { authorization: 'Bearer let-me-in' } })).status).toBe(200)
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
  })
})
