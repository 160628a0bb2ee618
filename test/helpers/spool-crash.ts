/**
 * What a crash leaves in a spool directory: the lock file stays, naming a pid that no longer
 * runs. In-process tests "crash" an aggregator by never closing it, then call this, so that the
 * next aggregator on the directory finds a stale lock, as after a real SIGKILL.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function crash (dir: string): void {
  const dead = spawnSync(process.execPath, ['-e', '']).pid!
  const lock = join(dir, 'minutely.lock')
  writeFileSync(lock, JSON.stringify({ ...JSON.parse(readFileSync(lock, 'utf8')), pid: dead }))
}
