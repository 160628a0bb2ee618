/**
 * The instance metrics of SageMaker (CPUUtilization, MemoryUtilization, GPUUtilization,
 * GPUMemoryUtilization, DiskUtilization), sampled every few seconds and recorded with the
 * dimension `{ Host }` in `/aws/sagemaker/Endpoints`, `/aws/sagemaker/TrainingJobs` or
 * `/aws/sagemaker/TransformJobs`.
 *
 * Each reading is recorded as one sample. The aggregator then turns a minute of readings into
 * the statistics SageMaker shows: the Average of twelve 5-second readings is the minute's mean
 * utilisation, the Maximum its peak. CPU readings are rates over the interval since the
 * previous one, so consecutive readings tile the minute without gaps or overlaps.
 */
import { describe } from '../internal.js'
import { invalidOption } from '../../errors.js'
import { requireIdentity, resolveIdentity } from '../env.js'
import {
  endpointHost, kDimensionHost, kInstanceMetricUnit, kInstanceNamespaces, trainingHost, transformHost,
  validateNamespace, type InstanceMetricName,
} from '../presets.js'
import type { MetricRecorder, RecordOptions } from '../recorder.js'
import {
  createWarnOnce, detectCgroupV2Dir, emitProcessWarning, kMonotonicNow, kRealTimers, type IntervalTimers,
  type LinuxPaths, type MonotonicClock, type WarningHandler,
} from './common.js'
import { createCpuSampler, resolveCpuSource, type CpuSampler } from './cpu.js'
import { createDiskSampler, type StatfsFn } from './disk.js'
import { createGpuSampler, kGpuSamplerOptionNames, type ExecFileFn } from './gpu.js'
import { checkOptionNames, optionNames, type OptionNames } from '../../option-names.js'
import { createMemorySampler } from './memory.js'

/** Which metrics to collect. */
export interface CollectSelection {
  /** CPUUtilization. @default true */
  cpu?: boolean
  /** MemoryUtilization. @default true */
  memory?: boolean
  /** DiskUtilization. @default true, except `false` in transform mode (the seed: not supported for batch transform) */
  disk?: boolean
  /** GPUUtilization and GPUMemoryUtilization (turns itself off, once, when there is no GPU). @default true */
  gpu?: boolean
}

/** Options shared by every mode of {@link startInstanceMetrics}. */
export interface InstanceMetricsCommonOptions extends LinuxPaths {
  /** Where samples go. */
  recorder: MetricRecorder
  /**
   * The Host dimension value, overriding the one built from the mode's name parts.
   * Checked only for being a non-empty string.
   */
  host?: string
  /**
   * The namespace, overriding the mode's `/aws/sagemaker/...` one. Must not start with `AWS/`.
   */
  namespace?: string
  /**
   * Sampling period. Between 1 s and 60 s so every minute has at least one reading.
   * @default 5000
   */
  intervalMs?: number
  /** Which metrics to collect. */
  collect?: CollectSelection
  /**
   * A path on the disk to measure.
   * @default '/'
   */
  diskPath?: string
  /**
   * A cgroup v2 directory to measure CPU and memory of (e.g. a parent slice holding all model
   * containers), `false` for host-wide `/proc`, or undefined to use this process's own cgroup
   * when there is one.
   */
  cgroupPath?: string | false
  /** Measure CPU of exactly these processes instead (see `cpu.ts`). */
  pids?: readonly number[] | (() => readonly number[])
  /** CPUs, to cap CPUUtilization at 100 × cpuCount. @default os.availableParallelism() */
  cpuCount?: number
  /** Ticks per second of `/proc` times. @default 100 */
  clockTicksPerSecond?: number
  /** Memory: subtract the cgroup's inactive page cache (see `memory.ts`). @default false */
  subtractInactiveFile?: boolean
  /** nvidia-smi settings and test hooks. */
  gpu?: { nvidiaSmiPath?: string, timeoutMs?: number, execFile?: ExecFileFn }
  /** statfs to use for DiskUtilization (tests). */
  statfs?: StatfsFn
  /** Interval timers (tests pass fakes). @default setInterval / clearInterval */
  timers?: IntervalTimers
  /** Monotonic clock in ms, for CPU rates. @default performance.now */
  now?: MonotonicClock
  /**
   * Take a first reading at start (it sets the CPU baseline and records the other metrics).
   * @default true
   */
  sampleOnStart?: boolean
  /** Receives warnings, each condition once. @default process.emitWarning */
  onWarning?: WarningHandler
  /** The environment to read name parts from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>
}

/** Endpoint instances: Host `[endpoint]/[variant]/[instance-id]` in `/aws/sagemaker/Endpoints`. */
export interface EndpointInstanceOptions extends InstanceMetricsCommonOptions {
  /** The mode. */
  mode: 'endpoint'
  /** Else `MINUTELY_ENDPOINT_NAME`. */
  endpointName?: string
  /** Else `MINUTELY_VARIANT_NAME`, else `AllTraffic`. */
  variantName?: string
  /** Else `MINUTELY_INSTANCE_ID`, `HOSTNAME`, `os.hostname()`. */
  instanceId?: string
}

/** Training hosts: Host `[job]/algo-[N]` in `/aws/sagemaker/TrainingJobs`. */
export interface TrainingInstanceOptions extends InstanceMetricsCommonOptions {
  /** The mode. */
  mode: 'training'
  /** Else `MINUTELY_TRAINING_JOB_NAME`, `TRAINING_JOB_NAME`. */
  trainingJobName?: string
  /** N of algo-N. Else `MINUTELY_INSTANCE_NUMBER`, `SM_CURRENT_HOST`, else 1. */
  instanceNumber?: number
}

/** Batch transform instances: Host `[job]/[instance-id]` in `/aws/sagemaker/TransformJobs`. */
export interface TransformInstanceOptions extends InstanceMetricsCommonOptions {
  /** The mode. */
  mode: 'transform'
  /** Else `MINUTELY_TRANSFORM_JOB_NAME`. */
  transformJobName?: string
  /** Else `MINUTELY_INSTANCE_ID`, `HOSTNAME`, `os.hostname()`. */
  instanceId?: string
}

/** Options of {@link startInstanceMetrics}. */
export type InstanceMetricsOptions = EndpointInstanceOptions | TrainingInstanceOptions | TransformInstanceOptions

const kCommonNames: OptionNames<InstanceMetricsCommonOptions> = {
  recorder: true, host: true, namespace: true, intervalMs: true, collect: true, diskPath: true, cgroupPath: true, pids: true,
  cpuCount: true, clockTicksPerSecond: true, subtractInactiveFile: true, gpu: true, statfs: true, timers: true, now: true,
  sampleOnStart: true, onWarning: true, env: true, procRoot: true, cgroupRoot: true,
}
/** The options of each mode; any other name is refused as a typo. */
const kModeOptionNames: Readonly<Record<InstanceMetricsOptions['mode'], readonly string[]>> = {
  endpoint: optionNames<EndpointInstanceOptions>({ ...kCommonNames, mode: true, endpointName: true, variantName: true, instanceId: true }),
  training: optionNames<TrainingInstanceOptions>({ ...kCommonNames, mode: true, trainingJobName: true, instanceNumber: true }),
  transform: optionNames<TransformInstanceOptions>({ ...kCommonNames, mode: true, transformJobName: true, instanceId: true }),
}
const kAnyModeOptionNames = [...new Set(Object.values(kModeOptionNames).flat())]
const kCollectNames = optionNames<CollectSelection>({ cpu: true, memory: true, disk: true, gpu: true })
const kGpuNames = kGpuSamplerOptionNames.filter(k => k !== 'onWarning')

/** A running instance collector. */
export interface InstanceMetrics {
  /** The Host dimension value recorded. */
  readonly host: string
  /** The namespace recorded into. */
  readonly namespace: string
  /** Settles when the start-up reading is done (at once when `sampleOnStart` is false). */
  readonly ready: Promise<void>
  /**
   * Takes a reading now and records it. A collector whose previous reading is still running
   * (a slow nvidia-smi) is not started twice: the call waits for the running one instead.
   * Never rejects; failures become warnings.
   */
  sampleNow (): Promise<void>
  /** Stops the timer. Readings that finish after `stop()` are not recorded. Idempotent. */
  stop (): void
}

/** The default sampling period. */
export const kDefaultInstanceIntervalMs = 5000

/** The shortest and longest sampling periods. */
export const kInstanceIntervalBounds = Object.freeze({ min: 1000, max: 60_000 })

/**
 * Starts sampling the instance metrics. Validates options synchronously (throws a
 * `ConfigError` naming the bad field); the sources are probed asynchronously, and one that
 * cannot be used is reported once through `onWarning` while the other metrics go on.
 * The timer is `unref()`'d so it never keeps a process alive on its own.
 */
export function startInstanceMetrics (options: InstanceMetricsOptions): InstanceMetrics {
  if (typeof options !== 'object' || options === null) throw invalidOption(`options must be an object (got ${describe(options)})`)
  // A typo first (`mdoe` would otherwise read as a missing mode), then names of another mode.
  checkOptionNames(options, kAnyModeOptionNames, 'startInstanceMetrics')
  const { recorder } = options
  if (typeof recorder?.record !== 'function') throw invalidOption('options.recorder must have a record() method')
  const mode = options.mode
  if (typeof mode !== 'string' || !Object.hasOwn(kInstanceNamespaces, mode)) {
    throw invalidOption(`options.mode must be 'endpoint', 'training' or 'transform' (got ${describe(mode)})`)
  }
  checkOptionNames(options, kModeOptionNames[mode], `startInstanceMetrics in mode '${mode}'`)
  if (options.collect !== undefined) checkOptionNames(options.collect, kCollectNames, 'startInstanceMetrics', 'options.collect')
  if (options.gpu !== undefined) checkOptionNames(options.gpu, kGpuNames, 'startInstanceMetrics', 'options.gpu')
  const namespace = options.namespace === undefined ? kInstanceNamespaces[mode] : validateNamespace(options.namespace, 'options.namespace')
  const host = resolveHost(options)
  const intervalMs = options.intervalMs ?? kDefaultInstanceIntervalMs
  const { min, max } = kInstanceIntervalBounds
  if (!(Number.isSafeInteger(intervalMs) && intervalMs >= min && intervalMs <= max)) {
    throw invalidOption(`options.intervalMs must be an integer from ${min} to ${max} (got ${describe(intervalMs)})`)
  }
  const collect = {
    cpu: options.collect?.cpu ?? true,
    memory: options.collect?.memory ?? true,
    disk: options.collect?.disk ?? mode !== 'transform',
    gpu: options.collect?.gpu ?? true,
  }
  const diskPath = options.diskPath ?? '/'
  if (typeof diskPath !== 'string' || diskPath === '') throw invalidOption(`options.diskPath must be a non-empty path (got ${describe(diskPath)})`)
  if (options.cgroupPath !== undefined && options.cgroupPath !== false && (typeof options.cgroupPath !== 'string' || options.cgroupPath === '')) {
    throw invalidOption(`options.cgroupPath must be a directory path or false (got ${describe(options.cgroupPath)})`)
  }
  if (options.cpuCount !== undefined && !(Number.isSafeInteger(options.cpuCount) && options.cpuCount >= 1)) {
    throw invalidOption(`options.cpuCount must be an integer >= 1 (got ${describe(options.cpuCount)})`)
  }

  const onWarning = options.onWarning ?? emitProcessWarning
  const warn = createWarnOnce(onWarning)
  const timers = options.timers ?? kRealTimers
  const now = options.now ?? kMonotonicNow
  // Built once: the same frozen objects go with every sample, so a tick allocates nothing for them.
  const dims: Readonly<Record<string, string>> = Object.freeze({ [kDimensionHost]: host })
  const recordOptions: RecordOptions = Object.freeze({ unit: kInstanceMetricUnit, namespace })
  let stopped = false
  const emit = (metric: InstanceMetricName, value: number | undefined): void => {
    if (stopped || value === undefined || !Number.isFinite(value)) return
    recorder.record(metric, value, dims, recordOptions)
  }

  // cgroup detection is shared by CPU and memory, and done once: the cgroup of a process
  // does not change under it in practice.
  const cgroupDir: Promise<string | undefined> = options.cgroupPath === false
    ? Promise.resolve(undefined)
    : typeof options.cgroupPath === 'string' ? Promise.resolve(options.cgroupPath) : detectCgroupV2Dir(options)

  const jobs: Array<() => Promise<void>> = []

  if (collect.cpu) {
    let sampler: CpuSampler | undefined
    // resolveCpuSource does its own detection when cgroupPath is undefined, and falls back to
    // /proc/stat when the detected cgroup cannot be read; an explicit path gets no fallback.
    const setup = resolveCpuSource({
      procRoot: options.procRoot,
      cgroupRoot: options.cgroupRoot,
      cgroupPath: options.cgroupPath,
      pids: options.pids,
      clockTicksPerSecond: options.clockTicksPerSecond,
    }).then((source) => {
      sampler = createCpuSampler({ source, now, cpuCount: options.cpuCount })
    }).catch((err: unknown) => {
      warn('cpu-source', { code: 'METRICS_WARN_CPU_SOURCE', message: `CPUUtilization will not be published: ${message(err)}`, cause: err })
    })
    jobs.push(async () => {
      await setup
      if (sampler === undefined) return
      try {
        emit('CPUUtilization', await sampler.sample())
        warn.reset('cpu-read')
      } catch (err) {
        warn('cpu-read', { code: 'METRICS_WARN_CPU_SOURCE', message: `CPUUtilization skipped: cannot read ${sampler.source.path}: ${message(err)}`, cause: err })
      }
    })
  }

  if (collect.memory) {
    const sampler = cgroupDir.then((dir) => createMemorySampler({ procRoot: options.procRoot, cgroupDir: dir, subtractInactiveFile: options.subtractInactiveFile }))
    jobs.push(async () => {
      try {
        emit('MemoryUtilization', (await (await sampler).sample()).percent)
        warn.reset('memory')
      } catch (err) {
        warn('memory', { code: 'METRICS_WARN_MEMORY_SOURCE', message: `MemoryUtilization skipped: ${message(err)}`, cause: err })
      }
    })
  }

  if (collect.disk) {
    const sampler = createDiskSampler({ path: diskPath, statfs: options.statfs })
    jobs.push(async () => {
      try {
        emit('DiskUtilization', await sampler.sample())
        warn.reset('disk')
      } catch (err) {
        warn('disk', { code: 'METRICS_WARN_DISK_SOURCE', message: `DiskUtilization skipped: statfs(${JSON.stringify(diskPath)}) failed: ${message(err)}`, cause: err })
      }
    })
  }

  if (collect.gpu) {
    const sampler = createGpuSampler({ ...options.gpu, onWarning })
    jobs.push(async () => {
      const t = await sampler.sample()
      if (t === undefined) return
      emit('GPUUtilization', t.utilizationPercent)
      emit('GPUMemoryUtilization', t.memoryUtilizationPercent)
    })
  }

  // One in-flight promise per collector: a tick never starts a collector that is still busy,
  // so a hung nvidia-smi delays GPU readings only, and never piles up processes.
  const inFlight: Array<Promise<void> | undefined> = jobs.map(() => undefined)
  const sampleNow = async (): Promise<void> => {
    if (stopped) return
    await Promise.all(jobs.map(async (job, i) => {
      let p = inFlight[i]
      if (p === undefined) {
        p = job().catch(() => { /* each job handles its own errors; belt and braces */ })
          .finally(() => { inFlight[i] = undefined })
        inFlight[i] = p
      }
      await p
    }))
  }

  const handle = timers.setInterval(() => { void sampleNow() }, intervalMs)
  ;(handle as { unref?: () => void } | undefined)?.unref?.()
  const ready = options.sampleOnStart === false ? Promise.resolve() : sampleNow()

  return {
    host,
    namespace,
    ready,
    sampleNow,
    stop () {
      if (stopped) return
      stopped = true
      timers.clearInterval(handle)
    },
  }
}

function resolveHost (options: InstanceMetricsOptions): string {
  if (options.host !== undefined) {
    if (typeof options.host !== 'string' || options.host.trim() === '') {
      throw invalidOption(`options.host must be a non-empty string (got ${describe(options.host)})`)
    }
    return options.host
  }
  switch (options.mode) {
    case 'endpoint': {
      const id = resolveIdentity({ endpointName: options.endpointName, variantName: options.variantName, instanceId: options.instanceId, env: options.env })
      return endpointHost(requireIdentity(id.endpointName, 'endpointName'), id.variantName.value, id.instanceId.value)
    }
    case 'training': {
      const id = resolveIdentity({ trainingJobName: options.trainingJobName, instanceNumber: options.instanceNumber, env: options.env })
      return trainingHost(requireIdentity(id.trainingJobName, 'trainingJobName'), id.instanceNumber.value)
    }
    case 'transform': {
      const id = resolveIdentity({ transformJobName: options.transformJobName, instanceId: options.instanceId, env: options.env })
      return transformHost(requireIdentity(id.transformJobName, 'transformJobName'), id.instanceId.value)
    }
  }
}

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
