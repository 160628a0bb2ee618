/**
 * A real `node:http` server on 127.0.0.1, driven by real `fetch` requests: what the
 * invocation middleware records for successes, client errors, server errors, health checks,
 * unknown paths and a request the client aborts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createInvocationMetrics, type InvocationMetrics } from '../../src/sagemaker/invocations.js'
import {
  expressInvocationMetrics, invocationContext, pathIs, withInvocationMetrics, type ExpressResponseLike,
} from '../../src/sagemaker/middleware.js'
import { FakeRecorder } from '../unit/sagemaker/fake-recorder.js'

const DIMS = { EndpointName: 'churn-endpoint', VariantName: 'AllTraffic' }

let server: Server | undefined
afterEach(async () => {
  if (server !== undefined) {
    server.closeAllConnections()
    await new Promise((resolve) => server!.close(resolve))
    server = undefined
  }
})

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A promise with its resolve function (Promise.withResolvers is Node 22+). */
function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

/** Resolves when the server has a request it will hold until the client goes away. */
let holding = deferred()

/** A two-container inference pipeline behind SageMaker's container contract. */
async function handler (req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url === '/ping') {
    res.writeHead(200).end()
    return
  }
  if (!pathIs(req.url, '/invocations')) {
    res.writeHead(404).end()
    return
  }
  const ctx = invocationContext(req)!
  const body = await readBody(req)
  let input: { x?: number, fail?: boolean, hold?: boolean }
  try {
    input = JSON.parse(body)
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('body must be JSON')
    return
  }
  if (input.fail === true) {
    res.writeHead(500).end('model crashed')
    return
  }
  if (input.hold === true) {
    holding.resolve()
    await new Promise((resolve) => res.on('close', resolve))
    return
  }
  const features = await ctx.time('preprocess', async () => { await delay(5); return (input.x ?? 0) * 2 })
  const y = await ctx.time('container-2', async () => { await delay(10); return features + 1 })
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ y }))
}

async function listen (listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(listener)
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function post (base: string, path: string, body: string): Promise<Response> {
  return fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
}

/** The values recorded for each request, in request order (every request records each metric once). */
function perRequest (r: FakeRecorder, metric: string): number[] {
  return r.values(metric, DIMS)
}

describe('withInvocationMetrics on a real node:http server', () => {
  function metricsFor (recorder: FakeRecorder): InvocationMetrics {
    return createInvocationMetrics({ recorder, endpointName: DIMS.EndpointName, variantName: DIMS.VariantName, instanceCount: 2, containers: ['preprocess', undefined], env: {} })
  }

  it('records what SageMaker would for each kind of request', async () => {
    const recorder = new FakeRecorder()
    const base = await listen(withInvocationMetrics(metricsFor(recorder), handler))

    // Not invocations: health check, unknown path.
    expect((await fetch(base + '/ping')).status).toBe(200)
    expect((await fetch(base + '/nope')).status).toBe(404)
    expect(recorder.samples).toEqual([])

    // 1: success through both containers.
    const ok = await post(base, '/invocations?trace=1', JSON.stringify({ x: 20 }))
    expect(await ok.json()).toEqual({ y: 41 })
    // 2: client error. 3: server error.
    expect((await post(base, '/invocations', '{not json')).status).toBe(400)
    expect((await post(base, '/invocations', JSON.stringify({ fail: true }))).status).toBe(500)
    await vi.waitFor(() => { expect(perRequest(recorder, 'Invocations')).toHaveLength(3) })

    // 4: the client gives up while the model is still working.
    holding = deferred()
    const ac = new AbortController()
    const aborted = fetch(base + '/invocations', { method: 'POST', body: JSON.stringify({ hold: true }), signal: ac.signal })
    await holding.promise
    ac.abort()
    await expect(aborted).rejects.toThrow()
    await vi.waitFor(() => { expect(perRequest(recorder, 'Invocations')).toHaveLength(4) })

    expect(perRequest(recorder, 'Invocations')).toEqual([1, 1, 1, 1])
    expect(perRequest(recorder, 'Invocation4XXErrors')).toEqual([0, 1, 0, 0])
    expect(perRequest(recorder, 'Invocation5XXErrors')).toEqual([0, 0, 1, 1])
    expect(perRequest(recorder, 'InvocationsPerInstance')).toEqual([0.5, 0.5, 0.5, 0.5])

    // ContainerLatency, one per container of the successful request, with ContainerName.
    const [pre] = recorder.values('ContainerLatency', { ...DIMS, ContainerName: 'preprocess' })
    const [second] = recorder.values('ContainerLatency', { ...DIMS, ContainerName: 'container-2' })
    expect(recorder.of('ContainerLatency')).toHaveLength(2)
    expect(pre).toBeGreaterThan(3_000) // ≈ 5 ms of work, in µs
    expect(second).toBeGreaterThan(8_000) // ≈ 10 ms
    expect(pre).toBeLessThan(1_000_000)

    // ModelLatency of the pipeline request is exactly the sum of its containers.
    const model = perRequest(recorder, 'ModelLatency')
    const overhead = perRequest(recorder, 'OverheadLatency')
    expect(model).toHaveLength(4)
    expect(model[0]).toBe(pre + second)
    // Reading and parsing the body happened outside the containers: some overhead, not much.
    expect(overhead[0]).toBeGreaterThan(0)
    expect(overhead[0]).toBeLessThan(1_000_000)
    // Untimed requests (errors before the model ran) are all model time, as for a single-model container.
    expect(overhead.slice(1)).toEqual([0, 0, 0])
    expect(model[1]).toBeGreaterThan(0)

    // Every invocation metric went to the default namespace with the seed's units.
    for (const s of recorder.samples) {
      expect(s.via).toBe('series')
      expect(s.namespace).toBe('minutely/SageMaker')
      expect(s.unit).toBe(s.metric.endsWith('Latency') ? 'Microseconds' : 'None')
      expect(s.dimensions).toMatchObject(DIMS)
    }
  })

  it('records concurrent requests independently', async () => {
    const recorder = new FakeRecorder()
    const base = await listen(withInvocationMetrics(metricsFor(recorder), handler))
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      post(base, '/invocations', i % 5 === 0 ? 'bad' : JSON.stringify({ x: i })).then(async (r) => { await r.arrayBuffer(); return r.status })))
    expect(statuses.filter((s) => s === 400)).toHaveLength(4)
    await vi.waitFor(() => { expect(perRequest(recorder, 'Invocations')).toHaveLength(20) })
    expect(perRequest(recorder, 'Invocation4XXErrors').reduce((a, b) => a + b, 0)).toBe(4)
    expect(recorder.values('ContainerLatency', { ContainerName: 'preprocess' })).toHaveLength(16)
    expect(perRequest(recorder, 'ModelLatency').every((v) => v > 0)).toBe(true)
  })
})

describe('expressInvocationMetrics on a real node:http server', () => {
  it('works with real ServerResponse objects and res.locals', async () => {
    const recorder = new FakeRecorder()
    const metrics = createInvocationMetrics({ recorder, endpointName: DIMS.EndpointName, env: {} })
    const mw = expressInvocationMetrics(metrics)
    // The smallest Express-shaped shim: req.originalUrl, res.locals, then the handler.
    const base = await listen((req, res) => {
      const r = req as IncomingMessage & { originalUrl?: string }
      r.originalUrl = req.url
      const s = res as ServerResponse & ExpressResponseLike
      s.locals = {}
      mw(r, s, () => {
        const ctx = s.locals.minutely as ReturnType<InvocationMetrics['begin']> | undefined
        if (ctx === undefined) { res.writeHead(204).end(); return }
        ctx.modelLatency(1234)
        res.writeHead(200).end('ok')
      })
    })
    expect((await fetch(base + '/ping')).status).toBe(204)
    expect(await (await post(base, '/invocations', '{}')).text()).toBe('ok')
    await vi.waitFor(() => { expect(recorder.values('Invocations')).toEqual([1]) })
    expect(recorder.values('ModelLatency')).toEqual([1234])
    expect(recorder.values('OverheadLatency')[0]).toBeGreaterThanOrEqual(0)
  })
})
