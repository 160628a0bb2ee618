import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createInvocationMetrics } from '../../../src/sagemaker/invocations.js'
import {
  expressInvocationMetrics, fastifyInvocationMetrics, invocationContext, isSageMakerInvocation, kInvocationContext, pathIs,
  withInvocationMetrics, type FastifyInstanceLike, type FastifyReplyLike, type FastifyRequestLike,
} from '../../../src/sagemaker/middleware.js'
import { FakeRecorder } from './fake-recorder.js'

/** A response double: an EventEmitter with the fields the tracker reads. */
class FakeResponse extends EventEmitter {
  statusCode = 200
  writableFinished = false
  locals: Record<string, unknown> = {}
  finish (status: number): void {
    this.statusCode = status
    this.writableFinished = true
    this.emit('finish')
    this.emit('close')
  }

  drop (): void { this.emit('close') }
}

function setup (): { recorder: FakeRecorder, advance: (us: number) => void, metrics: ReturnType<typeof createInvocationMetrics> } {
  const recorder = new FakeRecorder()
  let t = 0
  const metrics = createInvocationMetrics({ recorder, endpointName: 'ep', variantName: 'v1', nowUs: () => t, env: {} })
  return { recorder, advance: (us) => { t += us }, metrics }
}

describe('what counts as an invocation', () => {
  it.each([
    ['/invocations', true],
    ['/invocations?model=a', true],
    ['/invocations/', false],
    ['/invocationsX', false],
    ['/ping', false],
    ['/execution-parameters', false],
    ['/', false],
    [undefined, false],
  ])('%s → %s', (url, yes) => {
    expect(pathIs(url, '/invocations')).toBe(yes)
    expect(isSageMakerInvocation({ url, method: 'POST' })).toBe(yes)
  })

  it('prefers originalUrl (Express routers rewrite url)', () => {
    expect(isSageMakerInvocation({ url: '/', originalUrl: '/invocations' })).toBe(true)
    expect(isSageMakerInvocation({ url: '/invocations', originalUrl: '/api/invocations' })).toBe(false)
  })
})

describe('expressInvocationMetrics', () => {
  it('exposes the context as res.locals.minutely and records on finish', () => {
    const { recorder, advance, metrics } = setup()
    const mw = expressInvocationMetrics(metrics)
    const req = { url: '/', originalUrl: '/invocations', method: 'POST' }
    const res = new FakeResponse()
    let nexts = 0
    mw(req, res, () => { nexts++ })
    expect(nexts).toBe(1)
    const ctx = res.locals.minutely as ReturnType<typeof metrics.begin>
    expect(ctx).toBeDefined()
    expect(invocationContext(req)).toBe(ctx)
    expect(invocationContext(res)).toBe(ctx)
    ctx.time('model', () => { advance(700) })
    advance(300)
    res.finish(201)
    expect(recorder.values('Invocations')).toEqual([1])
    expect(recorder.values('ModelLatency')).toEqual([700])
    expect(recorder.values('OverheadLatency')).toEqual([300])
    expect(recorder.values('Invocation4XXErrors')).toEqual([0])
    expect(recorder.values('ContainerLatency', { ContainerName: 'model' })).toEqual([700])
  })

  it('passes other paths through without a context', () => {
    const { recorder, metrics } = setup()
    const mw = expressInvocationMetrics(metrics)
    const res = new FakeResponse()
    let nexts = 0
    mw({ url: '/ping', originalUrl: '/ping', method: 'GET' }, res, () => { nexts++ })
    res.finish(200)
    expect(nexts).toBe(1)
    expect(res.locals.minutely).toBeUndefined()
    expect(recorder.samples).toEqual([])
  })

  it('honours a custom predicate', () => {
    const { recorder, metrics } = setup()
    const mw = expressInvocationMetrics(metrics, { isInvocation: (r) => r.method === 'POST' && pathIs(r.originalUrl, '/predict') })
    const res = new FakeResponse()
    mw({ url: '/predict', originalUrl: '/predict', method: 'POST' }, res, () => {})
    res.finish(422)
    expect(recorder.values('Invocation4XXErrors')).toEqual([1])
  })
})

describe('aborted requests', () => {
  it("count as an invocation and a 5XX error by default ('close' without 'finish')", () => {
    const { recorder, advance, metrics } = setup()
    const mw = expressInvocationMetrics(metrics)
    const res = new FakeResponse()
    mw({ url: '/invocations', method: 'POST' }, res, () => {})
    advance(5000)
    res.drop()
    res.drop()
    expect(recorder.values('Invocations')).toEqual([1])
    expect(recorder.values('Invocation5XXErrors')).toEqual([1])
    expect(recorder.values('Invocation4XXErrors')).toEqual([0])
    expect(recorder.values('ModelLatency')).toEqual([5000])
  })

  it("are dropped with abortedRequests: 'ignore'", () => {
    const { recorder, metrics } = setup()
    const mw = expressInvocationMetrics(metrics, { abortedRequests: 'ignore' })
    const res = new FakeResponse()
    mw({ url: '/invocations', method: 'POST' }, res, () => {})
    res.drop()
    expect(recorder.samples).toEqual([])
  })

  it("a 'close' after a completed write whose 'finish' was missed still records a success", () => {
    const { recorder, metrics } = setup()
    const mw = expressInvocationMetrics(metrics)
    const res = new FakeResponse()
    mw({ url: '/invocations', method: 'POST' }, res, () => {})
    res.statusCode = 204
    res.writableFinished = true
    res.emit('close')
    expect(recorder.values('Invocation5XXErrors')).toEqual([0])
    expect(recorder.values('Invocations')).toEqual([1])
  })
})

describe('fastifyInvocationMetrics', () => {
  function fakeFastify (decorated = false): FastifyInstanceLike & { decorators: string[], hooks: Array<[string, Parameters<FastifyInstanceLike['addHook']>[1]]> } {
    const f = {
      decorators: [] as string[],
      hooks: [] as Array<[string, Parameters<FastifyInstanceLike['addHook']>[1]]>,
      decorateRequest (name: string) { f.decorators.push(name) },
      hasRequestDecorator: () => decorated,
      addHook (name: 'onRequest', hook: Parameters<FastifyInstanceLike['addHook']>[1]) { f.hooks.push([name, hook]) },
    }
    return f
  }

  it('is marked to skip encapsulation, as fastify-plugin does', () => {
    const { metrics } = setup()
    const plugin = fastifyInvocationMetrics(metrics)
    expect(plugin[Symbol.for('skip-override')]).toBe(true)
    expect(plugin[Symbol.for('fastify.display-name')]).toBe('minutely-sagemaker-invocations')
  })

  it('decorates the request, tracks reply.raw in onRequest, and records', () => {
    const { recorder, advance, metrics } = setup()
    const f = fakeFastify()
    let done = 0
    fastifyInvocationMetrics(metrics)(f, {}, () => { done++ })
    expect(done).toBe(1)
    expect(f.decorators).toEqual(['minutely'])
    expect(f.hooks.map(([n]) => n)).toEqual(['onRequest'])
    const hook = f.hooks[0][1]

    const raw = {}
    const request: FastifyRequestLike = { url: '/invocations?x=1', method: 'POST', raw }
    const res = new FakeResponse()
    const reply: FastifyReplyLike = { raw: res }
    let nexts = 0
    hook(request, reply, () => { nexts++ })
    expect(nexts).toBe(1)
    expect(request.minutely).toBeDefined()
    expect(invocationContext(raw)).toBe(request.minutely)
    expect((res as unknown as Record<symbol, unknown>)[kInvocationContext]).toBe(request.minutely)
    request.minutely!.modelLatency(100)
    advance(150)
    res.finish(503)
    expect(recorder.values('Invocation5XXErrors')).toEqual([1])
    expect(recorder.values('OverheadLatency')).toEqual([50])

    const ping: FastifyRequestLike = { url: '/ping', method: 'GET', raw: {} }
    hook(ping, { raw: new FakeResponse() }, () => {})
    expect(ping.minutely).toBeUndefined()
  })

  it('does not decorate twice', () => {
    const { metrics } = setup()
    const f = fakeFastify(true)
    fastifyInvocationMetrics(metrics)(f, {}, () => {})
    expect(f.decorators).toEqual([])
  })
})

describe('option validation', () => {
  it.each([
    [() => expressInvocationMetrics({} as ReturnType<typeof createInvocationMetrics>), 'metrics must come from createInvocationMetrics()'],
    [() => expressInvocationMetrics(setup().metrics, { abortedRequests: '5xx' as 'ignore' }), 'options.abortedRequests'],
    [() => expressInvocationMetrics(setup().metrics, { isInvocation: 'x' as unknown as () => boolean }), 'options.isInvocation'],
    [() => withInvocationMetrics(setup().metrics, undefined as unknown as () => void), 'listener must be a function'],
  ])('%#', (fn, msg) => {
    expect(fn).toThrow(expect.objectContaining({ code: 'METRICS_ERR_INVALID_OPTION', message: expect.stringContaining(msg) }))
  })
})
