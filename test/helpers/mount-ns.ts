/**
 * A disk that is really full or really read-only, for one child process: `unshare` gives the
 * child a mount namespace of its own (as root `-m`; otherwise inside a user namespace, `-r -m`)
 * where a small tmpfs is mounted, so the kernel itself answers ENOSPC or EROFS. Nothing is
 * mounted on the machine: the mount lives and dies with the child. The test reaches the
 * child's tmpfs through `/proc/<pid>/root`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let probed: { prefix: string[] } | { why: string } | undefined

/** The `unshare` arguments that work on this machine, or why none does. */
export function mountNamespace (): { prefix: string[] } | { why: string } {
  if (probed !== undefined) return probed
  const dir = mkdtempSync(join(tmpdir(), 'minutely-mntns-'))
  let why = ''
  try {
    for (const prefix of process.getuid?.() === 0 ? [['-m'], ['-r', '-m']] : [['-r', '-m']]) {
      const r = spawnSync('unshare', [...prefix, 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0" && touch "$0/x"', dir], { encoding: 'utf8' })
      if (r.status === 0) return (probed = { prefix })
      why = (r.error?.message ?? r.stderr).trim()
    }
  } finally { rmSync(dir, { recursive: true, force: true }) }
  return (probed = { why: `no mount namespace for a test disk on this machine (unshare: ${why})` })
}

/**
 * `[command, args]` that run `argv` with a fresh tmpfs of `size` mounted at `mnt` (an empty
 * directory), after `setup` (shell, `$0` is `mnt`) — e.g. `mount -o remount,ro "$0"`.
 */
export function onTestDisk (prefix: string[], mnt: string, size: string, setup: string, argv: string[]): [string, string[]] {
  const script = `mount -t tmpfs -o size=${size},mode=0755 tmpfs "$0" && ${setup === '' ? ':' : setup} && exec "$@"`
  return ['unshare', [...prefix, 'sh', '-c', script, mnt, ...argv]]
}
