import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import { createDiskSampler, diskUtilizationPercent } from '../../../../src/sagemaker/collectors/disk.js'

describe('disk', () => {
  it('computes Use% as df does: used / (used + bavail), reserved blocks not counted as used', () => {
    // 1000 blocks, 400 free of which 50 reserved for root: df shows 600 used, 350 available.
    expect(diskUtilizationPercent({ blocks: 1000, bfree: 400, bavail: 350 })).toBeCloseTo(600 / 950 * 100, 12)
    // An empty ext4 disk (5% reserved) reads 0%, not 5%.
    expect(diskUtilizationPercent({ blocks: 1000, bfree: 1000, bavail: 950 })).toBe(0)
    // Full for users (bavail 0) reads 100% although root could still write 50 blocks.
    expect(diskUtilizationPercent({ blocks: 1000, bfree: 50, bavail: 0 })).toBe(100)
    expect(diskUtilizationPercent({ blocks: 10n, bfree: 5n, bavail: 5n })).toBe(50)
    expect(diskUtilizationPercent({ blocks: 0, bfree: 0, bavail: 0 })).toBeUndefined()
  })

  it('samples through an injected statfs', async () => {
    const calls: string[] = []
    const s = createDiskSampler({ path: '/opt/ml', statfs: async (p) => { calls.push(p); return { blocks: 200, bfree: 150, bavail: 150 } } })
    expect(await s.sample()).toBe(25)
    expect(calls).toEqual(['/opt/ml'])
  })

  it('reads a real file system with fs.statfs', async () => {
    const v = await createDiskSampler({ path: tmpdir() }).sample()
    expect(v).toBeGreaterThanOrEqual(0)
    expect(v).toBeLessThanOrEqual(100)
    await expect(createDiskSampler({ path: '/definitely/not/here' }).sample()).rejects.toThrow()
  })
})
