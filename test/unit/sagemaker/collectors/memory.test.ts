import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemorySampler, meminfoUtilizationPercent, parseCgroupMemory, parseInactiveFile, parseMeminfo,
} from '../../../../src/sagemaker/collectors/memory.js'
import { fixtureTree, meminfo, type FixtureTree } from './fixture-tree.js'

let trees: FixtureTree[] = []
afterEach(async () => {
  await Promise.all(trees.map(async (t) => { await t.remove() }))
  trees = []
})
async function tree (files: Record<string, string>): Promise<FixtureTree> {
  const t = await fixtureTree(files)
  trees.push(t)
  return t
}

describe('memory parsers', () => {
  it('parses /proc/meminfo and computes (MemTotal − MemAvailable) / MemTotal', () => {
    const m = parseMeminfo(meminfo(16_000_000, 12_000_000))
    expect(m).toEqual({ totalBytes: 16_000_000 * 1024, availableBytes: 12_000_000 * 1024 })
    expect(meminfoUtilizationPercent(m!)).toBe(25)
  })

  it('falls back to MemFree + Buffers + Cached on kernels without MemAvailable', () => {
    const m = parseMeminfo(meminfo(10_000_000, undefined, 1_000_000))!
    expect(m.availableBytes).toBe((1_000_000 + 204_800 + 1_048_576) * 1024)
  })

  it('rejects a meminfo without MemTotal', () => {
    expect(parseMeminfo('MemFree: 1 kB\n')).toBeUndefined()
  })

  it('parses cgroup memory.current / memory.max, "max" meaning no limit', () => {
    expect(parseCgroupMemory('1048576\n', '4194304\n')).toEqual({ usedBytes: 1048576, limitBytes: 4194304 })
    expect(parseCgroupMemory('1048576\n', 'max\n')).toEqual({ usedBytes: 1048576, limitBytes: undefined })
    expect(parseCgroupMemory('x', '1')).toBeUndefined()
    expect(parseInactiveFile('anon 1\nfile 2\ninactive_file 4096\nactive_file 3\n')).toBe(4096)
    expect(parseInactiveFile('anon 1\n')).toBe(0)
  })
})

describe('createMemorySampler', () => {
  it('uses the cgroup limit when memory.max is a number', async () => {
    const t = await tree({
      'proc/meminfo': meminfo(16_000_000, 12_000_000),
      'cg/memory.current': '3221225472\n', // 3 GiB
      'cg/memory.max': '4294967296\n', // 4 GiB
      'cg/memory.stat': 'anon 1\ninactive_file 1073741824\n',
    })
    expect(await createMemorySampler({ procRoot: t.path('proc'), cgroupDir: t.path('cg') }).sample())
      .toEqual({ percent: 75, source: 'cgroup' })
    expect(await createMemorySampler({ procRoot: t.path('proc'), cgroupDir: t.path('cg'), subtractInactiveFile: true }).sample())
      .toEqual({ percent: 50, source: 'cgroup' })
  })

  it('uses /proc/meminfo when the cgroup has no limit, or no cgroup is given', async () => {
    const t = await tree({
      'proc/meminfo': meminfo(16_000_000, 4_000_000),
      'cg/memory.current': '3221225472\n',
      'cg/memory.max': 'max\n',
    })
    expect(await createMemorySampler({ procRoot: t.path('proc'), cgroupDir: t.path('cg') }).sample()).toEqual({ percent: 75, source: 'meminfo' })
    expect(await createMemorySampler({ procRoot: t.path('proc') }).sample()).toEqual({ percent: 75, source: 'meminfo' })
    expect(await createMemorySampler({ procRoot: t.path('proc'), cgroupDir: t.path('missing') }).sample()).toEqual({ percent: 75, source: 'meminfo' })
  })

  it('caps at 100 when usage exceeds the limit for a moment', async () => {
    const t = await tree({ 'proc/meminfo': meminfo(1, 1), 'cg/memory.current': '200\n', 'cg/memory.max': '100\n' })
    expect((await createMemorySampler({ procRoot: t.path('proc'), cgroupDir: t.path('cg') }).sample()).percent).toBe(100)
  })

  it('rejects when nothing can be read', async () => {
    const t = await tree({})
    await expect(createMemorySampler({ procRoot: t.path('proc') }).sample()).rejects.toThrow()
  })
})
