import { afterEach, describe, expect, it } from 'vitest'
import {
  cgroupCpuSource, cpuUtilizationPercent, createCpuSampler, parseCgroupCpuStat, parsePidStat, parseProcStat, pidsCpuSource,
  procStatSource, resolveCpuSource, type CpuSource,
} from '../../../../src/sagemaker/collectors/cpu.js'
import { cgroupCpuStat, fixtureTree, pidStat, procStat, type FixtureTree } from './fixture-tree.js'

let trees: FixtureTree[] = []
afterEach(async () => {
  await Promise.all(trees.map(async (t) => { await t.remove() }))
  trees = []
})
async function tree (files: Record<string, string> = {}): Promise<FixtureTree> {
  const t = await fixtureTree(files)
  trees.push(t)
  return t
}

/** A clock the test moves by hand (ms). */
function manualClock (start = 1000): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

describe('parsers', () => {
  it('parses /proc/stat: busy = user + nice + system + irq + softirq, and counts cpuN lines', () => {
    const text = 'cpu  2701 10 1101 52349 144 5 31 6 100 0\ncpu0 869 0 449 26808 10 0 7 2 0 0\ncpu1 1832 0 651 25540 134 0 23 4 0 0\nintr 1\n'
    // steal (6), guest (100), idle and iowait are not busy
    expect(parseProcStat(text)).toEqual({ busyTicks: 2701 + 10 + 1101 + 5 + 31, cpus: 2 })
    expect(parseProcStat('intr 1\n')).toBeUndefined()
    expect(parseProcStat('cpu  a b c d\n')).toBeUndefined()
  })

  it('parses old 4-field /proc/stat lines', () => {
    expect(parseProcStat('cpu  10 20 30 40\ncpu0 10 20 30 40\n')).toEqual({ busyTicks: 60, cpus: 1 })
  })

  it('parses cgroup v2 cpu.stat usage_usec into seconds, and rejects v1 content', () => {
    expect(parseCgroupCpuStat(cgroupCpuStat(2_500_000))).toBe(2.5)
    expect(parseCgroupCpuStat('nr_periods 0\nnr_throttled 0\nthrottled_time 0\n')).toBeUndefined()
  })

  it('parses /proc/[pid]/stat even when the command name holds spaces and parentheses', () => {
    expect(parsePidStat(pidStat(42, 'node (worker) 1)', 150, 50, 9999))).toEqual({ cpuTicks: 200, startTime: 9999 })
    expect(parsePidStat('garbage')).toBeUndefined()
    expect(parsePidStat('1 (x) S 1 2')).toBeUndefined()
  })

  it('computes utilisation as Δcpu / Δwall × 100', () => {
    expect(cpuUtilizationPercent(20, 5)).toBe(400) // 4 CPUs busy for 5 s
    expect(cpuUtilizationPercent(2.5, 5)).toBe(50)
    expect(cpuUtilizationPercent(1, 0)).toBeUndefined()
    expect(cpuUtilizationPercent(-1, 5)).toBeUndefined()
  })
})

describe('createCpuSampler', () => {
  it('scales with the CPU count: 4 busy CPUs of /proc/stat read 400', async () => {
    const t = await tree({ 'proc/stat': procStat(4, { user: 10_000, system: 5_000, idle: 100_000 }) })
    const clock = manualClock()
    const sampler = createCpuSampler({ source: procStatSource(t.path('proc')), now: clock.now, cpuCount: 64 })
    expect(await sampler.sample()).toBeUndefined() // baseline
    // 5 s × 4 CPUs × 100 ticks/s = 2000 busy ticks, split over user and system.
    await t.write({ 'proc/stat': procStat(4, { user: 11_500, system: 5_500, idle: 100_000 }) })
    clock.advance(5000)
    expect(await sampler.sample()).toBe(400)
    // Half of one CPU for 10 s: 500 ticks.
    await t.write({ 'proc/stat': procStat(4, { user: 11_900, system: 5_600, idle: 103_500 }) })
    clock.advance(10_000)
    expect(await sampler.sample()).toBe(50)
  })

  it('ignores idle, iowait and steal', async () => {
    const t = await tree({ 'proc/stat': procStat(2, { user: 100, system: 100, idle: 100, iowait: 0, steal: 0 }) })
    const clock = manualClock()
    const sampler = createCpuSampler({ source: procStatSource(t.path('proc')), now: clock.now })
    await sampler.sample()
    await t.write({ 'proc/stat': procStat(2, { user: 150, system: 150, idle: 500, iowait: 300, steal: 200 }) })
    clock.advance(1000)
    expect(await sampler.sample()).toBe(100) // 100 busy ticks in 1 s = one CPU
  })

  it('caps at 100 × CPUs, using the CPU count /proc/stat reports', async () => {
    const t = await tree({ 'proc/stat': procStat(4, { user: 0, system: 0, idle: 0 }) })
    const clock = manualClock()
    const sampler = createCpuSampler({ source: procStatSource(t.path('proc')), now: clock.now, cpuCount: 1 })
    await sampler.sample()
    await t.write({ 'proc/stat': procStat(4, { user: 2010, system: 0, idle: 0 }) }) // 402% worth
    clock.advance(5000)
    expect(await sampler.sample()).toBe(400)
  })

  it('reads cgroup v2 usage_usec (4 CPUs busy → 400, capped by cpuCount)', async () => {
    const t = await tree({ 'cg/cpu.stat': cgroupCpuStat(1_000_000) })
    const clock = manualClock()
    const sampler = createCpuSampler({ source: cgroupCpuSource(t.path('cg')), now: clock.now, cpuCount: 4 })
    expect(await sampler.sample()).toBeUndefined()
    await t.write({ 'cg/cpu.stat': cgroupCpuStat(21_000_000) }) // +20 CPU-seconds in 5 s
    clock.advance(5000)
    expect(await sampler.sample()).toBe(400)
    await t.write({ 'cg/cpu.stat': cgroupCpuStat(22_250_000) }) // +1.25 s in 5 s
    clock.advance(5000)
    expect(await sampler.sample()).toBe(25)
  })

  it('re-baselines when a counter goes backwards, and skips a zero-length interval', async () => {
    let cpu = 100
    const source: CpuSource = { kind: 'cgroup', path: 'x', read: async () => ({ cpuSeconds: cpu }) }
    const clock = manualClock()
    const sampler = createCpuSampler({ source, now: clock.now, cpuCount: 2 })
    await sampler.sample()
    cpu = 5 // the cgroup was recreated
    clock.advance(1000)
    expect(await sampler.sample()).toBeUndefined()
    cpu = 6
    clock.advance(1000)
    expect(await sampler.sample()).toBe(100)
    expect(await sampler.sample()).toBeUndefined() // same instant
  })

  it('rejects a bad cpuCount', () => {
    const source: CpuSource = { kind: 'process', path: 'x', read: async () => ({ cpuSeconds: 0 }) }
    expect(() => createCpuSampler({ source, cpuCount: 0 })).toThrow('options.cpuCount must be an integer >= 1')
  })
})

describe('pidsCpuSource', () => {
  it('sums utime + stime of the PIDs, surviving an exit and a reused PID', async () => {
    const t = await tree({
      'proc/10/stat': pidStat(10, 'python3', 100, 50, 1000),
      'proc/11/stat': pidStat(11, 'model server', 200, 0, 1001),
    })
    const clock = manualClock()
    const sampler = createCpuSampler({ source: pidsCpuSource([10, 11, 12], t.path('proc')), now: clock.now, cpuCount: 8 })
    expect(await sampler.sample()).toBeUndefined()

    // 10 used 100 ticks, 11 used 300: 4 CPU-seconds in 2 s = 200%.
    await t.write({ 'proc/10/stat': pidStat(10, 'python3', 150, 100, 1000), 'proc/11/stat': pidStat(11, 'model server', 500, 0, 1001) })
    clock.advance(2000)
    expect(await sampler.sample()).toBe(200)

    // 11 exits (its totals vanish), 12 appears: neither makes the counter go backwards or jump.
    await t.remove()
    const t2 = await tree({
      'proc/10/stat': pidStat(10, 'python3', 250, 100, 1000),
      'proc/12/stat': pidStat(12, 'new', 5000, 5000, 2000),
    })
    const sampler2 = createCpuSampler({ source: pidsCpuSource([10, 11, 12], t2.path('proc')), now: clock.now, cpuCount: 8 })
    await sampler2.sample()
    await t2.write({ 'proc/10/stat': pidStat(10, 'python3', 300, 100, 1000) })
    await t2.write({ 'proc/12/stat': pidStat(12, 'reused', 10, 0, 3000) }) // PID 12 reused by a new process
    clock.advance(1000)
    expect(await sampler2.sample()).toBe(50) // only PID 10's 50 ticks count
  })

  it('accepts a function listing the PIDs at each reading', async () => {
    const t = await tree({ 'proc/7/stat': pidStat(7, 'w', 0, 0, 1), 'proc/8/stat': pidStat(8, 'w', 0, 0, 1) })
    let pids = [7]
    const clock = manualClock()
    const sampler = createCpuSampler({ source: pidsCpuSource(() => pids, t.path('proc')), now: clock.now, cpuCount: 8 })
    await sampler.sample()
    pids = [7, 8]
    await t.write({ 'proc/7/stat': pidStat(7, 'w', 100, 0, 1), 'proc/8/stat': pidStat(8, 'w', 100, 0, 1) })
    clock.advance(1000)
    expect(await sampler.sample()).toBe(100) // 8 was not seen before: its first reading is its baseline
  })

  it('rejects when none of the PIDs can be read', async () => {
    const t = await tree({})
    await expect(pidsCpuSource([999999], t.root).read()).rejects.toThrow('none of the PIDs 999999')
  })
})

describe('resolveCpuSource', () => {
  it('detects this process\'s cgroup v2 directory from /proc/self/cgroup', async () => {
    const t = await tree({
      'proc/self/cgroup': '0::/system.slice/docker-abc.scope\n',
      'proc/stat': procStat(2, { user: 1, system: 1, idle: 1 }),
      'cgroup/system.slice/docker-abc.scope/cgroup.controllers': 'cpu memory io\n',
      'cgroup/system.slice/docker-abc.scope/cpu.stat': cgroupCpuStat(5),
    })
    const src = await resolveCpuSource({ procRoot: t.path('proc'), cgroupRoot: t.path('cgroup') })
    expect(src.kind).toBe('cgroup')
    expect(src.path).toBe(t.path('cgroup/system.slice/docker-abc.scope/cpu.stat'))
  })

  it('falls back to /proc/stat on a cgroup v1 / hybrid host (no cgroup.controllers)', async () => {
    const t = await tree({
      'proc/self/cgroup': '4:memory:/x\n0::/\n',
      'proc/stat': procStat(2, { user: 1, system: 1, idle: 1 }),
      'cgroup/cpu/cpu.stat': 'nr_periods 0\n',
    })
    expect((await resolveCpuSource({ procRoot: t.path('proc'), cgroupRoot: t.path('cgroup') })).kind).toBe('proc-stat')
  })

  it('skips cgroups when cgroupPath is false', async () => {
    const t = await tree({
      'proc/self/cgroup': '0::/\n',
      'proc/stat': procStat(1, { user: 1, system: 1, idle: 1 }),
      'cgroup/cgroup.controllers': 'cpu\n',
      'cgroup/cpu.stat': cgroupCpuStat(5),
    })
    expect((await resolveCpuSource({ procRoot: t.path('proc'), cgroupRoot: t.path('cgroup'), cgroupPath: false })).kind).toBe('proc-stat')
  })

  it('falls back to process.cpuUsage() when there is no /proc at all', async () => {
    const t = await tree({})
    const src = await resolveCpuSource({ procRoot: t.path('nope'), cgroupRoot: t.path('nope') })
    expect(src.kind).toBe('process')
    expect((await src.read()).cpuSeconds).toBeGreaterThan(0)
  })

  it('uses an explicit cgroupPath or pids without fallback, rejecting when unreadable', async () => {
    const t = await tree({ 'proc/stat': procStat(1, { user: 1, system: 1, idle: 1 }), 'proc/5/stat': pidStat(5, 'x', 1, 1, 1) })
    await expect(resolveCpuSource({ procRoot: t.path('proc'), cgroupPath: t.path('missing') })).rejects.toThrow()
    expect((await resolveCpuSource({ procRoot: t.path('proc'), pids: [5] })).kind).toBe('pids')
    await expect(resolveCpuSource({ procRoot: t.path('proc'), pids: [6] })).rejects.toThrow('none of the PIDs')
    await expect(resolveCpuSource({ clockTicksPerSecond: 0 })).rejects.toThrow('options.clockTicksPerSecond')
  })
})
