/**
 * What the instance collectors share: warnings that are said once, injectable timers and
 * clocks, and the Linux paths they read (injectable so tests point them at fixture trees).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A condition worth telling the operator about once (no GPU, an unreadable file, ...). */
export interface CollectorWarning {
  /** A stable code to match on, e.g. `METRICS_WARN_NO_GPU`. */
  code: CollectorWarningCode
  /** What happened and what it means for the metrics, in one sentence or two. */
  message: string
  /** The underlying error, when there is one. */
  cause?: unknown
}

/** The codes of {@link CollectorWarning}. */
export type CollectorWarningCode =
  | 'METRICS_WARN_NO_GPU'          // nvidia-smi missing, or no GPU/driver: GPU metrics are not published
  | 'METRICS_WARN_GPU_SAMPLE'      // nvidia-smi failed or timed out after having worked: this tick has no GPU metrics
  | 'METRICS_WARN_CPU_SOURCE'      // no CPU source, or it stopped being readable
  | 'METRICS_WARN_MEMORY_SOURCE'   // no memory source, or it stopped being readable
  | 'METRICS_WARN_DISK_SOURCE'     // statfs failed for the disk path

/** Receives {@link CollectorWarning}s. */
export type WarningHandler = (warning: CollectorWarning) => void

/**
 * The default handler: `process.emitWarning`, so warnings reach stderr (or `--no-warnings`
 * silences them) without the library writing to the console itself.
 */
export const emitProcessWarning: WarningHandler = (w) => {
  process.emitWarning(w.message, { type: 'MinutelyWarning', code: w.code })
}

/**
 * Returns a function that passes each `key` on to `handler` at most once. The collectors run
 * every few seconds; a condition that holds on every tick (no GPU, no cgroup) must be said once,
 * not 17,280 times a day. `reset(key)` re-arms a key, for conditions that can come back after
 * recovering (nvidia-smi that worked, failed, worked, failed again).
 */
export function createWarnOnce (handler: WarningHandler): WarnOnce {
  const said = new Set<string>()
  const warn = ((key: string, warning: CollectorWarning): void => {
    if (said.has(key)) return
    said.add(key)
    try { handler(warning) } catch { /* a throwing handler must not break sampling */ }
  }) as WarnOnce
  warn.reset = (key: string): void => { said.delete(key) }
  return warn
}

/** See {@link createWarnOnce}. */
export interface WarnOnce {
  (key: string, warning: CollectorWarning): void
  /** Allows `key` to be said again. */
  reset (key: string): void
}

/** A monotonic clock in milliseconds (fractions allowed). */
export type MonotonicClock = () => number

/** The default monotonic clock: `performance.now()`, which never jumps with NTP or the wall clock. */
export const kMonotonicNow: MonotonicClock = () => performance.now()

/** The timer functions the instance collector uses; inject fakes so tests never sleep. */
export interface IntervalTimers {
  /** Calls `fn` every `ms` milliseconds; returns a handle (its `unref()` is called when present). */
  setInterval (fn: () => void, ms: number): unknown
  /** Cancels a handle returned by `setInterval`. */
  clearInterval (handle: unknown): void
}

/** The real timers. */
export const kRealTimers: IntervalTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => { clearInterval(h as ReturnType<typeof setInterval>) },
}

/** Where the Linux files live; both are injectable so tests can use fixture directories. */
export interface LinuxPaths {
  /**
   * The procfs root.
   * @default '/proc'
   */
  procRoot?: string
  /**
   * The cgroup v2 mount point.
   * @default '/sys/fs/cgroup'
   */
  cgroupRoot?: string
}

/** Default {@link LinuxPaths.procRoot}. */
export const kDefaultProcRoot = '/proc'
/** Default {@link LinuxPaths.cgroupRoot}. */
export const kDefaultCgroupRoot = '/sys/fs/cgroup'

/** Reads a small text file (procfs, cgroupfs) as UTF-8. */
export async function readText (path: string): Promise<string> {
  return await readFile(path, 'utf8')
}

/**
 * Finds this process's cgroup v2 directory: the `0::/path` line of `/proc/self/cgroup`, under
 * the cgroup v2 mount. Returns `undefined` when there is none, including on cgroup v1 and
 * "hybrid" hosts: there `0::/…` exists but refers to a hierarchy mounted elsewhere
 * (`/sys/fs/cgroup/unified`), so we require `cgroup.controllers`, which only a v2 directory has.
 * Inside a container with its own cgroup namespace the path is `/`, which is the container's
 * own cgroup: exactly what SageMaker measures per container.
 */
export async function detectCgroupV2Dir (paths: LinuxPaths = {}): Promise<string | undefined> {
  const procRoot = paths.procRoot ?? kDefaultProcRoot
  const cgroupRoot = paths.cgroupRoot ?? kDefaultCgroupRoot
  let text: string
  try {
    text = await readText(join(procRoot, 'self', 'cgroup'))
  } catch {
    return undefined
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('0::')) continue
    const dir = join(cgroupRoot, line.slice(3).trim())
    try {
      await readText(join(dir, 'cgroup.controllers'))
      return dir
    } catch {
      return undefined
    }
  }
  return undefined
}
