/**
 * The invocation middleware under the real frameworks (Express 5 and Fastify 5, devDependencies),
 * on 127.0.0.1, driven by real fetch requests: what is and is not an invocation, 4xx from the
 * frameworks' own body parsers, 5xx from thrown handlers, container timing from handlers,
 * aborted requests, and (Fastify) routes inside an encapsulated plugin.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { setTimeout as delay } from 'node:timers/promises'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createInvocationMetrics, type InvocationContext, type InvocationMetrics } from '../../src/sagemaker/invocations.js'
import { expressInvocationMetrics, fastifyInvocationMetrics, invocationContext } from '../../src/sagemaker/middleware.js'
import { FakeRecorder } from '../unit/sagemaker/fake-recorder.js'

const DIMS = { EndpointName: 'fw-endpoint', VariantName: 'AllTraffic' }
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of closers.splice(0)) await c() })

function metricsFor (recorder: FakeRecorder): InvocationMetrics {
  return createInvocationMetrics({ recorder, endpointName: DIMS.EndpointName, variantName: DIMS.VariantName, containers: ['model'], env: {} })
}

const post = (base: string, path: string, body: string, signal?: AbortSignal): Promise<Response> =>
  fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal })

/** Resolves when a handler reached the point where it waits for the client to leave. */
function gate (): { reached: Promise<void>, open: () => void } {
  let open!: () => void
  return { reached: new Promise<void>(resolve => { open = resolve }), open }
}

describe('expressInvocationMetrics under Express 5', () => {
  async function app (recorder: FakeRecorder, held: ReturnType<typeof gate>): Promise<string> {
    const a = express()
    a.use(expressInvocationMetrics(metricsFor(recorder)))
    a.use(express.json())
    a.get('/ping', (_req, res) => { res.sendStatus(200) })
    const router = express.Router()
    router.post('/invocations', async (req, res) => {
      const ctx = res.locals.minutely as InvocationContext
      expect(invocationContext(req)).toBe(ctx)
      const body = req.body as { x?: number, fail?: boolean, hold?: boolean }
      if (body.fail === true) throw new Error('model crashed')
      if (body.hold === true) { held.open(); await new Promise(resolve => res.on('close', resolve)); return }
      const y = await ctx.time('model', async () => { await delay(5); return (body.x ?? 0) + 1 })
      res.json({ y })
    })
    a.use('/', router)
    const server: Server = await new Promise(resolve => { const s = a.listen(0, '127.0.0.1', () => { resolve(s) }) })
    closers.push(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  it('records successes, parser 400s, thrown 500s and aborts; not /ping or unknown paths', async () => {
    const recorder = new FakeRecorder()
    const held = gate()
    const base = await app(recorder, held)
    expect((await fetch(base + '/ping')).status).toBe(200)
    expect((await fetch(base + '/elsewhere')).status).toBe(404)
    expect(recorder.samples).toEqual([])

    expect(await (await post(base, '/invocations', '{"x":1}')).json()).toEqual({ y: 2 })
    expect((await post(base, '/invocations', '{broken')).status).toBe(400) // express.json's own error
    expect((await post(base, '/invocations', '{"fail":true}')).status).toBe(500) // Express 5 catches the rejected promise
    expect((await fetch(base + '/invocations')).status).toBe(404) // GET: no route, still an invocation
    const ac = new AbortController()
    const aborted = post(base, '/invocations', '{"hold":true}', ac.signal)
    await held.reached
    ac.abort()
    await expect(aborted).rejects.toThrow()
    await vi.waitFor(() => { expect(recorder.values('Invocations', DIMS)).toHaveLength(5) })

    expect(recorder.values('Invocation4XXErrors', DIMS)).toEqual([0, 1, 0, 1, 0])
    expect(recorder.values('Invocation5XXErrors', DIMS)).toEqual([0, 0, 1, 0, 1])
    const [model] = recorder.values('ContainerLatency', { ...DIMS, ContainerName: 'model' })
    expect(recorder.of('ContainerLatency')).toHaveLength(1)
    expect(model).toBeGreaterThan(3_000)
    expect(recorder.values('ModelLatency', DIMS)[0]).toBe(model)
  })
})

describe('fastifyInvocationMetrics under Fastify 5', () => {
  async function app (recorder: FakeRecorder, held: ReturnType<typeof gate>, encapsulated: boolean): Promise<string> {
    const f: FastifyInstance = Fastify({ forceCloseConnections: true })
    await f.register(fastifyInvocationMetrics(metricsFor(recorder)) as never)
    const routes = async (scope: FastifyInstance): Promise<void> => {
      scope.get('/ping', async () => '')
      scope.post('/invocations', async (request, reply) => {
        const ctx = (request as unknown as { minutely: InvocationContext }).minutely
        expect(ctx).toBeDefined()
        const body = request.body as { x?: number, fail?: boolean, hold?: boolean }
        if (body.fail === true) throw new Error('model crashed')
        if (body.hold === true) { held.open(); await new Promise(resolve => reply.raw.on('close', resolve)); return 'gone' }
        const y = await ctx.time('model', async () => { await delay(5); return (body.x ?? 0) + 1 })
        return { y }
      })
    }
    if (encapsulated) await f.register(routes)
    else await routes(f)
    await f.listen({ port: 0, host: '127.0.0.1' })
    closers.push(async () => { await f.close() })
    return `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`
  }

  it.each([false, true])('records every kind of request (routes inside an encapsulated plugin: %s)', async (encapsulated) => {
    const recorder = new FakeRecorder()
    const held = gate()
    const base = await app(recorder, held, encapsulated)
    expect((await fetch(base + '/ping')).status).toBe(200)
    expect((await fetch(base + '/elsewhere')).status).toBe(404)
    expect(recorder.samples).toEqual([])

    expect(await (await post(base, '/invocations', '{"x":41}')).json()).toEqual({ y: 42 })
    expect((await post(base, '/invocations', '{broken')).status).toBe(400) // Fastify's JSON parser
    expect((await post(base, '/invocations', '{"fail":true}')).status).toBe(500)
    const ac = new AbortController()
    const aborted = post(base, '/invocations', '{"hold":true}', ac.signal)
    await held.reached
    ac.abort()
    await expect(aborted).rejects.toThrow()
    await vi.waitFor(() => { expect(recorder.values('Invocations', DIMS)).toHaveLength(4) })

    expect(recorder.values('Invocation4XXErrors', DIMS)).toEqual([0, 1, 0, 0])
    expect(recorder.values('Invocation5XXErrors', DIMS)).toEqual([0, 0, 1, 1])
    expect(recorder.of('ContainerLatency')).toHaveLength(1)
    expect(recorder.values('ContainerLatency', { ...DIMS, ContainerName: 'model' })[0]).toBeGreaterThan(3_000)
  })
})
