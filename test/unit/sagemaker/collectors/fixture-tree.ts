/**
 * Builds /proc and cgroup fixture trees in a temporary directory, so the collectors read
 * real files through their real code paths, with contents the test chooses.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export interface FixtureTree {
  /** The root directory. */
  root: string
  /** Absolute path of a file or directory inside the tree. */
  path (rel: string): string
  /** Writes (or overwrites) files, creating directories as needed. */
  write (files: Record<string, string>): Promise<void>
  /** Removes the tree. */
  remove (): Promise<void>
}

export async function fixtureTree (files: Record<string, string> = {}): Promise<FixtureTree> {
  const root = await mkdtemp(join(tmpdir(), 'minutely-sagemaker-'))
  const tree: FixtureTree = {
    root,
    path: (rel) => join(root, rel),
    async write (f) {
      for (const [rel, text] of Object.entries(f)) {
        await mkdir(dirname(join(root, rel)), { recursive: true })
        await writeFile(join(root, rel), text)
      }
    },
    async remove () { await rm(root, { recursive: true, force: true }) },
  }
  await tree.write(files)
  return tree
}

/**
 * A /proc/stat for `cpus` CPUs whose aggregate line has the given busy split (ticks).
 * Fields: user nice system idle iowait irq softirq steal guest guest_nice.
 */
export function procStat (cpus: number, t: { user: number, nice?: number, system: number, idle: number, iowait?: number,
  irq?: number, softirq?: number, steal?: number, guest?: number }): string {
  const agg = [t.user, t.nice ?? 0, t.system, t.idle, t.iowait ?? 0, t.irq ?? 0, t.softirq ?? 0, t.steal ?? 0, t.guest ?? 0, 0]
  const lines = [`cpu  ${agg.join(' ')}`]
  for (let i = 0; i < cpus; i++) lines.push(`cpu${i} ${agg.map((x) => Math.floor(x / cpus)).join(' ')}`)
  lines.push('intr 123456 0 0', 'ctxt 987654', 'btime 1700000000', 'processes 4242', 'procs_running 2', 'procs_blocked 0', 'softirq 1 2 3')
  return lines.join('\n') + '\n'
}

/** A /proc/[pid]/stat line with the given comm, utime, stime and starttime (ticks). */
export function pidStat (pid: number, comm: string, utime: number, stime: number, starttime: number): string {
  // Fields 3..52 after "(comm)"; utime is field 14, stime 15, starttime 22.
  const f: Array<string | number> = ['S', 1, pid, pid, 0, -1, 4194560, 1000, 0, 0, 0, utime, stime, 7, 8, 20, 0, 4, 0, starttime,
    123456789, 2345, '18446744073709551615']
  while (f.length < 50) f.push(0)
  return `${pid} (${comm}) ${f.join(' ')}\n`
}

/** A cgroup v2 cpu.stat with the given usage in µs. */
export function cgroupCpuStat (usageUsec: number): string {
  return `usage_usec ${usageUsec}\nuser_usec ${Math.floor(usageUsec * 0.7)}\nsystem_usec ${Math.ceil(usageUsec * 0.3)}\n` +
    'nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n'
}

/** A /proc/meminfo with MemTotal and MemAvailable in kB (and MemFree, Buffers, Cached). */
export function meminfo (totalKb: number, availableKb: number | undefined, freeKb = Math.floor(totalKb / 10)): string {
  const lines = [`MemTotal:       ${totalKb} kB`, `MemFree:        ${freeKb} kB`]
  if (availableKb !== undefined) lines.push(`MemAvailable:   ${availableKb} kB`)
  lines.push('Buffers:          204800 kB', 'Cached:          1048576 kB', 'SwapCached:            0 kB', 'Active:          2048000 kB')
  return lines.join('\n') + '\n'
}
