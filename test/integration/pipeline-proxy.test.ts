/**
 * The pipeline proxy in process (startPipeline) in front of real node:http containers on
 * 127.0.0.1, driven by real fetch requests: the chain, content types, every error status,
 * /ping, an aborted caller, and the invocation metrics it records (read from the in-memory
 * sink, which keeps the exact StatisticValues).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveSettings } from '../../src/cli/config.js'
import { kPipelineSettings, startPipeline, type Pipeline } from '../../src/cli/pipeline.js'
import { inMemorySink, type InMemorySink } from '../../src/sinks/in-memory.js'

interface Container { url: string, server: http.Server, seen: Array<{ body: string, headers: http.IncomingHttpHeaders }>, closed: number }
const servers: http.Server[] = []
const pipelines: Pipeline[] = []

afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close()
  for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }
})

async function readAll (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A container: `invoke` answers /invocations; /ping answers `ping` (200 by default). */
async function container (invoke: (body: string, req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  ping: (res: ServerResponse) => void = res => { res.writeHead(200).end() }): Promise<Container> {
  const c: Container = { url: '', server: undefined as unknown as http.Server, seen: [], closed: 0 }
  c.server = http.createServer((req, res) => {
    if (req.url === '/ping') { req.resume(); ping(res); return }
    res.on('close', () => { if (!res.writableFinished) c.closed++ })
    void readAll(req).then(async body => {
      c.seen.push({ body, headers: req.headers })
      await invoke(body, req, res)
    })
  })
  servers.push(c.server)
  await new Promise<void>(resolve => c.server.listen(0, '127.0.0.1', resolve))
  c.url = `http://127.0.0.1:${(c.server.address() as AddressInfo).port}`
  return c
}

/** Answers `prefix + body` after `delayMs`, in `contentType`. */
const transform = (prefix: string, contentType: string, delayMs = 0, status = 200) => async (body: string, _req: IncomingMessage, res: ServerResponse): Promise<void> => {
  await new Promise(resolve => setTimeout(resolve, delayMs))
  res.writeHead(status, { 'content-type': contentType }).end(prefix + body)
}

/** Waits for a condition the test cannot observe as an event (a peer's socket closing). */
async function until (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise(resolve => setTimeout(resolve, 5))
  expect(cond()).toBe(true)
}

async function closedPort (): Promise<string> {
  const s = http.createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise(resolve => s.close(resolve))
  return `http://127.0.0.1:${port}`
}

async function proxy (urls: string[], flags: Record<string, unknown> = {}): Promise<{ p: Pipeline, sink: InMemorySink }> {
  const sink = inMemorySink()
  const settings = resolveSettings(kPipelineSettings, { port: '0', 'endpoint-name': 'proxy-ep', 'log-sink': 'off', container: urls, ...flags }, {})
  const p = await startPipeline(settings, [], { sink, log: () => {}, env: {} })
  pipelines.push(p)
  return { p, sink }
}

/** Sums the exact statistics of a metric over all its datums (and minutes). */
function stat (sink: InMemorySink, metric: string, container?: string): { count: number, sum: number, min: number, max: number, unit?: string, dims?: string[] } {
  const ds = sink.datums().filter(d => d.MetricName === metric && (container === undefined || d.Dimensions.some(x => x.Name === 'ContainerName' && x.Value === container)))
  return {
    count: ds.reduce((a, d) => a + d.StatisticValues.SampleCount, 0),
    sum: ds.reduce((a, d) => a + d.StatisticValues.Sum, 0),
    min: Math.min(...ds.map(d => d.StatisticValues.Minimum)),
    max: Math.max(...ds.map(d => d.StatisticValues.Maximum)),
    unit: ds[0]?.Unit,
    dims: ds[0]?.Dimensions.map(x => `${x.Name}=${x.Value}`),
  }
}

async function invoke (p: Pipeline, body: string, headers: Record<string, string> = { 'content-type': 'text/csv' }): Promise<{ status: number, body: string, headers: Headers }> {
  const r = await fetch(`${p.url}/invocations`, { method: 'POST', body, headers })
  return { status: r.status, body: await r.text(), headers: r.headers }
}

describe('pipeline proxy', () => {
  it('passes the body and content type through every container, and records every seed metric', async () => {
    const c1 = await container(transform('1:', 'application/x-stage1', 5))
    const c2 = await container(transform('2:', 'application/x-stage2', 5))
    const c3 = await container(async (body, req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-amzn-sagemaker-custom-attributes': 'trace=3' }).end(JSON.stringify({ body, got: req.headers['content-type'] }))
    })
    const { p, sink } = await proxy([c1.url, c2.url, c3.url], { 'container-name': ['pre', '', '-'], 'instance-count': '4' })
    expect(p.containers.map(c => c.name)).toEqual(['pre', 'container-2', 'container-3'])
    const r = await invoke(p, 'x,y', { 'content-type': 'text/csv', accept: 'application/json', 'x-amzn-sagemaker-custom-attributes': 'c=1' })
    expect(r.status).toBe(201)
    expect(r.headers.get('content-type')).toBe('application/json')
    expect(r.headers.get('x-amzn-sagemaker-custom-attributes')).toBe('trace=3')
    expect(JSON.parse(r.body)).toEqual({ body: '2:1:x,y', got: 'application/x-stage2' })
    expect(c1.seen[0].headers['content-type']).toBe('text/csv')
    expect(c2.seen[0].headers['content-type']).toBe('application/x-stage1')
    for (const c of [c1, c2, c3]) {
      expect(c.seen[0].headers.accept).toBe('application/json')
      expect(c.seen[0].headers['x-amzn-sagemaker-custom-attributes']).toBe('c=1')
    }
    await p.close()
    expect(stat(sink, 'Invocations')).toMatchObject({ count: 1, sum: 1, unit: 'None', dims: ['EndpointName=proxy-ep', 'VariantName=AllTraffic'] })
    expect(stat(sink, 'Invocation4XXErrors')).toMatchObject({ count: 1, sum: 0, unit: 'None' })
    expect(stat(sink, 'Invocation5XXErrors')).toMatchObject({ count: 1, sum: 0, unit: 'None' })
    expect(stat(sink, 'InvocationsPerInstance')).toMatchObject({ count: 1, sum: 0.25, unit: 'None' })
    const per = ['pre', 'container-2', 'container-3'].map(n => stat(sink, 'ContainerLatency', n))
    for (const [i, n] of ['pre', 'container-2', 'container-3'].entries()) {
      expect(per[i]).toMatchObject({ count: 1, unit: 'Microseconds', dims: [`ContainerName=${n}`, 'EndpointName=proxy-ep', 'VariantName=AllTraffic'] })
    }
    expect(per[0].sum).toBeGreaterThanOrEqual(4000) // slept 5 ms
    const model = stat(sink, 'ModelLatency')
    expect(model).toMatchObject({ count: 1, unit: 'Microseconds' })
    expect(model.sum).toBeCloseTo(per.reduce((a, x) => a + x.sum, 0), 6)
    expect(stat(sink, 'OverheadLatency')).toMatchObject({ count: 1, unit: 'Microseconds' })
    expect(stat(sink, 'OverheadLatency').sum).toBeGreaterThanOrEqual(0)
  })

  it('a 4xx ends the chain: the caller gets that status, body and content type; later containers are not called', async () => {
    const c1 = await container(transform('1:', 'text/plain'))
    const c2 = await container(async (_b, _r, res) => { res.writeHead(422, { 'content-type': 'application/problem+json' }).end('{"bad":"input"}') })
    const c3 = await container(transform('3:', 'text/plain'))
    const { p, sink } = await proxy([c1.url, c2.url, c3.url])
    const r = await invoke(p, 'q')
    expect(r).toMatchObject({ status: 422, body: '{"bad":"input"}' })
    expect(r.headers.get('content-type')).toBe('application/problem+json')
    expect(r.headers.get('x-minutely-container')).toBe('container-2')
    expect(c3.seen).toHaveLength(0)
    await p.close()
    expect(stat(sink, 'Invocation4XXErrors').sum).toBe(1)
    expect(stat(sink, 'Invocation5XXErrors').sum).toBe(0)
    expect(stat(sink, 'ContainerLatency', 'container-2').count).toBe(1)
    expect(stat(sink, 'ContainerLatency', 'container-3').count).toBe(0)
    expect(stat(sink, 'ModelLatency').count).toBe(1)
  })

  it('a 5xx is passed through; an unreachable container is 502; a slow one 504: all 5XX errors', async () => {
    const ok = await container(transform('', 'text/plain'))
    const boom = await container(async (_b, _r, res) => { res.writeHead(503, { 'content-type': 'text/plain' }).end('model overloaded') })
    const slow = await container(transform('', 'text/plain', 2000))
    const down = await closedPort()
    const a = await proxy([ok.url, boom.url])
    const b = await proxy([ok.url, down], { 'endpoint-name': 'ep-down' })
    const c = await proxy([slow.url, ok.url], { 'container-timeout-ms': '100', 'endpoint-name': 'ep-slow' })
    const [ra, rb, rc] = await Promise.all([invoke(a.p, 'x'), invoke(b.p, 'x'), invoke(c.p, 'x')])
    expect(ra).toMatchObject({ status: 503, body: 'model overloaded' })
    expect(rb.status).toBe(502)
    expect(JSON.parse(rb.body)).toMatchObject({ error: 'container_unreachable', container: 'container-2' })
    expect(rc.status).toBe(504)
    expect(JSON.parse(rc.body)).toMatchObject({ error: 'container_timeout', container: 'container-1' })
    expect(rc.headers.get('content-type')).toBe('application/json')
    await Promise.all([a.p.close(), b.p.close(), c.p.close()])
    for (const { sink } of [a, b, c]) {
      expect(stat(sink, 'Invocations').sum).toBe(1)
      expect(stat(sink, 'Invocation5XXErrors').sum).toBe(1)
      expect(stat(sink, 'Invocation4XXErrors').sum).toBe(0)
    }
    // The failed calls are timed too: an unreachable or timed-out container shows in ContainerLatency.
    expect(stat(b.sink, 'ContainerLatency', 'container-2').count).toBe(1)
    expect(stat(c.sink, 'ContainerLatency', 'container-1').count).toBe(1)
    expect(stat(c.sink, 'ContainerLatency', 'container-2').count).toBe(0)
    await until(() => slow.closed === 1) // the proxy gave up on the call: the container sees it go
  })

  it('a container that stalls mid-response is a 504; one that answers too much a 502', async () => {
    const stall = await container(async (_b, _r, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('partial') })
    const flood = await container(async (_b, _r, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('z'.repeat(5000)) })
    const a = await proxy([stall.url], { 'container-timeout-ms': '150' })
    const b = await proxy([flood.url], { 'max-body-bytes': '1000', 'endpoint-name': 'ep-flood' })
    const ra = await invoke(a.p, 'x')
    expect(ra.status).toBe(504)
    expect(JSON.parse(ra.body)).toMatchObject({ error: 'container_timeout' })
    const rb = await invoke(b.p, 'x')
    expect(rb.status).toBe(502)
    expect(JSON.parse(rb.body)).toMatchObject({ error: 'container_response_too_large', container: 'container-1' })
  })

  it('413 for a body over --max-body-bytes, 405 for GET /invocations (both 4XX); 404 elsewhere, not counted', async () => {
    const c1 = await container(transform('', 'text/plain'))
    const { p, sink } = await proxy([c1.url], { 'max-body-bytes': '100' })
    expect((await invoke(p, 'x'.repeat(101))).status).toBe(413)
    expect((await fetch(`${p.url}/invocations`)).status).toBe(405)
    expect((await fetch(`${p.url}/predict`, { method: 'POST', body: 'x' })).status).toBe(404)
    expect((await invoke(p, 'x'.repeat(100))).status).toBe(200)
    expect(c1.seen).toHaveLength(1)
    await p.close()
    expect(stat(sink, 'Invocations').sum).toBe(3)
    expect(stat(sink, 'Invocation4XXErrors').sum).toBe(2)
  })

  it('/ping is 200 only when every container answers 200 to its /ping', async () => {
    const good = await container(transform('', 'text/plain'))
    const sick = await container(transform('', 'text/plain'), res => { res.writeHead(500).end() })
    const sleepy = await container(transform('', 'text/plain'), res => { setTimeout(() => { res.writeHead(200).end() }, 1000) })
    const down = await closedPort()
    const healthy = await proxy([good.url, good.url])
    const r = await fetch(`${healthy.p.url}/ping`)
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({ status: 'healthy', containers: [{ name: 'container-1', healthy: true, state: 'HTTP 200' }, { name: 'container-2', healthy: true, state: 'HTTP 200' }] })
    for (const [url, state] of [[sick.url, 'HTTP 500'], [down, 'unreachable'], [sleepy.url, 'no answer within 100 ms']] as const) {
      const x = await proxy([good.url, url], { 'ping-timeout-ms': '100' })
      const res = await fetch(`${x.p.url}/ping`)
      expect(res.status).toBe(503)
      const doc = await res.json() as { status: string, containers: Array<{ healthy: boolean, state: string }> }
      expect(doc.status).toBe('unhealthy')
      expect(doc.containers[0].healthy).toBe(true)
      expect(doc.containers[1].healthy).toBe(false)
      expect(doc.containers[1].state).toContain(state)
    }
    await healthy.p.close()
    expect(stat(healthy.sink, 'Invocations').count).toBe(0) // health checks are not invocations
  })

  it('a caller that goes away cancels the container call and counts as a 5XX', async () => {
    let arrived!: () => void
    const arrivedP = new Promise<void>(resolve => { arrived = resolve })
    const hang = await container(async () => { arrived() })
    const { p, sink } = await proxy([hang.url])
    const ac = new AbortController()
    const req = fetch(`${p.url}/invocations`, { method: 'POST', body: 'x', signal: ac.signal }).catch(() => 'aborted')
    await arrivedP
    ac.abort()
    expect(await req).toBe('aborted')
    await until(() => hang.closed === 1)
    await p.close()
    expect(stat(sink, 'Invocations').sum).toBe(1)
    expect(stat(sink, 'Invocation5XXErrors').sum).toBe(1)
    expect(stat(sink, 'ContainerLatency', 'container-1').count).toBe(1)
  })

  it('close() lets a request in flight finish before it publishes', async () => {
    let arrived!: () => void
    const arrivedP = new Promise<void>(resolve => { arrived = resolve })
    const slow = await container(async (body, _req, res) => { arrived(); await new Promise(resolve => setTimeout(resolve, 100)); res.writeHead(200, { 'content-type': 'text/plain' }).end('done ' + body) })
    const { p, sink } = await proxy([slow.url])
    const req = invoke(p, 'late')
    await arrivedP
    const closed = p.close()
    const r = await req
    expect(r).toMatchObject({ status: 200, body: 'done late' })
    const result = await closed
    expect(result.metrics.datumsPending).toBe(0)
    expect(stat(sink, 'Invocations').sum).toBe(1)
  })
})
