/**
 * One owner per spool directory: `minutely.lock`, created with O_EXCL, holding who owns it
 * (pid, the process's start time, host, boot and pid namespace). Two processes sharing a spool
 * would overwrite each other's journal and both publish the same checkpoint; the second one is
 * refused instead, with a ConfigError naming the directory and the holder.
 *
 * A lock whose holder is gone is taken over, and said so:
 * - where the holder's pid can be checked (same boot, same pid namespace), at once when that pid
 *   is no longer running, or runs a process started later (the pid was reused: a container's
 *   pid 1 after a restart);
 * - otherwise (another host on a shared volume, another container, another boot) once the lock
 *   has not been refreshed for {@link kLockStaleMs}: the holder touches it every
 *   {@link kLockRefreshMs}.
 * Taking over goes through a second O_EXCL file, so two processes starting at once cannot both
 * take over one stale lock. The holder also watches its lock: if another process took it (the
 * holder was frozen past the stale time), it is told so and stops writing to the spool.
 * Released on close() and on process exit; SIGKILL leaves it for the next start to take over.
 */
import { closeSync, fsyncSync, futimesSync, openSync, readFileSync, readlinkSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ConfigError } from '../errors.js'

export const kLockFile = 'minutely.lock'
export const kTakeoverFile = 'minutely.lock.takeover'
/** How often the holder touches its lock. */
export const kLockRefreshMs = 2000
/** A lock whose holder cannot be checked is stale once untouched this long. */
export const kLockStaleMs = 15_000
/** A lock file that cannot be read (its writer died between creating and filling it) is stale after this long. */
const kUnreadableStaleMs = 5000

/** What the lock file holds. */
export interface LockHolder {
  pid: number
  host: string
  /** /proc/sys/kernel/random/boot_id, or null off Linux. */
  boot: string | null
  /** The pid namespace (`pid:[4026531836]`), or null off Linux. */
  pidns: string | null
  /** The process's start time in clock ticks after boot (/proc/<pid>/stat field 22), or null. */
  procStart: number | null
  started: string
  token: string
}

function readOr (f: () => string): string | null {
  try { return f() } catch { return null }
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks after boot. */
function procStartOf (pid: number): number | null {
  const text = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'))
  if (text === null) return null
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')   // after "pid (comm) ": field 3 on
  const n = Number(fields[19])
  return Number.isFinite(n) ? n : null
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

function me (): Omit<LockHolder, 'started' | 'token'> {
  return {
    pid: process.pid,
    host: hostname(),
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidns: readOr(() => readlinkSync('/proc/self/ns/pid')),
    procStart: procStartOf(process.pid),
  }
}

function parseHolder (text: string): LockHolder | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockHolder>
    if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0 || typeof o.host !== 'string' || typeof o.token !== 'string') return undefined
    return { pid: o.pid, host: o.host, boot: o.boot ?? null, pidns: o.pidns ?? null, procStart: typeof o.procStart === 'number' ? o.procStart : null, started: String(o.started ?? '?'), token: o.token }
  } catch { return undefined }
}

type Verdict = { held: true, why: string } | { held: false, why: string }

function describe (h: LockHolder, self: ReturnType<typeof me>): string {
  return `pid ${h.pid}${h.host !== self.host ? ` on host ${h.host}` : ''}, started ${h.started}`
}

/** Whether the lock `h` (touched `ageMs` ago) still has a live holder. */
function judge (h: LockHolder, ageMs: number, self: ReturnType<typeof me>): Verdict {
  const checkable = self.boot !== null || self.pidns !== null
    ? h.boot === self.boot && h.pidns === self.pidns
    : h.host === self.host
  if (checkable) {
    if (h.pid === self.pid) {
      if (h.procStart !== null && self.procStart !== null && h.procStart !== self.procStart) return { held: false, why: `pid ${h.pid} is this process now, started after that lock was written` }
      return { held: true, why: 'this process' }
    }
    if (!alive(h.pid)) return { held: false, why: `pid ${h.pid} is no longer running` }
    const started = h.procStart !== null ? procStartOf(h.pid) : null
    if (started !== null && started !== h.procStart) return { held: false, why: `pid ${h.pid} now belongs to a process started after that lock was written` }
    return { held: true, why: 'running' }
  }
  if (ageMs > kLockStaleMs) return { held: false, why: `its holder cannot be checked from here (another host, container or boot) and has not refreshed it for ${Math.round(ageMs / 1000)} s` }
  return { held: true, why: `cannot be checked from here (another host, container or boot); it refreshed the lock ${Math.round(ageMs / 1000)} s ago and is taken over once it has not for ${kLockStaleMs / 1000} s` }
}

function message (err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e.code !== undefined ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(err)
}

/** The spool's lock, held by this process. */
export class SpoolLock {
  readonly path: string
  readonly holder: LockHolder
  #fd: number
  #timer: ReturnType<typeof setInterval> | undefined
  #released = false
  #lost: ((why: string) => void) | undefined

  private constructor (path: string, holder: LockHolder, fd: number) {
    this.path = path
    this.holder = holder
    this.#fd = fd
    held.add(this)
    if (held.size === 1 && !exitHook) { exitHook = true; process.once('exit', releaseAll) }
    this.#timer = setInterval(() => { this.#refresh() }, kLockRefreshMs)
    this.#timer.unref()
  }

  /**
   * Takes the lock of `dir`, taking over a stale one (`said` is told how it was taken over).
   * Throws a ConfigError naming the directory and the holder when another process has it, or
   * when the directory cannot be written.
   */
  static acquire (dir: string, said: (message: string) => void): SpoolLock {
    const path = join(dir, kLockFile)
    const self = me()
    const holder: LockHolder = { ...self, started: new Date().toISOString(), token: randomBytes(8).toString('hex') }
    const text = JSON.stringify(holder) + '\n'
    const unwritable = (err: unknown): ConfigError =>
      new ConfigError(`options.spoolDir ${dir} cannot be written (${message(err)}): minutely keeps its journal and checkpoint there; pass a writable directory`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number
      try {
        fd = openSync(path, 'wx', 0o600)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(err)
        const took = SpoolLock.#takeOver(dir, path, self)
        if (took !== undefined) said(`spool ${dir}: took over the lock of ${took}`)
        continue
      }
      try {
        writeSync(fd, text)
        fsyncSync(fd)
      } catch (err) {
        closeSync(fd)
        try { unlinkSync(path) } catch { /* it is gone */ }
        throw unwritable(err)
      }
      return new SpoolLock(path, holder, fd)
    }
    throw new ConfigError(`options.spoolDir ${dir}: could not take its lock ${path}: other processes keep taking it; give each process its own spool directory`, 'METRICS_ERR_INVALID_OPTION')
  }

  /** Removes a stale lock (throws while it is held); returns who held it, or undefined if it vanished meanwhile. */
  static #takeOver (dir: string, path: string, self: ReturnType<typeof me>): string | undefined {
    let text: string
    let ageMs: number
    try { text = readFileSync(path, 'utf8'); ageMs = Date.now() - statSync(path).mtimeMs } catch { return undefined }
    const h = parseHolder(text)
    let who: string
    if (h === undefined) {
      if (ageMs <= kUnreadableStaleMs) throw new ConfigError(`options.spoolDir ${dir} is being taken by another process (its lock ${path} is being written): give each process its own spool directory`, 'METRICS_ERR_INVALID_OPTION')
      who = `an unreadable lock file, ${Math.round(ageMs / 1000)} s old`
    } else {
      const v = judge(h, ageMs, self)
      if (v.held) {
        if (v.why === 'this process') throw new ConfigError(`options.spoolDir ${dir} is already used by this process (pid ${h.pid}): close() the aggregator that uses it first, or give each one its own spool directory`, 'METRICS_ERR_INVALID_OPTION')
        throw new ConfigError(`options.spoolDir ${dir} is in use by another minutely process: ${describe(h, self)}${v.why === 'running' ? '' : `; ${v.why}`} (lock ${path}). Stop that process first, or give each process its own spool directory`, 'METRICS_ERR_INVALID_OPTION')
      }
      who = `${describe(h, self)}: ${v.why}`
    }
    // Only one process may take over a stale lock: the one that creates the takeover file.
    const gate = join(dir, kTakeoverFile)
    let fd: number
    try {
      fd = openSync(gate, 'wx', 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let gateAge = 0
      try { gateAge = Date.now() - statSync(gate).mtimeMs } catch { return undefined }
      if (gateAge > kUnreadableStaleMs) { try { unlinkSync(gate) } catch { /* another took it */ } return undefined }
      throw new ConfigError(`options.spoolDir ${dir} is being taken over by another process right now (${gate}): give each process its own spool directory`, 'METRICS_ERR_INVALID_OPTION')
    }
    try {
      let now: string
      try { now = readFileSync(path, 'utf8') } catch { return undefined }
      if (now !== text) return undefined   // someone else took it meanwhile: judge again
      unlinkSync(path)
      return who
    } finally {
      closeSync(fd)
      try { unlinkSync(gate) } catch { /* already gone */ }
    }
  }

  /** Calls `f` once if another process takes this lock. */
  onLost (f: (why: string) => void): void { this.#lost = f }

  /** Whether the lock file is still this process's (by its token: inode numbers are reused). */
  #mine (): boolean | 'gone' {
    let text: string
    try { text = readFileSync(this.path, 'utf8') } catch (err) { return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : true }
    return parseHolder(text)?.token === this.holder.token
  }

  #refresh (): void {
    if (this.#released) return
    let mine = this.#mine()
    if (mine === 'gone') mine = this.#recreate()
    if (mine === false) {
      clearInterval(this.#timer)
      this.#timer = undefined
      const h = parseHolder(readOr(() => readFileSync(this.path, 'utf8')) ?? '')
      this.#lost?.(`another process took the spool's lock ${this.path}${h !== undefined ? ` (pid ${h.pid}${h.host !== this.holder.host ? ` on host ${h.host}` : ''})` : ''}`)
      return
    }
    try { const t = new Date(); futimesSync(this.#fd, t, t) } catch { /* the next refresh tries again */ }
  }

  /**
   * The lock file was removed (by hand, or with the directory): no one else holds it, so it is
   * written again. False if another process created one first; true if it is this process's
   * again, or cannot be told now (the directory is gone: the next refresh tries again).
   */
  #recreate (): boolean {
    let fd: number
    try { fd = openSync(this.path, 'wx', 0o600) } catch (err) { return (err as NodeJS.ErrnoException).code !== 'EEXIST' || this.#mine() === true }
    try {
      writeSync(fd, JSON.stringify(this.holder) + '\n')
    } catch {
      closeSync(fd)
      try { unlinkSync(this.path) } catch { /* gone */ }
      return true   // the next refresh tries again
    }
    try { closeSync(this.#fd) } catch { /* closed */ }
    this.#fd = fd
    return true
  }

  /** Removes the lock if it is still this process's. Idempotent. */
  release (): void {
    if (this.#released) return
    this.#released = true
    held.delete(this)
    if (this.#timer !== undefined) clearInterval(this.#timer)
    try { if (this.#mine() === true) unlinkSync(this.path) } catch { /* gone already */ }
    try { closeSync(this.#fd) } catch { /* closed */ }
  }
}

const held = new Set<SpoolLock>()
let exitHook = false
function releaseAll (): void { for (const l of [...held]) l.release() }
