/**
 * GPUUtilization and GPUMemoryUtilization from `nvidia-smi`, summed over GPUs as SageMaker
 * defines them (0–100 per GPU: 4 GPUs range 0–400%).
 *
 * We run the CLI rather than binding NVML: no native addon to build, the same tool the
 * CloudWatch agent's nvidia_smi plugin uses, and a process that hangs in the driver can be
 * killed by a timeout, where a hung NVML call would block a libuv thread for good.
 * https://docs.nvidia.com/deploy/nvidia-smi/index.html
 */
import { execFile as cpExecFile } from 'node:child_process'
import { describe } from '../internal.js'
import { invalidOption } from '../../errors.js'
import { createWarnOnce, emitProcessWarning, type WarningHandler } from './common.js'
import { checkOptionNames, optionNames } from '../../option-names.js'

/** The query we run: one CSV line per GPU, no header, no units. */
export const kNvidiaSmiArgs: readonly string[] = Object.freeze([
  '--query-gpu=index,utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
])

/** One GPU's line. A field nvidia-smi could not give (`[N/A]`, `[Not Supported]`, ...) is absent. */
export interface GpuReading {
  /** The GPU index nvidia-smi reports. */
  index: number
  /** `utilization.gpu`: percent of time a kernel was running, 0–100. */
  utilizationPercent?: number
  /** `memory.used` in MiB. */
  memoryUsedMiB?: number
  /** `memory.total` in MiB. */
  memoryTotalMiB?: number
}

/** What {@link parseNvidiaSmiCsv} found. */
export interface NvidiaSmiParseResult {
  /** One entry per GPU line, in output order. */
  gpus: GpuReading[]
  /** Non-blank lines that were not a GPU line (error text, a header, garbage). */
  malformed: string[]
}

/**
 * Parses the output of {@link kNvidiaSmiArgs}. Tolerant by design, because nvidia-smi's output
 * varies by driver, GPU and mode: blank lines and CRLF are skipped; a bracketed field such as
 * `[N/A]` (MIG mode, vGPU), `[Not Supported]` (some consumer and unified-memory GPUs) or
 * `[Unknown Error]` makes that one field absent rather than the line invalid; units (`37 %`,
 * `1024 MiB`) are accepted in case `nounits` was dropped. A line needs exactly four fields and
 * an integer index, or it is reported in `malformed`.
 */
export function parseNvidiaSmiCsv (text: string): NvidiaSmiParseResult {
  const gpus: GpuReading[] = []
  const malformed: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const f = line.split(',')
    const index = f.length === 4 && /^\s*\d+\s*$/.test(f[0]) ? Number(f[0]) : NaN
    if (Number.isNaN(index)) {
      malformed.push(line)
      continue
    }
    const g: GpuReading = { index }
    const util = field(f[1], '%')
    const used = field(f[2], 'MiB')
    const total = field(f[3], 'MiB')
    if (util !== undefined) g.utilizationPercent = Math.min(util, 100)
    if (used !== undefined) g.memoryUsedMiB = used
    if (total !== undefined) g.memoryTotalMiB = total
    gpus.push(g)
  }
  return { gpus, malformed }
}

function field (s: string, unit: string): number | undefined {
  let t = s.trim()
  if (t.endsWith(unit)) t = t.slice(0, -unit.length).trim()
  if (t === '' || t.startsWith('[')) return undefined
  const v = Number(t)
  return Number.isFinite(v) && v >= 0 ? v : undefined
}

/** GPU metrics of one sample. A metric no GPU could report is absent. */
export interface GpuTotals {
  /** How many GPU lines nvidia-smi gave. */
  gpuCount: number
  /** Σ utilization.gpu over GPUs that reported it (0–100 × GPUs). */
  utilizationPercent?: number
  /** Σ memory.used / memory.total × 100 over GPUs that reported both (0–100 × GPUs). */
  memoryUtilizationPercent?: number
}

/**
 * Sums the readings as SageMaker does: each GPU contributes 0–100, so the totals scale with
 * the GPU count. A GPU that could not report a field contributes nothing to that metric (we
 * do not guess 0, which would drag the Average down). When no GPU reports a field, the metric
 * is left out: a published 0 would read as "idle", which is not what we know.
 */
export function summarizeGpus (gpus: readonly GpuReading[]): GpuTotals {
  const out: GpuTotals = { gpuCount: gpus.length }
  let util = 0
  let nUtil = 0
  let mem = 0
  let nMem = 0
  for (const g of gpus) {
    if (g.utilizationPercent !== undefined) { util += g.utilizationPercent; nUtil++ }
    if (g.memoryUsedMiB !== undefined && g.memoryTotalMiB !== undefined && g.memoryTotalMiB > 0) {
      mem += Math.min(100, (g.memoryUsedMiB / g.memoryTotalMiB) * 100)
      nMem++
    }
  }
  if (nUtil > 0) out.utilizationPercent = util
  if (nMem > 0) out.memoryUtilizationPercent = mem
  return out
}

/** Runs a program and resolves with its output; rejects like `child_process.execFile` does. */
export type ExecFileFn = (file: string, args: readonly string[], options: { timeoutMs: number }) => Promise<{ stdout: string, stderr: string }>

/**
 * The real runner: `child_process.execFile` (no shell) with a timeout, killing with SIGKILL
 * because an nvidia-smi stuck in the driver ignores SIGTERM.
 */
export const defaultExecFile: ExecFileFn = async (file, args, { timeoutMs }) => {
  return await new Promise((resolve, reject) => {
    cpExecFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', windowsHide: true, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err !== null) {
          Object.assign(err, { stdout, stderr })
          reject(err)
        } else {
          resolve({ stdout, stderr })
        }
      })
  })
}

/** Why nvidia-smi gave no readings. */
export type NvidiaSmiFailure =
  | 'missing' // not installed / not executable (ENOENT, EACCES)
  | 'no-gpu'  // "No devices were found" (exit 6)
  | 'driver'  // "couldn't communicate with the NVIDIA driver" (exit 9)
  | 'timeout' // killed after timeoutMs
  | 'failed'  // anything else

/** Classifies an error from {@link ExecFileFn}. Exit codes are nvidia-smi's documented ones. */
export function classifyNvidiaSmiFailure (err: unknown): NvidiaSmiFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown, killed?: unknown, signal?: unknown, stdout?: unknown, stderr?: unknown
  }
  if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'ENOTDIR') return 'missing'
  if (e.killed === true || e.code === 'ETIMEDOUT') return 'timeout'
  const text = `${typeof e.stdout === 'string' ? e.stdout : ''}\n${typeof e.stderr === 'string' ? e.stderr : ''}`
  if (e.code === 6 || text.includes('No devices were found')) return 'no-gpu'
  if (e.code === 9 || text.includes("couldn't communicate with the NVIDIA driver")) return 'driver'
  return 'failed'
}

/** Options of {@link createGpuSampler}. */
export interface GpuSamplerOptions {
  /**
   * The nvidia-smi program (looked up on PATH when not absolute).
   * @default 'nvidia-smi'
   */
  nvidiaSmiPath?: string
  /**
   * How long one nvidia-smi run may take before it is killed.
   * @default 5000
   */
  timeoutMs?: number
  /**
   * Runs the program (tests inject recorded outputs).
   * @default {@link defaultExecFile}
   */
  execFile?: ExecFileFn
  /**
   * Receives warnings, each condition once.
   * @default process.emitWarning
   */
  onWarning?: WarningHandler
}

/** The options of {@link createGpuSampler}; all but `onWarning` are also `startInstanceMetrics`'s `gpu` options. */
export const kGpuSamplerOptionNames = optionNames<GpuSamplerOptions>({ nvidiaSmiPath: true, timeoutMs: true, execFile: true, onWarning: true })

/** Where a {@link GpuSampler} stands. */
export type GpuSamplerState =
  | 'unknown'     // not run yet, or never succeeded (and never failed for good)
  | 'available'   // it worked at least once
  | 'unavailable' // no nvidia-smi, no GPU or no driver on the first run: GPU metrics are off for good

/** Samples GPU metrics with nvidia-smi. */
export interface GpuSampler {
  /** See {@link GpuSamplerState}. */
  readonly state: GpuSamplerState
  /** Runs nvidia-smi once; `undefined` when there is nothing to publish. Never rejects. */
  sample (): Promise<GpuTotals | undefined>
}

/**
 * Creates a {@link GpuSampler}. The once-only rule: if the very first run finds no
 * nvidia-smi, no GPU or no driver, the machine has no usable GPU; we say so once
 * (`METRICS_WARN_NO_GPU`) and never spawn nvidia-smi again, rather than forking a process
 * every few seconds to learn the same thing. Failures after a success (a timeout, a driver
 * hiccup) are transient: we say so once per outage (`METRICS_WARN_GPU_SAMPLE`), skip the
 * tick, and keep trying.
 */
export function createGpuSampler (options: GpuSamplerOptions = {}): GpuSampler {
  checkOptionNames(options, kGpuSamplerOptionNames, 'createGpuSampler')
  const file = options.nvidiaSmiPath ?? 'nvidia-smi'
  const timeoutMs = options.timeoutMs ?? 5000
  if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) {
    throw invalidOption(`options.gpu.timeoutMs must be a positive integer of milliseconds (got ${describe(timeoutMs)})`)
  }
  const exec = options.execFile ?? defaultExecFile
  const warn = createWarnOnce(options.onWarning ?? emitProcessWarning)
  let state: GpuSamplerState = 'unknown'

  const disable = (why: string, cause?: unknown): undefined => {
    state = 'unavailable'
    warn('no-gpu', {
      code: 'METRICS_WARN_NO_GPU',
      message: `GPUUtilization and GPUMemoryUtilization will not be published: ${why}. This is said once; nvidia-smi will not be run again.`,
      cause,
    })
    return undefined
  }
  const transient = (why: string, cause?: unknown): undefined => {
    warn('transient', {
      code: 'METRICS_WARN_GPU_SAMPLE',
      message: `GPU metrics skipped: ${why}. Retrying every tick; this is said once until nvidia-smi works again.`,
      cause,
    })
    return undefined
  }

  return {
    get state () { return state },
    async sample () {
      if (state === 'unavailable') return undefined
      let stdout: string
      let failure: unknown
      try {
        stdout = (await exec(file, kNvidiaSmiArgs, { timeoutMs })).stdout
      } catch (err) {
        // A non-zero exit can still come with good lines: one GPU fell off the bus, the others
        // answered. Publish what the healthy GPUs said rather than nothing.
        const out = (err as { stdout?: unknown } | null)?.stdout
        stdout = typeof out === 'string' ? out : ''
        failure = err
      }
      const { gpus, malformed } = parseNvidiaSmiCsv(stdout)
      if (failure !== undefined && gpus.length === 0) {
        const err = failure
        const kind = classifyNvidiaSmiFailure(err)
        const why = kind === 'missing'
          ? `${file} was not found or cannot be run (${String((err as { code?: unknown }).code)})`
          : kind === 'no-gpu'
            ? `${file} found no GPU ("No devices were found")`
            : kind === 'driver'
              ? `${file} cannot talk to the NVIDIA driver`
              : kind === 'timeout'
                ? `${file} did not answer within ${timeoutMs} ms`
                : `${file} failed (${firstLine(err)})`
        if (state === 'unknown' && (kind === 'missing' || kind === 'no-gpu' || kind === 'driver')) return disable(why, err)
        return transient(why, err)
      }
      if (gpus.length === 0) {
        const why = malformed.length > 0 ? `${file} printed no GPU line (${JSON.stringify(malformed[0].slice(0, 120))})` : `${file} listed no GPU`
        return state === 'unknown' ? disable(why) : transient(why)
      }
      if (failure !== undefined || malformed.length > 0) {
        // Partial answer: publish it, and say once (per outage) that a GPU is missing from it.
        transient(`${file} reported ${gpus.length} GPU(s) but also ${JSON.stringify((malformed[0] ?? firstLine(failure)).slice(0, 160))}; ` +
          'the sums cover only the GPUs that answered', failure)
        state = 'available'
        return summarizeGpus(gpus)
      }
      state = 'available'
      warn.reset('transient')
      return summarizeGpus(gpus)
    },
  }
}

function firstLine (err: unknown): string {
  const m = err instanceof Error ? err.message : String(err)
  const i = m.indexOf('\n')
  return (i < 0 ? m : m.slice(0, i)).slice(0, 200)
}
