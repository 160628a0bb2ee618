/**
 * The disk spool: a write-ahead journal of sealed batches and a checkpoint of open minutes.
 *
 * - Every sealed batch is written (and fsync'd) to `<seq>.batch` before it is sent, and
 *   removed once the sink accepted it. A batch that was being sent when the process died is
 *   sent again at the next start: publishing is at-least-once, and the duplicate window is
 *   one request that CloudWatch took but whose answer never arrived.
 * - While the publish queue is over its memory budget, batches stay on disk only and are
 *   read back in order as the queue drains: an outage costs disk, not memory.
 * - Past `maxBytes`, the oldest batches are dropped, counted and reported with the amount.
 * - `checkpoint` holds the open minutes' aggregates, rewritten every second or so (atomic
 *   rename), so a SIGKILL loses at most the samples since the last checkpoint.
 *
 * Files and the directory are created owner-only (0600 / 0700): they hold metric data.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import type { DatumBatch } from '../encode/datum.js'

export interface SpoolStats {
  spoolBatches: number
  spoolBytes: number
  /** Age of the oldest spooled batch in ms (0 when empty). */
  spoolOldestAgeMs: number
  spoolDroppedDatums: number
  spoolWriteErrors: number
}

interface Entry { seq: number, bytes: number, datums: number, at: number }

function writeDurable (path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w', 0o600)
  try {
    if (typeof data === 'string') writeSync(fd, data)
    else writeSync(fd, data, 0, data.length)
    fdatasyncSync(fd)
  } finally { closeSync(fd) }
}

export class Spool {
  readonly dir: string
  readonly maxBytes: number
  readonly stats: SpoolStats = { spoolBatches: 0, spoolBytes: 0, spoolOldestAgeMs: 0, spoolDroppedDatums: 0, spoolWriteErrors: 0 }
  readonly #entries: Entry[] = []
  #seq = 0
  readonly #now: () => number

  constructor (dir: string, maxBytes: number, now: () => number) {
    this.dir = dir
    this.maxBytes = maxBytes
    this.#now = now
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chmodSync(dir, 0o700)
    for (const name of readdirSync(dir)) {
      const m = /^(\d+)\.batch$/.exec(name)
      if (m === null) continue
      const st = statSync(join(dir, name))
      this.#entries.push({ seq: Number(m[1]), bytes: st.size, datums: -1, at: st.mtimeMs })
    }
    this.#entries.sort((a, b) => a.seq - b.seq)
    this.#seq = this.#entries.length > 0 ? this.#entries[this.#entries.length - 1].seq + 1 : 0
    this.#recount()
  }

  #recount (): void {
    this.stats.spoolBatches = this.#entries.length
    this.stats.spoolBytes = this.#entries.reduce((a, e) => a + e.bytes, 0)
    this.stats.spoolOldestAgeMs = this.#entries.length > 0 ? Math.max(0, this.#now() - this.#entries[0].at) : 0
  }

  /** Sequence numbers of the spooled batches, oldest first. */
  ids (): number[] { return this.#entries.map(e => e.seq) }

  /**
   * Journals a batch; returns its id, or -1 when it could not be written (disk full…): the
   * batch then lives in memory only, and the failure is counted.
   */
  append (batch: DatumBatch): number {
    const seq = this.#seq++
    const text = JSON.stringify({ namespace: batch.namespace, bytes: batch.bytes, datums: batch.datums.map(d => ({ ...d, Timestamp: d.Timestamp.getTime() })) })
    try {
      writeDurable(join(this.dir, `${seq}.batch`), text)
    } catch {
      this.stats.spoolWriteErrors++
      try { unlinkSync(join(this.dir, `${seq}.batch`)) } catch { /* nothing was written */ }
      return -1
    }
    this.#entries.push({ seq, bytes: text.length, datums: batch.datums.length, at: this.#now() })
    this.#recount()
    return seq
  }

  /** Drops the oldest batches until the spool fits `maxBytes`; returns what was dropped. */
  enforceCap (): { batches: number, datums: number, ids: number[] } {
    const out = { batches: 0, datums: 0, ids: [] as number[] }
    while (this.stats.spoolBytes > this.maxBytes && this.#entries.length > 1) {
      const e = this.#entries[0]
      const n = e.datums >= 0 ? e.datums : (this.load(e.seq)?.datums.length ?? 0)
      this.remove(e.seq)
      out.batches++; out.datums += n; out.ids.push(e.seq)
    }
    this.stats.spoolDroppedDatums += out.datums
    return out
  }

  /** Reads a spooled batch back; undefined if it is gone or unreadable (counted as dropped by the caller). */
  load (seq: number): DatumBatch | undefined {
    try {
      const o = JSON.parse(readFileSync(join(this.dir, `${seq}.batch`), 'utf8')) as { namespace: string, bytes: number, datums: Array<Record<string, unknown> & { Timestamp: number }> }
      return { namespace: o.namespace, bytes: o.bytes, datums: o.datums.map(d => ({ ...d, Timestamp: new Date(d.Timestamp) })) as unknown as DatumBatch['datums'] }
    } catch { return undefined }
  }

  remove (seq: number): void {
    const i = this.#entries.findIndex(e => e.seq === seq)
    if (i >= 0) this.#entries.splice(i, 1)
    try { unlinkSync(join(this.dir, `${seq}.batch`)) } catch { /* already gone */ }
    this.#recount()
  }

  refreshAge (): void { this.#recount() }

  /** Replaces the checkpoint atomically (write to a temporary file, fsync, rename). */
  writeCheckpoint (data: Uint8Array): boolean {
    const tmp = join(this.dir, 'checkpoint.tmp')
    try {
      writeDurable(tmp, data)
      renameSync(tmp, join(this.dir, 'checkpoint'))
      return true
    } catch {
      this.stats.spoolWriteErrors++
      return false
    }
  }

  readCheckpoint (): Uint8Array | undefined {
    try { return readFileSync(join(this.dir, 'checkpoint')) } catch { return undefined }
  }
}
