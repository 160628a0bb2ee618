/**
 * DiskUtilization: the percentage of disk space used on the file system holding a path
 * (on SageMaker, the ML storage volume; pass e.g. `/opt/ml` as `diskPath`).
 *
 * We compute it as `df` prints `Use%`:
 *
 *     used = blocks − bfree;  Use% = used / (used + bavail) × 100
 *
 * rather than `(blocks − bavail) / blocks`. The two differ by the blocks reserved for root
 * (5% by default on ext4): the second counts them as used, so an empty ext4 disk would read 5%
 * and a disk that `df` shows as 100% full would read 95%. `df` is what operators compare with
 * and what the "disk full" alarm is about (ordinary processes get ENOSPC at 100% of `df`), so
 * we match it. We do not round up as `df` does; a one-minute Average needs the fractions.
 */
import { statfs as fsStatfs } from 'node:fs/promises'
import { checkOptionNames, optionNames } from '../../option-names.js'

/** The fields of `fs.statfs` this module needs (numbers or bigints). */
export interface StatfsLike {
  /** Total data blocks. */
  blocks: number | bigint
  /** Free blocks, including those reserved for root. */
  bfree: number | bigint
  /** Free blocks available to unprivileged users. */
  bavail: number | bigint
}

/**
 * `df`'s Use% of a `statfs` result (see the module comment), or `undefined` for a file system
 * with no data blocks (procfs, some FUSE mounts), where a percentage means nothing.
 */
export function diskUtilizationPercent (s: StatfsLike): number | undefined {
  const blocks = Number(s.blocks)
  const bfree = Number(s.bfree)
  const bavail = Number(s.bavail)
  const used = blocks - bfree
  const denom = used + bavail
  if (!(denom > 0) || !(used >= 0)) return undefined
  return (used / denom) * 100
}

/** An injectable `statfs` (tests pass fixed numbers). */
export type StatfsFn = (path: string) => Promise<StatfsLike>

/** Options of {@link createDiskSampler}. */
export interface DiskSamplerOptions {
  /** A path on the file system to measure. */
  path: string
  /**
   * The statfs to call.
   * @default fs.promises.statfs
   */
  statfs?: StatfsFn
}

const kDiskSamplerOptionNames = optionNames<DiskSamplerOptions>({ path: true, statfs: true })

/** Reads disk utilisation. */
export interface DiskSampler {
  /** The measured path. */
  readonly path: string
  /** Returns Use% (0–100), `undefined` for a file system without blocks; rejects when statfs fails. */
  sample (): Promise<number | undefined>
}

/** Creates a {@link DiskSampler}. */
export function createDiskSampler (options: DiskSamplerOptions): DiskSampler {
  checkOptionNames(options, kDiskSamplerOptionNames, 'createDiskSampler')
  const statfs = options.statfs ?? fsStatfs
  return {
    path: options.path,
    async sample () {
      return diskUtilizationPercent(await statfs(options.path))
    },
  }
}
