/**
 * The disk spool: a write-ahead journal of sealed batches and a checkpoint of open minutes.
 *
 * - Every sealed batch is written (and fsync'd, file and directory) before it is sent, and
 *   removed once the sink accepted it. A batch that was being sent when the process died is
 *   sent again at the next start: publishing is at-least-once, and the duplicate window is
 *   one request that CloudWatch took but whose answer never arrived.
 * - While the publish queue is over its memory budget, batches stay on disk only and are
 *   read back in order as the queue drains: an outage costs disk, not memory.
 * - Past `maxBytes`, the oldest batches are dropped, counted and reported with the amount.
 * - `checkpoint` holds the open minutes' aggregates as of its last full rewrite (atomic
 *   rename), and `checkpoint.log` the deltas since, appended every second or so and at every
 *   seal slice, so a SIGKILL loses at most the samples since the last one. Batches a seal
 *   slice journals are tagged with the slice's number; a slice the checkpoint has not recorded
 *   yet when the process dies is superseded by it (see {@link Spool.discardSlicesAfter}).
 *
 * The directory has one owner at a time (see spool-lock.ts). minutely creates it 0700 when it
 * is missing and never changes the mode of one that exists: a directory others can read or
 * write, or that another user owns, is refused. Files are written 0600, never through a
 * symlink. Batch files are named `<generation>-<run>-<seq>.batch` (the generation one past
 * the newest found at start, the run random), so two runs never write the same name, and are
 * replayed oldest generation first.
 *
 * Every file is wrapped in an envelope with checksums and the counts it holds (see
 * spool-record.ts): only files minutely wrote are replayed (others are left alone and
 * mentioned once); a damaged, cut-short or empty one is reported with what was lost, counted
 * (`spoolCorrupt*`) and never sent. A write that fails is reported at once, at error level
 * (code `METRICS_ERR_SPOOL`), and the spool counts as failing (`spoolFailure`, which health
 * reports) until the same kind of write succeeds again.
 */
import { closeSync, constants, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { DatumBatch } from '../encode/datum.js'
import { ConfigError } from '../errors.js'
import { checkBody, decodeHeader, encodeHeader, kRecordHeaderBytes, type RecordHeader } from './spool-record.js'
import { kLockFile, kTakeoverFile, SpoolLock } from './spool-lock.js'
import type { Warner } from '../core/warn.js'

export interface SpoolStats {
  spoolBatches: number
  spoolBytes: number
  /** Age of the oldest spooled batch in ms (0 when empty). */
  spoolOldestAgeMs: number
  spoolDroppedDatums: number
  spoolWriteErrors: number
  /** Spool files found damaged, cut short or empty (batches and checkpoints): reported, never sent. */
  spoolCorruptFiles: number
  /**
   * Datums those batch files held, as their headers tell (a file whose header is unreadable
   * adds to the files only). Apart from `datumsDropped`, which counts what the queue and the
   * spool's cap dropped.
   */
  spoolCorruptDatums: number
  /** Samples those files (batches and checkpoints) held, as their headers tell. */
  spoolCorruptSamples: number
  /**
   * Set while the spool cannot protect the data: why (a write failing, the lock taken by
   * another process). Cleared when the failing kind of write succeeds again.
   */
  spoolFailure: string | null
  /** When that began (clock ms), 0 when not failing. */
  spoolFailureSince: number
}

/** The stats of an engine without a spool. */
export function noSpoolStats (): SpoolStats {
  return { spoolBatches: 0, spoolBytes: 0, spoolOldestAgeMs: 0, spoolDroppedDatums: 0, spoolWriteErrors: 0, spoolCorruptFiles: 0, spoolCorruptDatums: 0, spoolCorruptSamples: 0, spoolFailure: null, spoolFailureSince: 0 }
}

export interface SpoolOptions {
  dir: string
  maxBytes: number
  now: () => number
  /** Where the spool says what happened: the engine's rate-limited warnings. */
  warner: Pick<Warner, 'warn'>
  /**
   * Writes a new file durably (created 0600, never through a symlink, fsync'd). Tests put a
   * failing disk here; the default is the real one.
   */
  writeFile?: (path: string, chunks: readonly Uint8Array[]) => void
  /** Appends to a file durably (created 0600, never through a symlink, fsync'd); like `writeFile`. */
  appendFile?: (path: string, chunks: readonly Uint8Array[]) => void
}

interface Entry { id: number, name: string, bytes: number, datums: number, samples: number, at: number }

const kBatchName = /^(\d{1,15})-([0-9a-f]{8})-(\d{1,15})\.batch$/
const kCheckpoint = 'checkpoint'
const kCheckpointTmp = 'checkpoint.tmp'
const kCheckpointLog = 'checkpoint.log'
const kNoFollow = constants.O_NOFOLLOW ?? 0
/**
 * MNLY_KILL_AFTER_JOURNALED_BATCHES=n: the process SIGKILLs itself right after journaling its
 * n-th batch, so that a crash at that exact point can be reproduced (inert unless set).
 */
const kKillAfterBatches = Number(process.env.MNLY_KILL_AFTER_JOURNALED_BATCHES ?? '0') || 0
let batchesJournaled = 0

/** Writes `chunks` to `path` and fsyncs it: appended, or as the file's whole new content. */
function writeChunksDurable (path: string, chunks: readonly Uint8Array[], mode: 'append' | 'replace'): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | (mode === 'append' ? constants.O_APPEND : constants.O_TRUNC) | kNoFollow
  const fd = openSync(path, flags, 0o600)
  try {
    for (const c of chunks) {
      let off = 0
      while (off < c.length) off += writeSync(fd, c, off, c.length - off)
    }
    fdatasyncSync(fd)
  } finally { closeSync(fd) }
}

function appendDurable (path: string, chunks: readonly Uint8Array[]): void { writeChunksDurable(path, chunks, 'append') }

function writeDurable (path: string, chunks: readonly Uint8Array[]): void { writeChunksDurable(path, chunks, 'replace') }

/** Makes a rename in `dir` durable (a new file's name lives in its directory). */
function syncDir (dir: string): void {
  let fd: number
  try { fd = openSync(dir, 'r') } catch { return }
  try { fsyncSync(fd) } catch { /* some filesystems cannot fsync a directory; the rename stands */ } finally { closeSync(fd) }
}

function errText (err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e.code !== undefined ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(err)
}

const n = (x: number): string => x.toLocaleString('en-US')

/** Why a plain mkdir of `dir` fails (undefined if it does not, or the directory exists after all). */
function plainMkdirError (dir: string): unknown {
  try { mkdirSync(dir, { mode: 0o700 }); rmdirSync(dir) } catch (err) { return (err as NodeJS.ErrnoException).code === 'EEXIST' ? undefined : err }
  return undefined
}

/** Creates the directory 0700 if it is missing; else checks it is a directory of this user that no one else may read. */
function prepareDir (dir: string): void {
  const bad = (why: string, cause?: unknown): ConfigError => new ConfigError(`options.spoolDir ${dir} ${why}`, 'METRICS_ERR_INVALID_OPTION', cause !== undefined ? { cause } : undefined)
  let created: string | undefined
  try {
    created = mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (first) {
    // A recursive mkdir says ENOENT where the disk is read-only (Node 20-24); a plain one says why.
    const err = (first as NodeJS.ErrnoException).code === 'ENOENT' ? plainMkdirError(dir) ?? first : first
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      let isDir = false
      try { isDir = statSync(dir).isDirectory() } catch { /* a path through a file */ }
      if (!isDir) throw bad(`is not a directory (${errText(err)}): pass the path of a directory, or of one to create`, err)
    }
    throw bad(`cannot be created (${errText(err)}): pass a writable path`, err)
  }
  if (created !== undefined) {
    chmodSync(dir, 0o700)   // exactly 0700 whatever the umask: minutely made it
    return
  }
  const st = statSync(dir)
  if (!st.isDirectory()) throw bad('is not a directory: pass the path of a directory, or of one to create')
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined
  if (uid !== undefined && st.uid !== uid) {
    throw bad(`is owned by uid ${st.uid}, not by this process's uid ${uid}: that user could read or replace the spool's files. chown it, or pass a path that does not exist yet (minutely creates it owner-only, 0700)`)
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
    throw bad(`can be read or written by others (mode ${mode}): minutely keeps metric data there and does not change the mode of a directory it did not create. chmod 700 ${dir}, or pass a path that does not exist yet (minutely creates it owner-only, 0700), e.g. ${join(dir, 'minutely-spool')}`)
  }
}

export class Spool {
  readonly dir: string
  readonly maxBytes: number
  readonly stats: SpoolStats = noSpoolStats()
  readonly #entries: Entry[] = []
  #nextId = 0
  #seq = 0
  readonly #gen: number
  /** This process's run: part of every batch name it writes. */
  readonly run = randomBytes(4).toString('hex')
  /** The seal slice being journaled (-1: none), and the last one begun. */
  #slice = -1
  #lastSlice = -1
  #logCreated = false
  readonly #now: () => number
  readonly #warner: Pick<Warner, 'warn'>
  readonly #writeFile: (path: string, chunks: readonly Uint8Array[]) => void
  readonly #appendFile: (path: string, chunks: readonly Uint8Array[]) => void
  readonly #lock: SpoolLock
  /** Why each kind of write fails now, if it does. */
  readonly #failing: { batch: string | null, checkpoint: string | null } = { batch: null, checkpoint: null }
  #failedWrites = 0
  #lost: string | null = null

  constructor (o: SpoolOptions) {
    this.dir = o.dir
    this.maxBytes = o.maxBytes
    this.#now = o.now
    this.#warner = o.warner
    this.#writeFile = o.writeFile ?? writeDurable
    this.#appendFile = o.appendFile ?? appendDurable
    prepareDir(o.dir)
    this.#lock = SpoolLock.acquire(o.dir, m => { this.#warner.warn('spool-lock', 'METRICS_ERR_SINK', m) })
    try {
      this.#gen = this.#scan()
    } catch (err) {
      this.#lock.release()
      throw new ConfigError(`options.spoolDir ${o.dir} cannot be read (${errText(err)})`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
    }
    this.#lock.onLost(why => {
      this.#lost = `${why}: this process no longer writes to the spool ${this.dir}: sealed minutes are kept in memory only and open minutes are not checkpointed (a crash now loses them); make sure only one process uses it`
      this.#fail()
      this.#warner.warn('spool-lock-lost', 'METRICS_ERR_SPOOL', this.#lost)
    })
    this.#recount()
  }

  /** Reads the directory: adopts this spool's batch files (checked), reports the rest; returns this run's generation. */
  #scan (): number {
    const foreign: string[] = []
    const found: Array<{ gen: number, run: string, seq: number, name: string }> = []
    const damaged: Array<{ name: string, why: string, h?: RecordHeader }> = []
    for (const name of readdirSync(this.dir)) {
      if (name === kLockFile || name === kTakeoverFile || name === kCheckpoint || name === kCheckpointLog) continue
      if (name === kCheckpointTmp) { this.#unlink(name); continue }   // an interrupted rewrite: the checkpoint before it stands
      const tmp = name.endsWith('.tmp') ? kBatchName.exec(name.slice(0, -4)) : null
      if (tmp !== null) {
        // Written but not yet renamed when the process died: never sent (sending follows the
        // rename). Complete and intact, it is kept; else it is reported lost.
        const final = name.slice(0, -4)
        const r = this.#readRecord(name, 'B')
        if (typeof r === 'object' && r.body !== undefined) { renameSync(join(this.dir, name), join(this.dir, final)); found.push({ gen: Number(tmp[1]), run: tmp[2], seq: Number(tmp[3]), name: final }) } else { damaged.push({ name, why: typeof r === 'string' ? r : r.why, h: typeof r === 'object' ? r.h : undefined }); this.#unlink(name) }
        continue
      }
      const m = kBatchName.exec(name)
      if (m === null) { foreign.push(name); continue }
      found.push({ gen: Number(m[1]), run: m[2], seq: Number(m[3]), name })
    }
    found.sort((a, b) => a.gen - b.gen || (a.run < b.run ? -1 : a.run > b.run ? 1 : 0) || a.seq - b.seq)
    let gen = 0
    for (const f of found) {
      gen = Math.max(gen, f.gen)
      let h: RecordHeader | { h?: RecordHeader, why: string }
      try { h = this.#readHeader(f.name) } catch (err) { h = { why: `it cannot be read (${errText(err)})` } }
      if ('why' in h) { damaged.push({ name: f.name, why: h.why, h: h.h?.kind === 'B' ? h.h : undefined }); this.#unlink(f.name); continue }
      if (h.kind !== 'B') { damaged.push({ name: f.name, why: 'it is not a batch' }); this.#unlink(f.name); continue }
      this.#entries.push({ id: this.#nextId++, name: f.name, bytes: kRecordHeaderBytes + h.bodyLength, datums: h.items, samples: h.samples, at: h.writtenAt })
    }
    if (damaged.length > 0) this.#reportDamaged('journaled batch', damaged)
    if (foreign.length > 0) {
      const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ` and ${foreign.length - 5} more` : '')
      this.#warner.warn('spool-foreign', 'METRICS_ERR_INVALID_OPTION', `spool ${this.dir}: ${foreign.length} file${foreign.length > 1 ? 's' : ''} minutely did not write ${foreign.length > 1 ? 'are' : 'is'} left alone (not replayed, not counted in the spool's size): ${shown}`)
    }
    return gen + 1
  }

  /** The header of a file, checked against the file's size; or why it is damaged (with the header when it is readable). */
  #readHeader (name: string): RecordHeader | { h?: RecordHeader, why: string } {
    const path = join(this.dir, name)
    const fd = openSync(path, constants.O_RDONLY | kNoFollow)
    try {
      const size = statSync(path).size
      const buf = new Uint8Array(Math.min(size, kRecordHeaderBytes))
      let off = 0
      while (off < buf.length) { const r = readSync(fd, buf, off, buf.length - off, off); if (r === 0) break; off += r }
      const h = decodeHeader(buf.subarray(0, off))
      if (typeof h === 'string') return { why: h }
      if (size - kRecordHeaderBytes !== h.bodyLength) return { h, why: `it is cut short or overwritten (${size - kRecordHeaderBytes} of ${h.bodyLength} body bytes)` }
      return h
    } finally { closeSync(fd) }
  }

  /** A whole record, checked: its body, or why it is damaged (with its header when that much is readable). */
  #readRecord (name: string, kind: 'B' | 'C'): { h: RecordHeader, body: Uint8Array, why?: undefined } | { h?: RecordHeader, body?: undefined, why: string } | 'missing' {
    let buf: Uint8Array
    try {
      const fd = openSync(join(this.dir, name), constants.O_RDONLY | kNoFollow)
      try { buf = readFileSync(fd) } finally { closeSync(fd) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      return { why: `it cannot be read (${errText(err)})` }
    }
    const h = decodeHeader(buf)
    if (typeof h === 'string') return { why: h }
    if (h.kind !== kind) return { h, why: `it is not a ${kind === 'B' ? 'batch' : 'checkpoint'}` }
    const body = buf.subarray(kRecordHeaderBytes)
    const why = checkBody(h, body)
    return why !== undefined ? { h, why } : { h, body }
  }

  /** Counts and reports damaged files (`what`: journaled batch, checkpoint). */
  #reportDamaged (what: string, files: ReadonlyArray<{ name: string, why: string, h?: RecordHeader }>): void {
    let datums = 0; let samples = 0; let unknown = 0
    for (const f of files) {
      this.stats.spoolCorruptFiles++
      if (f.h === undefined) { unknown++; continue }
      samples += f.h.samples
      if (f.h.kind === 'B') datums += f.h.items
    }
    this.stats.spoolCorruptDatums += datums
    this.stats.spoolCorruptSamples += samples
    const known = files.length - unknown
    const lost = what === 'checkpoint'
      ? (known > 0 ? `${n(files[0].h!.items)} open aggregates (${n(samples)} samples) of the previous run are lost` : 'the open minutes of the previous run are lost (how many is unknown)')
      : `${known > 0 ? `${n(datums)} datums (${n(samples)} samples) are lost` : ''}${known > 0 && unknown > 0 ? ', and ' : ''}${unknown > 0 ? `${unknown} file${unknown > 1 ? 's' : ''} whose header is unreadable (contents unknown)` : ''}`
    const list = files.slice(0, 3).map(f => `${f.name}: ${f.why}`).join('; ') + (files.length > 3 ? `; and ${files.length - 3} more` : '')
    const totals = `${n(this.stats.spoolCorruptFiles)} damaged files so far, ${n(this.stats.spoolCorruptDatums)} datums and ${n(this.stats.spoolCorruptSamples)} samples lost in all`
    this.#warner.warn('spool-corrupt', 'METRICS_ERR_SPOOL', `spool ${this.dir}: ${files.length > 1 ? `${files.length} ${what}s are` : `${what} is`} damaged and not ${what === 'checkpoint' ? 'restored' : 'sent'}: ${lost} (${list}) [${totals}]`)
  }

  #unlink (name: string): void {
    try { unlinkSync(join(this.dir, name)) } catch { /* already gone */ }
  }

  #recount (): void {
    this.stats.spoolBatches = this.#entries.length
    this.stats.spoolBytes = this.#entries.reduce((a, e) => a + e.bytes, 0)
    this.stats.spoolOldestAgeMs = this.#entries.length > 0 ? Math.max(0, this.#now() - this.#entries[0].at) : 0
  }

  /** A write of `kind` failed (or the lock was lost): counted, reported at once, and the spool is failing. */
  #writeFailed (kind: 'batch' | 'checkpoint', err: unknown): void {
    this.stats.spoolWriteErrors++
    this.#failedWrites++
    const why = errText(err)
    const first = this.#failing[kind] === null
    this.#failing[kind] = why
    this.#fail()
    const cost = kind === 'batch'
      ? 'sealed minutes are kept in memory only (lost if the process dies, dropped past options.maxQueuedBytes)'
      : 'open minutes are not checkpointed (a crash loses them)'
    this.#warner.warn(`spool-write-${kind}`, 'METRICS_ERR_SPOOL', `spool ${this.dir} cannot be written${first ? '' : ' still'} (${why}, writing ${kind === 'batch' ? 'a batch' : 'the checkpoint'}): ${cost}; free space or fix that disk: each write tries again`)
  }

  #wrote (kind: 'batch' | 'checkpoint'): void {
    if (this.#failing[kind] === null) return
    this.#failing[kind] = null
    const since = this.stats.spoolFailureSince
    this.#fail()
    if (this.stats.spoolFailure === null) {
      this.#warner.warn('spool-writable', 'METRICS_ERR_SINK', `spool ${this.dir} is writable again (${n(this.#failedWrites)} writes failed since ${new Date(since).toISOString()})`)
      this.#failedWrites = 0
    }
  }

  /** Sets `spoolFailure` from what fails now. */
  #fail (): void {
    const b = this.#failing.batch
    const c = this.#failing.checkpoint
    const why = this.#lost ?? (b === null && c === null
      ? null
      : `the spool ${this.dir} cannot be written (${b ?? c ?? ''}): ${b !== null ? `sealed minutes are kept in memory only${c !== null ? ' and open minutes are not checkpointed' : ''}` : 'open minutes are not checkpointed'} (a crash now loses them)`)
    if (why !== null && this.stats.spoolFailure === null) this.stats.spoolFailureSince = this.#now()
    if (why === null) this.stats.spoolFailureSince = 0
    this.stats.spoolFailure = why
  }

  /** Writes `chunks` as `name` (through a temporary file and a rename, so a torn write never has the final name). */
  #put (name: string, chunks: readonly Uint8Array[]): void {
    const tmp = join(this.dir, name + '.tmp')
    try {
      this.#writeFile(tmp, chunks)
      renameSync(tmp, join(this.dir, name))
    } catch (err) {
      try { unlinkSync(tmp) } catch { /* nothing was written */ }
      throw err
    }
    syncDir(this.dir)
  }

  /** Journal ids of the spooled batches, oldest first. */
  ids (): number[] { return this.#entries.map(e => e.id) }

  /**
   * Journals a batch; returns its id, or -1 when it could not be written (disk full…): the
   * batch then lives in memory only, and the failure is counted and reported.
   */
  append (batch: DatumBatch): number {
    if (this.#lost !== null) return -1
    const body = Buffer.from(JSON.stringify({ namespace: batch.namespace, bytes: batch.bytes, datums: batch.datums.map(d => ({ ...d, Timestamp: d.Timestamp.getTime() })), ...(this.#slice >= 0 ? { slice: this.#slice } : {}) }))
    let samples = 0
    for (const d of batch.datums) samples += d.StatisticValues.SampleCount
    const at = this.#now()
    const name = `${this.#gen}-${this.run}-${this.#seq++}.batch`
    try {
      this.#put(name, [encodeHeader('B', body, batch.datums.length, samples, at), body])
    } catch (err) {
      this.#writeFailed('batch', err)
      return -1
    }
    this.#wrote('batch')
    if (kKillAfterBatches > 0 && ++batchesJournaled === kKillAfterBatches) process.kill(process.pid, 'SIGKILL')
    const id = this.#nextId++
    this.#entries.push({ id, name, bytes: kRecordHeaderBytes + body.length, datums: batch.datums.length, samples, at })
    this.#recount()
    return id
  }

  /** Drops the oldest batches until the spool fits `maxBytes`; returns what was dropped. */
  enforceCap (): { batches: number, datums: number, ids: number[] } {
    const out = { batches: 0, datums: 0, ids: [] as number[] }
    while (this.stats.spoolBytes > this.maxBytes && this.#entries.length > 1) {
      const e = this.#entries[0]
      this.remove(e.id)
      out.batches++; out.datums += e.datums; out.ids.push(e.id)
    }
    this.stats.spoolDroppedDatums += out.datums
    return out
  }

  /**
   * Reads a spooled batch back, checked. A damaged or missing one is reported with what it
   * held, counted, removed, and never returned.
   */
  load (id: number): DatumBatch | undefined {
    const e = this.#entries.find(x => x.id === id)
    if (e === undefined) return undefined
    const r = this.#readRecord(e.name, 'B')
    let why: string
    let h: RecordHeader | undefined
    if (r === 'missing') { why = 'it was removed by something else'; h = undefined } else if (r.body !== undefined) {
      try {
        const o = JSON.parse(Buffer.from(r.body).toString('utf8')) as { namespace: string, bytes: number, datums: Array<Record<string, unknown> & { Timestamp: number }> }
        return { namespace: o.namespace, bytes: o.bytes, datums: o.datums.map(d => ({ ...d, Timestamp: new Date(d.Timestamp) })) as unknown as DatumBatch['datums'] }
      } catch (err) {
        why = `its body is not a batch (${(err as Error).message})`; h = r.h
      }
    } else { why = r.why; h = r.h }
    // What the journal knew when it wrote or adopted the file stands in for an unreadable header.
    this.#reportDamaged('journaled batch', [{ name: e.name, why, h: h ?? { kind: 'B', bodyLength: e.bytes - kRecordHeaderBytes, items: e.datums, samples: e.samples, writtenAt: e.at, bodyCrc: 0 } }])
    this.remove(id)
    return undefined
  }

  remove (id: number): void {
    const i = this.#entries.findIndex(e => e.id === id)
    if (i < 0) return
    const [e] = this.#entries.splice(i, 1)
    this.#unlink(e.name)
    this.#recount()
  }

  refreshAge (): void { this.#recount() }

  /**
   * Replaces the checkpoint atomically (write to a temporary file, fsync, rename), in its
   * envelope with `counts` (what it holds, said if it is found damaged).
   */
  writeCheckpoint (data: Uint8Array, counts: { aggregates: number, samples: number }): boolean {
    if (this.#lost !== null) return false
    try {
      this.#put(kCheckpoint, [encodeHeader('C', data, counts.aggregates, counts.samples, this.#now()), data])
      // The deltas appended so far extend the snapshot just replaced (their records name it, so
      // a log left by a crash before this unlink is never applied to the new one).
      if (this.#logCreated) { unlinkSync(join(this.dir, kCheckpointLog)); this.#logCreated = false }
    } catch (err) {
      this.#writeFailed('checkpoint', err)
      return false
    }
    this.#wrote('checkpoint')
    return true
  }

  /** Appends a delta record to the checkpoint's log (fsync'd), in its envelope with `counts`. */
  appendCheckpointLog (data: Uint8Array, counts: { aggregates: number, samples: number }): boolean {
    if (this.#lost !== null) return false
    try {
      this.#appendFile(join(this.dir, kCheckpointLog), [encodeHeader('L', data, counts.aggregates, counts.samples, this.#now()), data])
      this.#logCreated = true
    } catch (err) {
      this.#writeFailed('checkpoint', err)
      return false
    }
    this.#wrote('checkpoint')
    return true
  }

  /**
   * The bodies of the checkpoint log's records, in order, up to the first damaged one (a record
   * cut short by a crash while it was appended: reported, counted, and it and what follows are
   * not applied).
   */
  readCheckpointLog (): Uint8Array[] {
    let buf: Uint8Array
    try {
      const fd = openSync(join(this.dir, kCheckpointLog), constants.O_RDONLY | kNoFollow)
      try { buf = readFileSync(fd) } finally { closeSync(fd) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#reportDamaged('checkpoint', [{ name: kCheckpointLog, why: `it cannot be read (${errText(err)})` }])
      return []
    }
    this.#logCreated = true
    const out: Uint8Array[] = []
    let off = 0
    while (off < buf.length) {
      const h = decodeHeader(buf.subarray(off))
      const why = typeof h === 'string' ? h : h.kind !== 'L' ? 'it is not a checkpoint log record' : checkBody(h, buf.subarray(off + kRecordHeaderBytes, Math.min(buf.length, off + kRecordHeaderBytes + h.bodyLength)))
      if (why !== undefined || typeof h === 'string') {
        this.#reportDamaged('checkpoint', [{ name: `${kCheckpointLog} (record at byte ${off})`, why: why ?? '', h: typeof h === 'string' ? undefined : h }])
        break
      }
      out.push(buf.subarray(off + kRecordHeaderBytes, off + kRecordHeaderBytes + h.bodyLength))
      off += kRecordHeaderBytes + h.bodyLength
    }
    return out
  }

  /** Tags the batches journaled until {@link endSlice} with a new seal slice number; returns it. */
  beginSlice (): number { this.#slice = ++this.#lastSlice; return this.#slice }
  endSlice (): void { this.#slice = -1 }
  /** The last seal slice begun (-1: none yet). */
  get lastSlice (): number { return this.#lastSlice }

  /**
   * Removes the batches of run `run` tagged with a seal slice after `slice`: journaled by a seal
   * slice that the checkpoint read at start had not recorded when that run died, so that the
   * checkpoint still holds their series (restored and sealed again). Returns what was removed.
   */
  discardSlicesAfter (run: string, slice: number): { batches: number, datums: number } {
    const out = { batches: 0, datums: 0 }
    for (const e of [...this.#entries]) {
      const m = kBatchName.exec(e.name)
      if (m === null || m[2] !== run) continue
      const r = this.#readRecord(e.name, 'B')
      if (typeof r !== 'object' || r.body === undefined) continue   // damaged: load() reports it
      let tag: unknown
      try { tag = (JSON.parse(Buffer.from(r.body).toString('utf8')) as { slice?: unknown }).slice } catch { continue }
      if (typeof tag !== 'number' || tag <= slice) continue
      this.remove(e.id)
      out.batches++; out.datums += e.datums
    }
    return out
  }

  /** The checkpoint's body, checked; undefined when there is none, or it is damaged (reported, counted, removed). */
  readCheckpoint (): Uint8Array | undefined {
    const r = this.#readRecord(kCheckpoint, 'C')
    if (r === 'missing') return undefined
    if (r.body !== undefined) return r.body
    this.#reportDamaged('checkpoint', [{ name: kCheckpoint, why: r.why, h: r.h }])
    this.#unlink(kCheckpoint)
    return undefined
  }

  /** Releases the directory's lock (after close: nothing is written any more). Idempotent. */
  release (): void { this.#lock.release() }
}
