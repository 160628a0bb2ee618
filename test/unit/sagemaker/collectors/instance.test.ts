import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { CollectorWarning, IntervalTimers } from '../../../../src/sagemaker/collectors/common.js'
import type { ExecFileFn } from '../../../../src/sagemaker/collectors/gpu.js'
import { startInstanceMetrics, type InstanceMetricsOptions } from '../../../../src/sagemaker/collectors/instance.js'
import { FakeRecorder } from '../fake-recorder.js'
import { cgroupCpuStat, fixtureTree, meminfo, procStat, type FixtureTree } from './fixture-tree.js'

const oneGpu = readFileSync(new URL('../../../fixtures/nvidia-smi/one-gpu.csv', import.meta.url), 'utf8')

let trees: FixtureTree[] = []
afterEach(async () => {
  await Promise.all(trees.map(async (t) => { await t.remove() }))
  trees = []
})

/** Timers the test drives: it sees the period, the unref and the clear. */
function fakeTimers (): IntervalTimers & { fn?: () => void, ms?: number, unrefs: number, cleared: boolean } {
  const t = {
    fn: undefined as (() => void) | undefined,
    ms: undefined as number | undefined,
    unrefs: 0,
    cleared: false,
    setInterval (fn: () => void, ms: number) {
      t.fn = fn
      t.ms = ms
      return { unref: () => { t.unrefs++ } }
    },
    clearInterval () { t.cleared = true },
  }
  return t
}

/** A /proc fixture of a 4-CPU, 16 GB host, a clock, an exec and a statfs. */
async function setup (): Promise<{
  tree: FixtureTree, clock: { now: () => number, advance: (ms: number) => void }, exec: ExecFileFn & { calls: number },
  recorder: FakeRecorder, timers: ReturnType<typeof fakeTimers>, warnings: CollectorWarning[], base: Omit<InstanceMetricsOptions, 'mode'>
}> {
  const tree = await fixtureTree({
    'proc/stat': procStat(4, { user: 10_000, system: 5_000, idle: 100_000 }),
    'proc/meminfo': meminfo(16_000_000, 12_000_000),
  })
  trees.push(tree)
  let now = 0
  const clock = { now: () => now, advance: (ms: number) => { now += ms } }
  const exec = Object.assign(async () => { exec.calls++; return { stdout: oneGpu, stderr: '' } }, { calls: 0 })
  const recorder = new FakeRecorder()
  const timers = fakeTimers()
  const warnings: CollectorWarning[] = []
  return {
    tree, clock, exec, recorder, timers, warnings,
    base: {
      recorder,
      procRoot: tree.path('proc'),
      cgroupPath: false,
      cpuCount: 4,
      statfs: async () => ({ blocks: 1000, bfree: 750, bavail: 750 }),
      gpu: { execFile: exec },
      timers,
      now: clock.now,
      onWarning: (w) => warnings.push(w),
      env: {},
    },
  }
}

describe('startInstanceMetrics', () => {
  it('records every metric with { Host } in /aws/sagemaker/Endpoints, unit Percent', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, mode: 'endpoint', endpointName: 'ep', variantName: 'AllTraffic', instanceId: 'i-0abc' })
    expect(m.host).toBe('ep/AllTraffic/i-0abc')
    expect(m.namespace).toBe('/aws/sagemaker/Endpoints')
    expect(s.timers.ms).toBe(5000)
    expect(s.timers.unrefs).toBe(1)

    await m.ready // first reading: CPU only sets its baseline
    expect(s.recorder.metrics().sort()).toEqual(['DiskUtilization', 'GPUMemoryUtilization', 'GPUUtilization', 'MemoryUtilization'])

    s.recorder.clear()
    await s.tree.write({ 'proc/stat': procStat(4, { user: 11_500, system: 5_500, idle: 100_000 }) })
    s.clock.advance(5000)
    await m.sampleNow()
    const byMetric = Object.fromEntries(s.recorder.samples.map((x) => [x.metric, x]))
    expect(Object.keys(byMetric).sort()).toEqual(['CPUUtilization', 'DiskUtilization', 'GPUMemoryUtilization', 'GPUUtilization', 'MemoryUtilization'])
    expect(byMetric.CPUUtilization.value).toBe(400)
    expect(byMetric.MemoryUtilization.value).toBe(25)
    expect(byMetric.DiskUtilization.value).toBe(25)
    expect(byMetric.GPUUtilization.value).toBe(87)
    expect(byMetric.GPUMemoryUtilization.value).toBeCloseTo(18211 / 23028 * 100, 12)
    for (const x of s.recorder.samples) {
      expect(x).toMatchObject({ via: 'record', dimensions: { Host: 'ep/AllTraffic/i-0abc' }, unit: 'Percent', namespace: '/aws/sagemaker/Endpoints' })
      expect(Object.keys(x.dimensions)).toEqual(['Host'])
    }
    expect(s.warnings).toEqual([])
    m.stop()
  })

  it('samples on each timer tick', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', sampleOnStart: false, collect: { gpu: false, disk: false, cpu: false } })
    await m.ready
    expect(s.recorder.samples).toEqual([])
    s.timers.fn!()
    s.timers.fn!() // a second tick while the first is in flight starts nothing new
    await m.sampleNow() // joins the in-flight reading
    expect(s.recorder.values('MemoryUtilization')).toEqual([25])
    m.stop()
  })

  it('builds the training Host job/algo-N in /aws/sagemaker/TrainingJobs from SageMaker variables', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, mode: 'training', env: { TRAINING_JOB_NAME: 'xgb-1', SM_CURRENT_HOST: 'algo-2' }, collect: { gpu: false } })
    expect(m.host).toBe('xgb-1/algo-2')
    expect(m.namespace).toBe('/aws/sagemaker/TrainingJobs')
    await m.ready
    expect(s.recorder.of('MemoryUtilization')[0]).toMatchObject({ dimensions: { Host: 'xgb-1/algo-2' }, namespace: '/aws/sagemaker/TrainingJobs' })
    m.stop()
  })

  it('builds the transform Host job/instance-id and leaves DiskUtilization out (not supported for batch transform)', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, mode: 'transform', transformJobName: 'xf', env: { HOSTNAME: 'ip-10-1-2-3' } })
    expect(m.host).toBe('xf/ip-10-1-2-3')
    expect(m.namespace).toBe('/aws/sagemaker/TransformJobs')
    await m.ready
    expect(s.recorder.metrics()).not.toContain('DiskUtilization')
    expect(s.recorder.metrics()).toContain('MemoryUtilization')
    m.stop()
    // ... unless asked for explicitly
    const s2 = await setup()
    const m2 = startInstanceMetrics({ ...s2.base, mode: 'transform', transformJobName: 'xf', instanceId: 'i', collect: { disk: true } })
    await m2.ready
    expect(s2.recorder.metrics()).toContain('DiskUtilization')
    m2.stop()
  })

  it('no GPU: publishes no GPU metrics and says so once, not every tick', async () => {
    const s = await setup()
    let calls = 0
    const enoent: ExecFileFn = async () => { calls++; throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }) }
    const m = startInstanceMetrics({ ...s.base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', gpu: { execFile: enoent } })
    await m.ready
    for (let i = 0; i < 20; i++) {
      s.clock.advance(5000)
      await m.sampleNow()
    }
    expect(s.recorder.metrics()).not.toContain('GPUUtilization')
    expect(s.recorder.metrics()).not.toContain('GPUMemoryUtilization')
    expect(s.recorder.values('MemoryUtilization')).toHaveLength(21)
    expect(s.warnings.map((w) => w.code)).toEqual(['METRICS_WARN_NO_GPU'])
    expect(calls).toBe(1)
    m.stop()
  })

  it('does not start a collector that is still running (a hung nvidia-smi)', async () => {
    const s = await setup()
    let release: (() => void) | undefined
    let calls = 0
    const slow: ExecFileFn = async () => {
      calls++
      await new Promise<void>((resolve) => { release = resolve })
      return { stdout: oneGpu, stderr: '' }
    }
    const m = startInstanceMetrics({ ...s.base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', gpu: { execFile: slow }, sampleOnStart: false })
    const a = m.sampleNow()
    const b = m.sampleNow()
    await new Promise((resolve) => setImmediate(resolve))
    expect(calls).toBe(1)
    release!()
    await Promise.all([a, b])
    expect(s.recorder.values('GPUUtilization')).toEqual([87])
    m.stop()
  })

  it('uses the cgroup v2 directory of this process for CPU and memory when there is one', async () => {
    const s = await setup()
    await s.tree.write({
      'proc/self/cgroup': '0::/\n',
      'cgroup/cgroup.controllers': 'cpu memory\n',
      'cgroup/cpu.stat': cgroupCpuStat(0),
      'cgroup/memory.current': '536870912\n',
      'cgroup/memory.max': '1073741824\n',
    })
    const m = startInstanceMetrics({
      ...s.base, cgroupPath: undefined, cgroupRoot: s.tree.path('cgroup'), mode: 'endpoint', endpointName: 'ep', instanceId: 'i', collect: { gpu: false, disk: false },
    })
    await m.ready
    await s.tree.write({ 'cgroup/cpu.stat': cgroupCpuStat(2_500_000) })
    s.clock.advance(5000)
    await m.sampleNow()
    expect(s.recorder.values('CPUUtilization')).toEqual([50])
    expect(s.recorder.values('MemoryUtilization')).toEqual([50, 50])
    m.stop()
  })

  it('an unreadable explicit cgroup is warned about once; the other metrics go on', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, cgroupPath: s.tree.path('no-such-cgroup'), mode: 'endpoint', endpointName: 'ep', instanceId: 'i', collect: { gpu: false } })
    await m.ready
    await m.sampleNow()
    await m.sampleNow()
    expect(s.recorder.metrics()).not.toContain('CPUUtilization')
    expect(s.recorder.values('DiskUtilization')).toHaveLength(3)
    expect(s.recorder.values('MemoryUtilization')).toHaveLength(3) // falls back to /proc/meminfo
    expect(s.warnings.map((w) => w.code)).toEqual(['METRICS_WARN_CPU_SOURCE'])
    m.stop()
  })

  it('a failing statfs is warned about once per outage', async () => {
    const s = await setup()
    let fail = true
    const m = startInstanceMetrics({
      ...s.base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', collect: { gpu: false, cpu: false, memory: false },
      statfs: async () => { if (fail) throw new Error('EIO'); return { blocks: 4, bfree: 3, bavail: 3 } },
    })
    await m.ready
    await m.sampleNow()
    fail = false
    await m.sampleNow()
    fail = true
    await m.sampleNow()
    expect(s.recorder.values('DiskUtilization')).toEqual([25])
    expect(s.warnings.map((w) => w.code)).toEqual(['METRICS_WARN_DISK_SOURCE', 'METRICS_WARN_DISK_SOURCE'])
    m.stop()
  })

  it('stop() clears the timer, and nothing is recorded afterwards', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', sampleOnStart: false })
    m.stop()
    m.stop()
    expect(s.timers.cleared).toBe(true)
    await m.sampleNow()
    expect(s.recorder.samples).toEqual([])
  })

  it('honours a namespace and a Host override', async () => {
    const s = await setup()
    const m = startInstanceMetrics({ ...s.base, mode: 'endpoint', host: 'custom-host', namespace: 'my/Instances', collect: { gpu: false, cpu: false, disk: false } })
    await m.ready
    expect(s.recorder.samples[0]).toMatchObject({ dimensions: { Host: 'custom-host' }, namespace: 'my/Instances' })
    m.stop()
  })

  it.each<[string, Partial<InstanceMetricsOptions>, string]>([
    ['interval too short', { intervalMs: 500 }, 'options.intervalMs must be an integer from 1000 to 60000'],
    ['interval too long', { intervalMs: 61_000 }, 'options.intervalMs'],
    ['reserved namespace', { namespace: 'AWS/SageMaker' }, 'options.namespace must not start with "AWS/"'],
    ['bad mode', { mode: 'notebook' as 'endpoint' }, "options.mode must be 'endpoint', 'training' or 'transform'"],
    ['no endpoint name', { endpointName: undefined }, 'options.endpointName is required'],
    ['bad endpoint name', { endpointName: 'a/b' }, 'endpointName must not contain "/"'],
    ['bad cpuCount', { cpuCount: 0 }, 'options.cpuCount'],
    ['bad diskPath', { diskPath: '' }, 'options.diskPath'],
    ['bad cgroupPath', { cgroupPath: '' }, 'options.cgroupPath'],
    ['bad host', { host: ' ' }, 'options.host'],
    ['no recorder', { recorder: undefined }, 'options.recorder'],
  ])('throws a ConfigError naming the field: %s', async (_name, patch, msg) => {
    const s = await setup()
    const opts = { ...s.base, mode: 'endpoint', endpointName: 'ep', instanceId: 'i', ...patch } as InstanceMetricsOptions
    expect(() => startInstanceMetrics(opts)).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'METRICS_ERR_INVALID_OPTION', message: expect.stringContaining(msg) }))
  })

  it('training mode without a job name says which variables were tried', async () => {
    const s = await setup()
    expect(() => startInstanceMetrics({ ...s.base, mode: 'training' })).toThrow('MINUTELY_TRAINING_JOB_NAME or TRAINING_JOB_NAME')
  })
})
