/**
 * Typos in option names: the closest-name rule, and every public factory that takes an
 * options object refusing a name it does not know with METRICS_ERR_UNKNOWN_OPTION, naming the
 * closest valid one (or all of them when none is close). record() never throws, unknown
 * options included.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, createAggregator, cloudWatchSink, emfSink, inMemorySink, kDefaults } from '../../src/index.js'
import {
  createCpuSampler, createDiskSampler, createGpuSampler, createInvocationMetrics, createMemorySampler, expressInvocationMetrics,
  fastifyInvocationMetrics, processCpuSource, resolveCpuSource, resolveIdentity, startInstanceMetrics, withInvocationMetrics,
} from '../../src/sagemaker/index.js'
import { checkOptionNames, closestName, editDistance } from '../../src/option-names.js'
import { kAggregatorOptionNames } from '../../src/core/options.js'
import { FakeRecorder } from './sagemaker/fake-recorder.js'

/** Runs `fn` and returns what it threw (a ConfigError is expected). */
function thrown (fn: () => unknown): ConfigError {
  try { fn() } catch (err) { return err as ConfigError }
  throw new Error('did not throw')
}

describe('closest names', () => {
  it('edit distance: insertions, deletions, substitutions and adjacent transpositions cost 1; case is ignored', () => {
    expect(editDistance('maxSeries', 'maxSeries')).toBe(0)
    expect(editDistance('maxSeriess', 'maxSeries')).toBe(1)
    expect(editDistance('maxSeris', 'maxSeries')).toBe(1)
    expect(editDistance('maxSerjes', 'maxSeries')).toBe(1)
    expect(editDistance('maxSeires', 'maxSeries')).toBe(1)
    expect(editDistance('MAXSERIES', 'maxSeries')).toBe(0)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })

  it('a name is suggested only when it is a plausible typo: one edit per three characters', () => {
    const names = ['namespace', 'sink', 'maxSeries', 'maxDimensions']
    expect(closestName('namespce', names)).toBe('namespace')
    expect(closestName('maxseries', names)).toBe('maxSeries')
    expect(closestName('snk', names)).toBe('sink')
    expect(closestName('bogusOption', names)).toBeUndefined()
    expect(closestName('x', names)).toBeUndefined()
    expect(closestName('maxDimension', ['maxDimensions', 'maxDimensionz'])).toBe('maxDimensions')   // ties: the first
    expect(closestName('nvidiaSmi', ['timeoutMs', 'nvidiaSmiPath'])).toBe('nvidiaSmiPath')              // a beginning
    expect(closestName('max', ['maxSeries'])).toBeUndefined()                                          // too short to tell
  })

  it('checkOptionNames: the first unknown key, with a suggestion or the list', () => {
    expect(() => { checkOptionNames({ a: 1, b: 2 }, ['a', 'b'], 'f') }).not.toThrow()
    const e = thrown(() => { checkOptionNames({ a: 1, colr: 2 }, ['a', 'color'], 'paint', 'options.brush') })
    expect(e).toBeInstanceOf(ConfigError)
    expect(e.code).toBe('METRICS_ERR_UNKNOWN_OPTION')
    expect(e.message).toBe('options.brush.colr is not an option of paint; did you mean color?')
    expect(thrown(() => { checkOptionNames({ zzzzzz: 1 }, ['a', 'color'], 'paint') }).message).toBe('options.zzzzzz is not an option of paint; the options are a, color')
    expect(thrown(() => { checkOptionNames(null as unknown as object, ['a'], 'paint') }).code).toBe('METRICS_ERR_INVALID_OPTION')
  })
})

describe('every factory refuses an unknown option', () => {
  const recorder = new FakeRecorder()
  const metrics = createInvocationMetrics({ recorder, endpointName: 'ep' })
  const base = { recorder, sampleOnStart: false, collect: { cpu: false, memory: false, disk: false, gpu: false } }

  it.each([
    ['createAggregator', () => createAggregator({ namespace: 'X', maxSeriess: 5 } as never), 'options.maxSeriess is not an option of createAggregator; did you mean maxSeries?'],
    ['createAggregator', () => createAggregator({ namespace: 'X', bogusOption: 1 } as never), /^options\.bogusOption is not an option of createAggregator; the options are namespace, sink, /],
    ['createAggregator', () => createAggregator({ namespace: 'X', gracePeriod: 1 } as never), /did you mean gracePeriodMs\?$/],
    ['cloudWatchSink', () => cloudWatchSink({ regoin: 'us-east-1' } as never), 'options.regoin is not an option of cloudWatchSink; did you mean region?'],
    ['cloudWatchSink', () => cloudWatchSink({ endpointUrl: 'http://x' } as never), /did you mean endpoint\?$/],
    ['emfSink', () => emfSink({ steam: process.stdout } as never), 'options.steam is not an option of emfSink; did you mean stream?'],
    ['inMemorySink', () => inMemorySink({ maxBatch: 1 } as never), 'options.maxBatch is not an option of inMemorySink; did you mean maxBatches?'],
    ['createInvocationMetrics', () => createInvocationMetrics({ recorder, endpointName: 'ep', instanceCuont: 2 } as never), /^options\.instanceCuont is not an option of createInvocationMetrics; did you mean instanceCount\?$/],
    ['withInvocationMetrics', () => withInvocationMetrics(metrics, () => {}, { abortedRequest: 'ignore' } as never), /^options\.abortedRequest is not an option of the invocation metrics middleware; did you mean abortedRequests\?$/],
    ['expressInvocationMetrics', () => expressInvocationMetrics(metrics, { isInvocaton: () => true } as never), /did you mean isInvocation\?$/],
    ['fastifyInvocationMetrics', () => fastifyInvocationMetrics(metrics, { nope: 1 } as never), /the options are isInvocation, abortedRequests$/],
    ['startInstanceMetrics', () => startInstanceMetrics({ ...base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', intervalMS: 5000 } as never), /^options\.intervalMS is not an option of startInstanceMetrics; did you mean intervalMs\?$/],
    ['startInstanceMetrics', () => startInstanceMetrics({ ...base, mdoe: 'endpoint' } as never), /^options\.mdoe is not an option of startInstanceMetrics; did you mean mode\?$/],
    ['startInstanceMetrics', () => startInstanceMetrics({ ...base, mode: 'training', trainingJobName: 'j', endpointName: 'ep' } as never), /^options\.endpointName is not an option of startInstanceMetrics in mode 'training'; the options are /],
    ['startInstanceMetrics', () => startInstanceMetrics({ ...base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', collect: { gpus: false } } as never), 'options.collect.gpus is not an option of startInstanceMetrics; did you mean gpu?'],
    ['startInstanceMetrics', () => startInstanceMetrics({ ...base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', gpu: { timeout: 1 } } as never), /^options\.gpu\.timeout is not an option of startInstanceMetrics; did you mean timeoutMs\?$/],
    ['createCpuSampler', () => createCpuSampler({ source: processCpuSource(), cpus: 2 } as never), 'options.cpus is not an option of createCpuSampler; the options are source, now, cpuCount'],
    ['createMemorySampler', () => createMemorySampler({ cgroupPath: '/x' } as never), 'options.cgroupPath is not an option of createMemorySampler; the options are procRoot, cgroupDir, subtractInactiveFile'],
    ['createDiskSampler', () => createDiskSampler({ path: '/', statFs: async () => ({}) } as never), /did you mean statfs\?$/],
    ['createGpuSampler', () => createGpuSampler({ nvidiaSmi: 'x' } as never), /did you mean nvidiaSmiPath\?$/],
    ['resolveIdentity', () => resolveIdentity({ endpoint: 'ep' } as never), /^options\.endpoint is not an option of resolveIdentity; /],
  ] as Array<[string, () => unknown, string | RegExp]>)('%s', (_, fn, want) => {
    const e = thrown(fn)
    expect(e).toBeInstanceOf(ConfigError)
    expect(e.code).toBe('METRICS_ERR_UNKNOWN_OPTION')
    if (typeof want === 'string') expect(e.message).toBe(want)
    else expect(e.message).toMatch(want)
  })

  it('resolveCpuSource rejects (it is async)', async () => {
    await expect(resolveCpuSource({ clockTicks: 100 } as never)).rejects.toMatchObject({ code: 'METRICS_ERR_UNKNOWN_OPTION', message: expect.stringMatching(/^options\.clockTicks is not an option of resolveCpuSource/) as unknown })
  })

  it('series() refuses an unknown option at resolve time; record() takes any and never throws', async () => {
    const agg = createAggregator({ namespace: 'X', sink: inMemorySink(), onWarning: () => {} })
    const e = thrown(() => agg.series('m', {}, { units: 'Count' } as never))
    expect(e.code).toBe('METRICS_ERR_UNKNOWN_OPTION')
    expect(e.message).toBe('options.units is not an option of series("m"); did you mean unit?')
    expect(thrown(() => agg.series('m', {}, null as never)).code).toBe('METRICS_ERR_INVALID_OPTION')
    expect(() => { agg.record('m', 1, {}, { units: 'Count' } as never) }).not.toThrow()
    expect(agg.stats().samplesAccepted).toBe(1)
    await agg.close()
  })

  it('the names it accepts are the options normalizeOptions reads, every one of them', () => {
    expect([...kAggregatorOptionNames].sort()).toEqual(expect.arrayContaining(Object.keys(kDefaults)))
    // Every known name at once: only the missing namespace is wrong.
    const e = thrown(() => createAggregator(Object.fromEntries(kAggregatorOptionNames.map(k => [k, undefined])) as never))
    expect(e.code).toBe('METRICS_ERR_INVALID_OPTION')
    expect(e.message).toMatch(/^options\.namespace: namespace is required/)
  })
})
