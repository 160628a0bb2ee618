/**
 * CPUUtilization as SageMaker defines it: the percentage of CPU used by the containers on the
 * instance, 0–100 per CPU, so 4 busy CPUs read 400.
 *
 * Every source gives a cumulative count of CPU-seconds; utilisation over an interval is
 * Δcpu-seconds / Δwall-seconds × 100. Sources, in the order they are chosen:
 *
 * 1. `pids` given: the sum of `utime + stime` of those processes (`/proc/[pid]/stat`).
 * 2. a cgroup v2 directory (given as `cgroupPath`, or detected from `/proc/self/cgroup`):
 *    `usage_usec` of its `cpu.stat`: everything in the container, children included.
 * 3. `/proc/stat`: the whole host (on SageMaker an instance runs only the model's containers).
 * 4. `process.cpuUsage()`: this Node process only: the last resort, e.g. on macOS.
 *
 * An explicit PID list wins because someone who names processes wants exactly those; otherwise
 * the widest source that still means "the containers" comes first.
 */
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { describe } from '../internal.js'
import { invalidOption } from '../../errors.js'
import { checkOptionNames, optionNames } from '../../option-names.js'
import {
  detectCgroupV2Dir, kDefaultProcRoot, kMonotonicNow, readText, type LinuxPaths, type MonotonicClock,
} from './common.js'

/** Which kind of source a {@link CpuSource} reads. */
export type CpuSourceKind = 'pids' | 'cgroup' | 'proc-stat' | 'process'

/** One reading of a CPU source. */
export interface CpuTotals {
  /** Cumulative CPU-seconds used (only differences between readings mean anything). */
  cpuSeconds: number
  /** How many CPUs the source saw, when it knows (`/proc/stat` does); caps the utilisation. */
  cpus?: number
}

/** A cumulative CPU-time counter. */
export interface CpuSource {
  /** What it reads. */
  readonly kind: CpuSourceKind
  /** The file or directory it reads, for messages. */
  readonly path: string
  /** Reads the counter; rejects when the file is gone or unparsable. */
  read (): Promise<CpuTotals>
}

/**
 * USER_HZ, the unit of `/proc/stat` and `/proc/[pid]/stat` times. It is 100 on every Linux
 * architecture Node ships for (the kernel fixes USER_HZ for userspace), and Node has no
 * `sysconf(_SC_CLK_TCK)`, so 100 is the default and an option can override it.
 */
export const kDefaultClockTicksPerSecond = 100

/**
 * Parses a cgroup v2 `cpu.stat` and returns `usage_usec` in seconds, or `undefined` when the
 * field is missing (cgroup v1's `cpu.stat` has only throttling counters).
 */
export function parseCgroupCpuStat (text: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('usage_usec ')) {
      const v = Number(line.slice(11).trim())
      return Number.isFinite(v) && v >= 0 ? v / 1e6 : undefined
    }
  }
  return undefined
}

/**
 * Parses `/proc/stat`: the busy ticks of the aggregate `cpu` line and the number of `cpuN`
 * lines. Busy is user + nice + system + irq + softirq. Left out: idle and iowait (not work),
 * steal (time the hypervisor gave to someone else, not work our containers did), and guest /
 * guest_nice, which the kernel already counts inside user / nice.
 */
export function parseProcStat (text: string): { busyTicks: number, cpus: number } | undefined {
  let busy: number | undefined
  let cpus = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue
    if (line.startsWith('cpu ')) {
      const f = line.slice(4).trim().split(/\s+/).map(Number)
      // user nice system idle iowait irq softirq steal guest guest_nice
      if (f.length < 4 || f.slice(0, 7).some((x) => !Number.isFinite(x))) return undefined
      busy = f[0] + f[1] + f[2] + (f[5] ?? 0) + (f[6] ?? 0)
    } else if (line.charCodeAt(3) >= 0x30 && line.charCodeAt(3) <= 0x39) {
      cpus++
    }
  }
  return busy === undefined ? undefined : { busyTicks: busy, cpus }
}

/**
 * Parses `/proc/[pid]/stat`: `utime + stime` in ticks and `starttime` (which tells a reused
 * PID from the process we measured before). The command name, field 2, is in parentheses and
 * may itself hold spaces and `)`, so fields are counted from the last `)`. Children's times
 * (cutime, cstime) are left out: they arrive in one lump when a child is reaped and would
 * show as a spike.
 */
export function parsePidStat (text: string): { cpuTicks: number, startTime: number } | undefined {
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  const f = text.slice(close + 1).trim().split(/\s+/)
  // f[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
  const utime = Number(f[11])
  const stime = Number(f[12])
  const start = Number(f[19])
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(start)) return undefined
  return { cpuTicks: utime + stime, startTime: start }
}

/** A source reading `usage_usec` of the cgroup v2 directory `dir`. */
export function cgroupCpuSource (dir: string): CpuSource {
  const path = join(dir, 'cpu.stat')
  return {
    kind: 'cgroup',
    path,
    async read () {
      const s = parseCgroupCpuStat(await readText(path))
      if (s === undefined) throw new Error(`${path} has no usage_usec (is this a cgroup v2 directory?)`)
      return { cpuSeconds: s }
    },
  }
}

/** A source reading the host-wide busy time of `/proc/stat`. */
export function procStatSource (procRoot = kDefaultProcRoot, clockTicksPerSecond = kDefaultClockTicksPerSecond): CpuSource {
  const path = join(procRoot, 'stat')
  return {
    kind: 'proc-stat',
    path,
    async read () {
      const s = parseProcStat(await readText(path))
      if (s === undefined) throw new Error(`${path} has no parsable "cpu" line`)
      return s.cpus > 0 ? { cpuSeconds: s.busyTicks / clockTicksPerSecond, cpus: s.cpus } : { cpuSeconds: s.busyTicks / clockTicksPerSecond }
    },
  }
}

/**
 * A source summing `utime + stime` of a set of processes. Processes come and go, and a
 * process that exits takes its CPU time with it, so summing raw totals would make the counter
 * go backwards. Instead each process contributes only its own growth between two readings in
 * which it existed (same PID and same start time), accumulated into a counter that never
 * decreases. A new process contributes from its first reading on; time it used before it
 * was first seen is not counted.
 * @param pids a fixed list, or a function called at every reading (for worker pools)
 */
export function pidsCpuSource (pids: readonly number[] | (() => readonly number[]), procRoot = kDefaultProcRoot,
  clockTicksPerSecond = kDefaultClockTicksPerSecond): CpuSource {
  let last = new Map<number, { ticks: number, start: number }>()
  let total = 0
  return {
    kind: 'pids',
    path: join(procRoot, '[pid]', 'stat'),
    async read () {
      const list = typeof pids === 'function' ? pids() : pids
      const next = new Map<number, { ticks: number, start: number }>()
      await Promise.all(list.map(async (pid) => {
        try {
          const s = parsePidStat(await readText(join(procRoot, String(pid), 'stat')))
          if (s !== undefined) next.set(pid, { ticks: s.cpuTicks, start: s.startTime })
        } catch { /* exited between listing and reading: it simply stops contributing */ }
      }))
      if (next.size === 0 && list.length > 0) throw new Error(`none of the PIDs ${list.slice(0, 5).join(', ')} could be read under ${procRoot}`)
      for (const [pid, cur] of next) {
        const prev = last.get(pid)
        if (prev !== undefined && prev.start === cur.start && cur.ticks >= prev.ticks) total += cur.ticks - prev.ticks
      }
      last = next
      return { cpuSeconds: total / clockTicksPerSecond }
    },
  }
}

/** A source reading `process.cpuUsage()`: this process only, on any platform. */
export function processCpuSource (): CpuSource {
  return {
    kind: 'process',
    path: 'process.cpuUsage()',
    async read () {
      const u = process.cpuUsage()
      return { cpuSeconds: (u.user + u.system) / 1e6 }
    },
  }
}

/** Options of {@link resolveCpuSource}. */
export interface CpuSourceOptions extends LinuxPaths {
  /** Measure exactly these processes (or the PIDs this function returns at each reading). */
  pids?: readonly number[] | (() => readonly number[])
  /**
   * A cgroup v2 directory to measure (e.g. `/sys/fs/cgroup/system.slice` to sum several
   * containers), `false` to skip cgroups, or undefined to detect this process's own cgroup.
   */
  cgroupPath?: string | false
  /**
   * Ticks per second of `/proc` times.
   * @default 100
   */
  clockTicksPerSecond?: number
}

const kCpuSourceOptionNames = optionNames<CpuSourceOptions>({ procRoot: true, cgroupRoot: true, pids: true, cgroupPath: true, clockTicksPerSecond: true })

/**
 * Chooses the CPU source (see the module comment for the order) and checks that it can be
 * read now. An explicit `pids` list or `cgroupPath` is used as given, without fallback:
 * measuring something else than what was asked for would be a silent lie. Rejects with the
 * reason when an explicit source cannot be read.
 */
export async function resolveCpuSource (options: CpuSourceOptions = {}): Promise<CpuSource> {
  checkOptionNames(options, kCpuSourceOptionNames, 'resolveCpuSource')
  const procRoot = options.procRoot ?? kDefaultProcRoot
  const hz = options.clockTicksPerSecond ?? kDefaultClockTicksPerSecond
  if (!(Number.isFinite(hz) && hz > 0)) throw invalidOption(`options.clockTicksPerSecond must be a positive number (got ${describe(hz)})`)
  if (options.pids !== undefined) {
    const src = pidsCpuSource(options.pids, procRoot, hz)
    await src.read()
    return src
  }
  if (typeof options.cgroupPath === 'string') {
    const src = cgroupCpuSource(options.cgroupPath)
    await src.read()
    return src
  }
  if (options.cgroupPath !== false) {
    const dir = await detectCgroupV2Dir(options)
    if (dir !== undefined) {
      const src = cgroupCpuSource(dir)
      if (await readable(src)) return src
    }
  }
  const stat = procStatSource(procRoot, hz)
  if (await readable(stat)) return stat
  return processCpuSource()
}

async function readable (src: CpuSource): Promise<boolean> {
  try {
    await src.read()
    return true
  } catch {
    return false
  }
}

/**
 * CPU utilisation in percent of one CPU: Δcpu-seconds / Δwall-seconds × 100, so 4 CPUs fully
 * busy give 400. Returns `undefined` for an empty or backwards interval.
 */
export function cpuUtilizationPercent (deltaCpuSeconds: number, deltaWallSeconds: number): number | undefined {
  if (!(deltaWallSeconds > 0) || !(deltaCpuSeconds >= 0)) return undefined
  return (deltaCpuSeconds / deltaWallSeconds) * 100
}

/** Options of {@link createCpuSampler}. */
export interface CpuSamplerOptions {
  /** The source to read. */
  source: CpuSource
  /**
   * A monotonic clock in ms.
   * @default performance.now
   */
  now?: MonotonicClock
  /**
   * CPUs available, to cap a reading at `100 × cpus` (a source that counts its CPUs, like
   * `/proc/stat`, overrides this).
   * @default os.availableParallelism()
   */
  cpuCount?: number
}

const kCpuSamplerOptionNames = optionNames<CpuSamplerOptions>({ source: true, now: true, cpuCount: true })

/** Turns a cumulative {@link CpuSource} into utilisation readings. */
export interface CpuSampler {
  /** The source it reads. */
  readonly source: CpuSource
  /**
   * Reads the source; returns the utilisation since the previous call, or `undefined` on the
   * first call (which only sets the baseline) and after a counter reset. Rejects when the
   * source cannot be read.
   */
  sample (): Promise<number | undefined>
}

/**
 * Creates a {@link CpuSampler}. The result is capped at `100 × cpus`: the wall clock and the
 * kernel's counters are read a few microseconds apart, so a fully busy machine can otherwise
 * read 400.3% on 4 CPUs, and a Maximum above the physical limit confuses alarms.
 */
export function createCpuSampler (options: CpuSamplerOptions): CpuSampler {
  checkOptionNames(options, kCpuSamplerOptionNames, 'createCpuSampler')
  const now = options.now ?? kMonotonicNow
  const cpuCount = options.cpuCount ?? availableParallelism()
  if (!(Number.isSafeInteger(cpuCount) && cpuCount >= 1)) {
    throw invalidOption(`options.cpuCount must be an integer >= 1 (got ${describe(cpuCount)})`)
  }
  let prevT = NaN
  let prevCpu = NaN
  return {
    source: options.source,
    async sample () {
      const t = now()
      const r = await options.source.read()
      const dCpu = r.cpuSeconds - prevCpu
      const dWall = (t - prevT) / 1000
      const first = Number.isNaN(prevT)
      prevT = t
      prevCpu = r.cpuSeconds
      if (first) return undefined
      const pct = cpuUtilizationPercent(dCpu, dWall)
      if (pct === undefined) return undefined
      const max = 100 * (r.cpus ?? cpuCount)
      return pct > max ? max : pct
    },
  }
}
