/**
 * MemoryUtilization: the percentage of memory used by the containers on the instance, 0–100.
 *
 * Sources, in order:
 * 1. a cgroup v2 directory with a numeric `memory.max`: `memory.current / memory.max`. This
 *    is what a container is allowed, so 100% means "about to be OOM-killed", which is what the
 *    metric is for.
 * 2. `/proc/meminfo`: `(MemTotal − MemAvailable) / MemTotal`, the whole host. Used too when
 *    the cgroup has no limit (`memory.max` is `max`): a ratio to "unlimited" means nothing, and
 *    on a SageMaker-like instance the containers are the only tenants, so the host's use is
 *    theirs. MemAvailable (rather than MemFree) leaves out reclaimable page cache, as `free`
 *    does in its "available" column.
 */
import { join } from 'node:path'
import { kDefaultProcRoot, readText } from './common.js'
import { checkOptionNames, optionNames } from '../../option-names.js'

/** Fields of `/proc/meminfo`, in bytes. */
export interface Meminfo {
  /** MemTotal. */
  totalBytes: number
  /** MemAvailable, or MemFree + Buffers + Cached on kernels older than 3.14 that lack it. */
  availableBytes: number
}

/** Parses `/proc/meminfo` (values in kB, which the kernel means as KiB). */
export function parseMeminfo (text: string): Meminfo | undefined {
  const kb: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const v = Number.parseInt(line.slice(colon + 1).trim(), 10)
    if (Number.isFinite(v)) kb[line.slice(0, colon)] = v
  }
  const total = kb.MemTotal
  if (total === undefined || total <= 0) return undefined
  const available = kb.MemAvailable ?? ((kb.MemFree ?? 0) + (kb.Buffers ?? 0) + (kb.Cached ?? 0))
  return { totalBytes: total * 1024, availableBytes: Math.min(available, total) * 1024 }
}

/** Memory use as a percentage of `/proc/meminfo`'s total. */
export function meminfoUtilizationPercent (m: Meminfo): number {
  return ((m.totalBytes - m.availableBytes) / m.totalBytes) * 100
}

/**
 * Parses cgroup v2 `memory.current` and `memory.max`. `limitBytes` is `undefined` when
 * `memory.max` reads `max` (no limit). Returns `undefined` when `memory.current` is not a number.
 */
export function parseCgroupMemory (current: string, max: string): { usedBytes: number, limitBytes: number | undefined } | undefined {
  const used = Number(current.trim())
  if (!Number.isFinite(used) || used < 0) return undefined
  const m = max.trim()
  const limit = m === 'max' ? undefined : Number(m)
  return { usedBytes: used, limitBytes: limit !== undefined && Number.isFinite(limit) && limit > 0 ? limit : undefined }
}

/** Parses the `inactive_file` line of a cgroup v2 `memory.stat`, in bytes (0 when absent). */
export function parseInactiveFile (text: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('inactive_file ')) {
      const v = Number(line.slice(14).trim())
      return Number.isFinite(v) && v > 0 ? v : 0
    }
  }
  return 0
}

/** Options of {@link createMemorySampler}. */
export interface MemorySamplerOptions {
  /**
   * The procfs root.
   * @default '/proc'
   */
  procRoot?: string
  /** A cgroup v2 directory (detected by the instance collector), or undefined for the host. */
  cgroupDir?: string
  /**
   * Subtract `inactive_file` (page cache the kernel can drop) from `memory.current`, giving
   * the "working set" that `docker stats` and Kubernetes show. Off by default so the number is
   * the plain ratio of the two cgroup files.
   * @default false
   */
  subtractInactiveFile?: boolean
}

const kMemorySamplerOptionNames = optionNames<MemorySamplerOptions>({ procRoot: true, cgroupDir: true, subtractInactiveFile: true })

/** Reads memory utilisation; see {@link createMemorySampler}. */
export interface MemorySampler {
  /** Reads the current utilisation (0–100); rejects when no source can be read. */
  sample (): Promise<{ percent: number, source: 'cgroup' | 'meminfo' }>
}

/**
 * Creates a {@link MemorySampler}. `memory.max` is re-read on every sample because a limit
 * can be changed on a running container (`docker update --memory`).
 */
export function createMemorySampler (options: MemorySamplerOptions = {}): MemorySampler {
  checkOptionNames(options, kMemorySamplerOptionNames, 'createMemorySampler')
  const meminfoPath = join(options.procRoot ?? kDefaultProcRoot, 'meminfo')
  const dir = options.cgroupDir
  return {
    async sample () {
      if (dir !== undefined) {
        const [current, max, stat] = await Promise.all([
          readText(join(dir, 'memory.current')).catch(() => undefined),
          readText(join(dir, 'memory.max')).catch(() => undefined),
          options.subtractInactiveFile === true ? readText(join(dir, 'memory.stat')).catch(() => '') : '',
        ])
        const c = current !== undefined && max !== undefined ? parseCgroupMemory(current, max) : undefined
        if (c !== undefined && c.limitBytes !== undefined) {
          const used = Math.max(0, c.usedBytes - parseInactiveFile(stat))
          return { percent: Math.min(100, (used / c.limitBytes) * 100), source: 'cgroup' }
        }
      }
      const m = parseMeminfo(await readText(meminfoPath))
      if (m === undefined) throw new Error(`${meminfoPath} has no MemTotal`)
      return { percent: meminfoUtilizationPercent(m), source: 'meminfo' }
    },
  }
}
