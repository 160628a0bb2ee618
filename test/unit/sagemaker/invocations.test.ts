import { describe, expect, it } from 'vitest'
import { createInvocationMetrics, type InvocationMetricsOptions } from '../../../src/sagemaker/invocations.js'
import { FakeRecorder } from './fake-recorder.js'

/** A µs clock the test moves by hand. */
function clock (): { nowUs: () => number, advance: (us: number) => void } {
  let t = 1_000_000
  return { nowUs: () => t, advance: (us) => { t += us } }
}

const DIMS = { EndpointName: 'ep', VariantName: 'AllTraffic' }

function setup (extra: Partial<InvocationMetricsOptions> = {}): { recorder: FakeRecorder, c: ReturnType<typeof clock>, m: ReturnType<typeof createInvocationMetrics> } {
  const recorder = new FakeRecorder()
  const c = clock()
  const m = createInvocationMetrics({ recorder, endpointName: 'ep', variantName: 'AllTraffic', nowUs: c.nowUs, env: {}, ...extra })
  return { recorder, c, m }
}

/** The value of each endpoint metric recorded (exactly once) for the last request. */
function lastRequest (r: FakeRecorder): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {}
  for (const name of ['Invocations', 'Invocation4XXErrors', 'Invocation5XXErrors', 'InvocationsPerInstance', 'ModelLatency', 'OverheadLatency']) {
    const v = r.values(name)
    out[name] = v[v.length - 1]
  }
  return out
}

describe('createInvocationMetrics', () => {
  it('resolves every series once, with the seed units, dimensions and the default namespace', () => {
    const { recorder, m } = setup({ containers: ['pre', undefined, 'post'] })
    expect(m.namespace).toBe('minutely/SageMaker')
    expect(m.dimensions).toEqual(DIMS)
    const byName = (n: string): unknown[] => recorder.resolved.filter((s) => s.metric === n)
    for (const [name, unit] of [['Invocations', 'None'], ['Invocation4XXErrors', 'None'], ['Invocation5XXErrors', 'None'],
      ['InvocationsPerInstance', 'None'], ['ModelLatency', 'Microseconds'], ['OverheadLatency', 'Microseconds']] as const) {
      expect(byName(name)).toEqual([{ metric: name, dimensions: DIMS, unit, namespace: 'minutely/SageMaker' }])
    }
    expect(byName('ContainerLatency')).toEqual(['pre', 'container-2', 'post'].map((c) => ({
      metric: 'ContainerLatency', dimensions: { ...DIMS, ContainerName: c }, unit: 'Microseconds', namespace: 'minutely/SageMaker',
    })))
  })

  it('a single-model request: ModelLatency is the whole request, OverheadLatency 0', () => {
    const { recorder, c, m } = setup()
    const ctx = m.begin()
    c.advance(1234.5)
    ctx.end(200)
    expect(lastRequest(recorder)).toEqual({
      Invocations: 1, Invocation4XXErrors: 0, Invocation5XXErrors: 0, InvocationsPerInstance: 1, ModelLatency: 1234.5, OverheadLatency: 0,
    })
    expect(ctx.ended).toBe(true)
  })

  it('a pipeline: ContainerLatency per container, ModelLatency their total, OverheadLatency the rest', async () => {
    const { recorder, c, m } = setup({ containers: ['pre', undefined, 'post'] })
    const ctx = m.begin()
    c.advance(50) // routing, body parsing: overhead
    const pre = ctx.container('pre')
    c.advance(100)
    expect(pre.end()).toBe(100)
    expect(pre.end()).toBe(100) // idempotent: recorded once
    const sync = ctx.time('container-2', () => { c.advance(250); return 'ok' })
    expect(sync).toBe('ok')
    const asyncResult = await ctx.time('post', async () => {
      await Promise.resolve()
      c.advance(300)
      return 42
    })
    expect(asyncResult).toBe(42)
    c.advance(300) // serialising the response: overhead
    ctx.end(200)

    expect(recorder.values('ContainerLatency', { ContainerName: 'pre' })).toEqual([100])
    expect(recorder.values('ContainerLatency', { ContainerName: 'container-2' })).toEqual([250])
    expect(recorder.values('ContainerLatency', { ContainerName: 'post' })).toEqual([300])
    expect(recorder.of('ContainerLatency').every((s) => s.dimensions.EndpointName === 'ep' && s.dimensions.VariantName === 'AllTraffic')).toBe(true)
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 650, OverheadLatency: 350, Invocations: 1 })
  })

  it('time() records the container when fn throws or its promise rejects, and passes the error on', async () => {
    const { recorder, c, m } = setup()
    const ctx = m.begin()
    expect(() => ctx.time('a', () => { c.advance(10); throw new Error('sync boom') })).toThrow('sync boom')
    await expect(ctx.time('b', async () => { c.advance(20); throw new Error('async boom') })).rejects.toThrow('async boom')
    ctx.end(500)
    expect(recorder.values('ContainerLatency', { ContainerName: 'a' })).toEqual([10])
    expect(recorder.values('ContainerLatency', { ContainerName: 'b' })).toEqual([20])
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 30, OverheadLatency: 0, Invocation5XXErrors: 1 })
  })

  it('an explicit modelLatency() wins over the containers; OverheadLatency is clamped at 0', () => {
    const { recorder, c, m } = setup()
    const a = m.begin()
    a.time('x', () => { c.advance(100) })
    a.modelLatency(400)
    c.advance(900)
    a.end(200)
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 400, OverheadLatency: 600 })

    const b = m.begin()
    c.advance(100)
    b.modelLatency(250) // a model clock that disagrees with ours
    b.end(200)
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 250, OverheadLatency: 0 })

    const d = m.begin()
    d.modelLatency(Number.NaN) // ignored, never throws on the request path
    d.modelLatency(-1)
    c.advance(10)
    d.end(200)
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 10, OverheadLatency: 0 })
  })

  it('containerLatency() records an externally measured latency', () => {
    const { recorder, c, m } = setup()
    const ctx = m.begin()
    ctx.containerLatency('remote', 700)
    ctx.containerLatency('remote', Number.POSITIVE_INFINITY) // ignored
    c.advance(1000)
    ctx.end(200)
    expect(recorder.values('ContainerLatency', { ContainerName: 'remote' })).toEqual([700])
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 700, OverheadLatency: 300 })
  })

  it.each([
    [200, 0, 0], [204, 0, 0], [302, 0, 0], [399, 0, 0],
    [400, 1, 0], [404, 1, 0], [424, 1, 0], [499, 1, 0],
    [500, 0, 1], [503, 0, 1], [599, 0, 1], [600, 0, 0],
  ])('status %i → 4XX %i, 5XX %i', (status, e4, e5) => {
    const { recorder, m } = setup()
    m.begin().end(status)
    expect(lastRequest(recorder)).toMatchObject({ Invocations: 1, Invocation4XXErrors: e4, Invocation5XXErrors: e5 })
  })

  it('error flags average to the error rate', () => {
    const { recorder, m } = setup()
    for (const s of [200, 200, 404, 500, 200, 200, 200, 503, 200, 200]) m.begin().end(s)
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(avg(recorder.values('Invocation4XXErrors'))).toBeCloseTo(0.1, 12)
    expect(avg(recorder.values('Invocation5XXErrors'))).toBeCloseTo(0.2, 12)
    expect(recorder.values('Invocations').reduce((a, b) => a + b, 0)).toBe(10)
  })

  it('abort() counts an invocation and a 5XX error; only the first end/abort records', () => {
    const { recorder, c, m } = setup()
    const ctx = m.begin()
    c.advance(60_000_000)
    ctx.abort()
    ctx.end(200)
    ctx.abort()
    expect(recorder.values('Invocations')).toEqual([1])
    expect(lastRequest(recorder)).toMatchObject({ Invocation4XXErrors: 0, Invocation5XXErrors: 1, ModelLatency: 60_000_000 })
    const ctx2 = m.begin()
    ctx2.end(200)
    ctx2.end(500)
    expect(recorder.values('Invocation5XXErrors')).toEqual([1, 0])
  })

  it('InvocationsPerInstance is 1/instanceCount and follows setInstanceCount', () => {
    const { recorder, m } = setup({ instanceCount: 4 })
    expect(m.instanceCount).toBe(4)
    m.begin().end(200)
    m.setInstanceCount(3)
    expect(m.instanceCount).toBe(3)
    m.begin().end(200)
    expect(recorder.values('InvocationsPerInstance')).toEqual([0.25, 1 / 3])
    expect(() => m.setInstanceCount(0)).toThrow('instanceCount must be an integer >= 1')
    expect(() => m.setInstanceCount(1.5)).toThrow('instanceCount')
  })

  it("untimedModelLatency 'omit' records no latency for requests nothing timed", () => {
    const { recorder, c, m } = setup({ untimedModelLatency: 'omit' })
    m.begin().end(200)
    const t = m.begin()
    t.time('c', () => { c.advance(5) })
    t.end(200)
    expect(recorder.values('ModelLatency')).toEqual([5])
    expect(recorder.values('Invocations')).toEqual([1, 1])
  })

  it('a container that ends after the response keeps its ContainerLatency but not the request\'s ModelLatency', () => {
    const { recorder, c, m } = setup()
    const ctx = m.begin()
    const late = ctx.container('bg')
    c.advance(10)
    ctx.end(200)
    c.advance(90)
    late.end()
    expect(recorder.values('ContainerLatency', { ContainerName: 'bg' })).toEqual([100])
    expect(lastRequest(recorder)).toMatchObject({ ModelLatency: 10, OverheadLatency: 0 })
  })

  it('the per-request path resolves no series and never calls record()', () => {
    const { recorder, c, m } = setup({ containers: ['a'] })
    const resolved = recorder.resolved.length
    for (let i = 0; i < 100; i++) {
      const ctx = m.begin()
      ctx.time('a', () => { c.advance(1) })
      ctx.end(i % 7 === 0 ? 500 : 200)
    }
    expect(recorder.resolved.length).toBe(resolved)
    expect(recorder.samples.every((s) => s.via === 'series')).toBe(true)
    // A name not declared up front is resolved on first use, then cached.
    for (let i = 0; i < 3; i++) m.begin().time('b', () => {})
    expect(recorder.resolved.length).toBe(resolved + 1)
  })

  it('reads the endpoint and variant names from the environment', () => {
    const recorder = new FakeRecorder()
    const m = createInvocationMetrics({ recorder, env: { MINUTELY_ENDPOINT_NAME: 'env-ep' } })
    expect(m.dimensions).toEqual({ EndpointName: 'env-ep', VariantName: 'AllTraffic' })
  })

  it('uses a sub-millisecond clock by default', () => {
    const recorder = new FakeRecorder()
    const m = createInvocationMetrics({ recorder, endpointName: 'ep', env: {} })
    const ctx = m.begin()
    let x = 0
    for (let i = 0; i < 1000; i++) x += i
    ctx.end(x > 0 ? 200 : 500)
    const [lat] = recorder.values('ModelLatency')
    expect(lat).toBeGreaterThan(0)
    expect(lat).toBeLessThan(1_000_000)
  })

  it.each<[string, Partial<InvocationMetricsOptions>, string]>([
    ['reserved namespace', { namespace: 'AWS/SageMaker' }, 'options.namespace must not start with "AWS/"'],
    ['bad namespace', { namespace: 'bad*ns' }, 'options.namespace'],
    ['missing endpoint', { endpointName: undefined }, 'options.endpointName is required'],
    ['bad endpoint', { endpointName: 'a/b' }, 'options.endpointName must not contain "/"'],
    ['bad variant', { variantName: '\u0001' }, 'options.variantName'],
    ['bad instanceCount', { instanceCount: 0 }, 'instanceCount'],
    ['duplicate containers', { containers: ['a', 'a'] }, 'containers[1]'],
    ['bad untimed', { untimedModelLatency: 'zero' as 'omit' }, 'options.untimedModelLatency'],
    ['bad clock', { nowUs: 5 as unknown as () => number }, 'options.nowUs'],
    ['no recorder', { recorder: {} as FakeRecorder }, 'options.recorder'],
  ])('throws a ConfigError naming the field: %s', (_name, patch, msg) => {
    expect(() => createInvocationMetrics({ recorder: new FakeRecorder(), endpointName: 'ep', env: {}, ...patch }))
      .toThrow(expect.objectContaining({ name: 'ConfigError', code: 'METRICS_ERR_INVALID_OPTION', message: expect.stringContaining(msg) }))
  })
})
