import { readFileSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import type { CollectorWarning } from '../../../../src/sagemaker/collectors/common.js'
import {
  classifyNvidiaSmiFailure, createGpuSampler, kNvidiaSmiArgs, parseNvidiaSmiCsv, summarizeGpus, type ExecFileFn,
} from '../../../../src/sagemaker/collectors/gpu.js'
import { fixtureTree, type FixtureTree } from './fixture-tree.js'

const fixtureDir = new URL('../../../fixtures/nvidia-smi/', import.meta.url)
const fixture = (name: string): string => readFileSync(new URL(name, fixtureDir), 'utf8')

/** An exec that answers from a script of outcomes, one per call, and counts calls. */
function scriptedExec (outcomes: Array<{ stdout: string } | Error>): ExecFileFn & { calls: Array<{ file: string, args: readonly string[], timeoutMs: number }> } {
  const calls: Array<{ file: string, args: readonly string[], timeoutMs: number }> = []
  const fn = (async (file: string, args: readonly string[], { timeoutMs }: { timeoutMs: number }) => {
    calls.push({ file, args, timeoutMs })
    const o = outcomes[Math.min(calls.length - 1, outcomes.length - 1)]
    if (o instanceof Error) throw o
    return { stdout: o.stdout, stderr: '' }
  }) as ExecFileFn & { calls: typeof calls }
  fn.calls = calls
  return fn
}

/** An error shaped like child_process.execFile's. */
function execError (props: { code?: string | number, killed?: boolean, signal?: string, stdout?: string, stderr?: string }): Error {
  return Object.assign(new Error(`Command failed: nvidia-smi\n${props.stdout ?? ''}`), props)
}

describe('parseNvidiaSmiCsv (recorded fixtures)', () => {
  it('parses one GPU', () => {
    expect(parseNvidiaSmiCsv(fixture('one-gpu.csv'))).toEqual({
      gpus: [{ index: 0, utilizationPercent: 87, memoryUsedMiB: 18211, memoryTotalMiB: 23028 }],
      malformed: [],
    })
  })

  it('parses eight GPUs in order', () => {
    const { gpus, malformed } = parseNvidiaSmiCsv(fixture('eight-gpus.csv'))
    expect(malformed).toEqual([])
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(gpus.every((g) => g.memoryTotalMiB === 40960)).toBe(true)
  })

  it('treats [N/A] and [Not Supported] as absent fields and skips blank CRLF lines', () => {
    expect(parseNvidiaSmiCsv(fixture('na-fields.csv'))).toEqual({
      gpus: [
        { index: 0, memoryUsedMiB: 10240, memoryTotalMiB: 40960 },
        { index: 1, memoryUsedMiB: 512, memoryTotalMiB: 40960 },
        { index: 2, utilizationPercent: 45 },
        { index: 3, utilizationPercent: 0, memoryUsedMiB: 0, memoryTotalMiB: 40960 },
      ],
      malformed: [],
    })
  })

  it('accepts units when nounits was dropped', () => {
    expect(parseNvidiaSmiCsv(fixture('with-units.csv')).gpus).toEqual([{ index: 0, utilizationPercent: 37, memoryUsedMiB: 1024, memoryTotalMiB: 23028 }])
  })

  it('reports error text as malformed and keeps the good lines', () => {
    const r = parseNvidiaSmiCsv(fixture('handle-error.txt'))
    expect(r.gpus).toEqual([{ index: 1, utilizationPercent: 12, memoryUsedMiB: 2048, memoryTotalMiB: 40960 }])
    expect(r.malformed).toHaveLength(1)
    expect(r.malformed[0]).toContain('Unable to determine the device handle')
  })

  it('finds no GPU in the error outputs', () => {
    expect(parseNvidiaSmiCsv(fixture('no-devices.txt')).gpus).toEqual([])
    expect(parseNvidiaSmiCsv(fixture('driver-failure.txt')).gpus).toEqual([])
    expect(parseNvidiaSmiCsv('').gpus).toEqual([])
    expect(parseNvidiaSmiCsv('0, 1, 2\n').malformed).toEqual(['0, 1, 2'])
    expect(parseNvidiaSmiCsv('x, 1, 2, 3\n').malformed).toEqual(['x, 1, 2, 3'])
  })
})

describe('summarizeGpus', () => {
  it('sums over GPUs, 0–100 each (8 GPUs: up to 800)', () => {
    const t = summarizeGpus(parseNvidiaSmiCsv(fixture('eight-gpus.csv')).gpus)
    expect(t.gpuCount).toBe(8)
    expect(t.utilizationPercent).toBe(100 + 98 + 97 + 100 + 12 + 0 + 0 + 55)
    const mem = [38715, 38715, 38713, 38715, 4102, 3, 3, 20480].reduce((a, u) => a + u / 40960 * 100, 0)
    expect(t.memoryUtilizationPercent).toBeCloseTo(mem, 9)
  })

  it('one GPU', () => {
    const t = summarizeGpus(parseNvidiaSmiCsv(fixture('one-gpu.csv')).gpus)
    expect(t).toEqual({ gpuCount: 1, utilizationPercent: 87, memoryUtilizationPercent: 18211 / 23028 * 100 })
  })

  it('leaves out what no GPU reported, and skips GPUs missing a field', () => {
    const t = summarizeGpus(parseNvidiaSmiCsv(fixture('na-fields.csv')).gpus)
    expect(t.utilizationPercent).toBe(45) // GPUs 2 and 3
    expect(t.memoryUtilizationPercent).toBeCloseTo(25 + 1.25 + 0, 12) // GPUs 0, 1, 3
    expect(summarizeGpus([{ index: 0 }])).toEqual({ gpuCount: 1 })
  })
})

describe('classifyNvidiaSmiFailure', () => {
  it.each([
    [execError({ code: 'ENOENT' }), 'missing'],
    [execError({ code: 'EACCES' }), 'missing'],
    [execError({ killed: true, signal: 'SIGKILL' }), 'timeout'],
    [execError({ code: 6, stdout: fixture('no-devices.txt') }), 'no-gpu'],
    [execError({ code: 9, stdout: fixture('driver-failure.txt') }), 'driver'],
    [execError({ code: 255, stdout: 'Failed to initialize NVML: Unknown Error' }), 'failed'],
    ['weird', 'failed'],
  ])('%#', (err, kind) => {
    expect(classifyNvidiaSmiFailure(err)).toBe(kind)
  })
})

describe('createGpuSampler', () => {
  it('runs the documented query with the timeout', async () => {
    const exec = scriptedExec([{ stdout: fixture('one-gpu.csv') }])
    const s = createGpuSampler({ execFile: exec, timeoutMs: 1234, nvidiaSmiPath: '/usr/bin/nvidia-smi', onWarning: () => {} })
    expect(await s.sample()).toEqual({ gpuCount: 1, utilizationPercent: 87, memoryUtilizationPercent: 18211 / 23028 * 100 })
    expect(exec.calls).toEqual([{ file: '/usr/bin/nvidia-smi', args: kNvidiaSmiArgs, timeoutMs: 1234 }])
    expect(kNvidiaSmiArgs).toEqual(['--query-gpu=index,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'])
    expect(s.state).toBe('available')
  })

  it.each([
    ['no nvidia-smi (ENOENT)', execError({ code: 'ENOENT' }), /not found or cannot be run \(ENOENT\)/],
    ['no GPU', execError({ code: 6, stdout: fixture('no-devices.txt') }), /found no GPU/],
    ['no driver', execError({ code: 9, stdout: fixture('driver-failure.txt') }), /cannot talk to the NVIDIA driver/],
    ['empty output', { stdout: '' }, /listed no GPU/],
  ])('%s: says so once and never runs nvidia-smi again', async (_name, outcome, msg) => {
    const warnings: CollectorWarning[] = []
    const exec = scriptedExec([outcome])
    const s = createGpuSampler({ execFile: exec, onWarning: (w) => warnings.push(w) })
    for (let i = 0; i < 10; i++) expect(await s.sample()).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0].code).toBe('METRICS_WARN_NO_GPU')
    expect(warnings[0].message).toMatch(msg)
    expect(warnings[0].message).toContain('said once')
    expect(exec.calls).toHaveLength(1)
    expect(s.state).toBe('unavailable')
  })

  it('treats failures after a success as transient: warns once per outage and keeps trying', async () => {
    const warnings: CollectorWarning[] = []
    const ok = { stdout: fixture('one-gpu.csv') }
    const timeout = execError({ killed: true, signal: 'SIGKILL' })
    const exec = scriptedExec([ok, timeout, timeout, execError({ code: 'ENOENT' }), ok, timeout, ok])
    const s = createGpuSampler({ execFile: exec, onWarning: (w) => warnings.push(w), timeoutMs: 50 })
    const results = []
    for (let i = 0; i < 7; i++) results.push((await s.sample())?.utilizationPercent)
    expect(results).toEqual([87, undefined, undefined, undefined, 87, undefined, 87])
    expect(warnings.map((w) => w.code)).toEqual(['METRICS_WARN_GPU_SAMPLE', 'METRICS_WARN_GPU_SAMPLE'])
    expect(warnings[0].message).toContain('did not answer within 50 ms')
    expect(exec.calls).toHaveLength(7)
    expect(s.state).toBe('available')
  })

  it('a first-run timeout is transient too (the GPU may just be busy)', async () => {
    const warnings: CollectorWarning[] = []
    const exec = scriptedExec([execError({ killed: true }), { stdout: fixture('one-gpu.csv') }])
    const s = createGpuSampler({ execFile: exec, onWarning: (w) => warnings.push(w) })
    expect(await s.sample()).toBeUndefined()
    expect((await s.sample())?.gpuCount).toBe(1)
    expect(warnings.map((w) => w.code)).toEqual(['METRICS_WARN_GPU_SAMPLE'])
  })

  it('publishes the healthy GPUs of a partial answer (non-zero exit with good lines)', async () => {
    const warnings: CollectorWarning[] = []
    const exec = scriptedExec([execError({ code: 15, stdout: fixture('handle-error.txt') })])
    const s = createGpuSampler({ execFile: exec, onWarning: (w) => warnings.push(w) })
    expect(await s.sample()).toEqual({ gpuCount: 1, utilizationPercent: 12, memoryUtilizationPercent: 5 })
    expect(await s.sample()).toEqual({ gpuCount: 1, utilizationPercent: 12, memoryUtilizationPercent: 5 })
    expect(warnings).toHaveLength(1)
    expect(warnings[0].message).toContain('Unable to determine the device handle')
  })

  it('a throwing warning handler does not break sampling', async () => {
    const s = createGpuSampler({ execFile: scriptedExec([execError({ code: 'ENOENT' })]), onWarning: () => { throw new Error('boom') } })
    expect(await s.sample()).toBeUndefined()
  })

  it('rejects a bad timeout', () => {
    expect(() => createGpuSampler({ timeoutMs: 0 })).toThrow('options.gpu.timeoutMs')
  })
})

describe('createGpuSampler with the real execFile', () => {
  let t: FixtureTree | undefined
  afterEach(async () => { await t?.remove(); t = undefined })

  it('a missing binary is ENOENT: one NO_GPU warning', async () => {
    const warnings: CollectorWarning[] = []
    const s = createGpuSampler({ nvidiaSmiPath: '/nonexistent/bin/nvidia-smi', onWarning: (w) => warnings.push(w) })
    expect(await s.sample()).toBeUndefined()
    expect(await s.sample()).toBeUndefined()
    expect(warnings.map((w) => w.code)).toEqual(['METRICS_WARN_NO_GPU'])
    expect(warnings[0].message).toContain('ENOENT')
  })

  it('runs a stand-in nvidia-smi that prints a fixture and checks its arguments', async () => {
    t = await fixtureTree({})
    const script = t.path('nvidia-smi')
    const csv = fileURLToPath(new URL('eight-gpus.csv', fixtureDir))
    await writeFile(script, `#!/bin/sh\n[ "$1" = "${kNvidiaSmiArgs[0]}" ] && [ "$2" = "${kNvidiaSmiArgs[1]}" ] || exit 2\ncat '${csv}'\n`)
    await chmod(script, 0o755)
    const s = createGpuSampler({ nvidiaSmiPath: script, onWarning: () => {} })
    expect((await s.sample())?.gpuCount).toBe(8)
  })

  it('a stand-in that exits 6 with "No devices were found" disables GPU metrics', async () => {
    t = await fixtureTree({})
    const script = t.path('nvidia-smi')
    await writeFile(script, '#!/bin/sh\necho "No devices were found"\nexit 6\n')
    await chmod(script, 0o755)
    const warnings: CollectorWarning[] = []
    const s = createGpuSampler({ nvidiaSmiPath: script, onWarning: (w) => warnings.push(w) })
    expect(await s.sample()).toBeUndefined()
    expect(s.state).toBe('unavailable')
    expect(warnings[0].message).toContain('found no GPU')
  })

  it('kills a hung nvidia-smi at the timeout', async () => {
    t = await fixtureTree({})
    const script = t.path('nvidia-smi')
    await writeFile(script, '#!/bin/sh\nexec sleep 30\n')
    await chmod(script, 0o755)
    const warnings: CollectorWarning[] = []
    const s = createGpuSampler({ nvidiaSmiPath: script, timeoutMs: 200, onWarning: (w) => warnings.push(w) })
    const t0 = Date.now()
    expect(await s.sample()).toBeUndefined()
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(warnings[0].code).toBe('METRICS_WARN_GPU_SAMPLE')
    expect(warnings[0].message).toContain('did not answer within 200 ms')
  })
})
