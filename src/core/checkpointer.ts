/**
 * The checkpoint as a snapshot and a log of deltas, so that its cost follows what changed.
 *
 * It remembers what the files on disk hold: per minute map (a "slot": an open minute, a late
 * delta, or a minute being sealed — the same map object as it moves from the store to the
 * sealer), each series' entry id and the histogram's count when it was last written. Every
 * `checkpointIntervalMs` it compares that with the live maps and appends one record: the
 * histograms whose count moved (names only for new entries) and the ids that are gone. The hot
 * path is untouched: a histogram that took samples shows it in its count.
 *
 * Each seal slice appends a record dropping the series it took, in the same synchronous step
 * that journaled their batches (tagged with the slice's number), and the record says that
 * slice is recorded. A crash between the two leaves batches of a slice the checkpoint does not
 * know of: at restore they are removed, and the series come back from the checkpoint, so a
 * crash during a seal duplicates nothing (see Spool.discardSlicesAfter).
 *
 * When the log would outgrow the snapshot, the snapshot is rewritten from the live maps instead
 * and the log starts over; every record names its snapshot, so a log left beside a newer
 * snapshot is never applied to it.
 */
import { randomBytes } from 'node:crypto'
import type { Series } from '../registry/series-registry.js'
import { checkpointVersions, decodeCheckpoint, decodeDelta, encodeCheckpoint, encodeDelta, type Checkpoint, type CheckpointEntry, type DeltaEntry } from '../store/checkpoint.js'
import { Histogram, kPackedLayout } from '../store/histogram.js'
import type { Spool } from '../publish/spool.js'

/** A map of histograms the checkpoint holds: its minute, and what was last written of each series. */
interface Slot { id: number, period: number, late: boolean, m: Map<Series, Written> }
interface Written { id: number, h: Histogram, count: number }

/** One map of live histograms to keep: an open minute, a late delta, or a minute being sealed. */
export interface LiveMap { period: number, late: boolean, histograms: Map<Series, Histogram> }

/** A restored entry: where its histogram lies. */
export interface RestoredEntry { entry: CheckpointEntry, data: Float64Array, off: number }

/** What a checkpoint read back holds, deltas applied. */
export interface Restored {
  checkpoint: Checkpoint
  entries: RestoredEntry[]
  /** Batches of a seal slice the checkpoint had not recorded, removed from the journal. */
  discarded?: { batches: number, datums: number }
}

const entryOf = (s: Series, slot: Slot, id: number): CheckpointEntry & { id: number } =>
  ({ id, slot: slot.id, period: slot.period, late: slot.late, ns: s.namespace, metric: s.metric, unit: s.unit, dims: s.dimensions.map(d => [d.Name, d.Value]) })

export class Checkpointer {
  readonly #spool: Spool
  readonly #precisionBits: number
  readonly #slots = new Map<Map<Series, Histogram>, Slot>()
  #nextId = 0
  #nextSlot = 0
  /** The snapshot on disk the log extends; empty until one is written. */
  #base = ''
  #snapshotBytes = 0
  #logBytes = 0
  /** Bytes this process wrote to the checkpoint and its log (for measurement). */
  bytesWritten = 0

  constructor (spool: Spool, precisionBits: number) {
    this.#spool = spool
    this.#precisionBits = precisionBits
  }

  /**
   * Reads the checkpoint and its deltas. Removes the batches of a seal slice it had not
   * recorded (their series are in it). Undefined when there is none; throws when unreadable.
   */
  read (): Restored | undefined {
    const buf = this.#spool.readCheckpoint()
    if (buf === undefined || buf.length < 8) return undefined
    const c = decodeCheckpoint(buf)
    if (checkpointVersions(c, c.precisionBits)?.readable === false) return { checkpoint: c, entries: [] }   // the caller says why
    const byId = new Map<number, RestoredEntry>()
    const plain: RestoredEntry[] = []
    let off = 0
    for (const entry of c.entries) {
      const r = { entry, data: c.data, off }
      off = Histogram.skipPacked(c.data, off, c.precisionBits)
      if (entry.id === undefined) plain.push(r)
      else byId.set(entry.id, r)
    }
    const mark = c.mark
    if (mark === undefined || c.layout !== kPackedLayout) return { checkpoint: c, entries: [...plain, ...byId.values()] }
    let slice = mark.slice
    for (const body of this.#spool.readCheckpointLog()) {
      const d = decodeDelta(body)
      if (d.base !== mark.base) continue   // a log of an older snapshot
      if (d.layout !== c.layout || d.precisionBits !== c.precisionBits) break
      let o = 0
      for (const e of d.set) {
        const prior = byId.get(e.id)
        const entry = prior !== undefined ? prior.entry : e.metric !== undefined ? e as CheckpointEntry : undefined
        if (entry !== undefined) byId.set(e.id, { entry, data: d.data, off: o })
        o = Histogram.skipPacked(d.data, o, d.precisionBits)
      }
      for (const id of d.drop) byId.delete(id)
      slice = Math.max(slice, d.slice)
    }
    const gone = this.#spool.discardSlicesAfter(mark.run, slice)
    return { checkpoint: c, entries: [...plain, ...byId.values()], ...(gone.batches > 0 ? { discarded: gone } : {}) }
  }

  /**
   * Records what changed since the last write: one delta record, or a new snapshot when the
   * log would outgrow it (or none was written yet, or the last write failed).
   */
  write (live: Iterable<LiveMap>): void {
    const set: DeltaEntry[] = []
    const hs: Histogram[] = []
    const drop: number[] = []
    const seen = new Set<Slot>()
    for (const { period, late, histograms: m } of live) {
      let slot = this.#slots.get(m)
      if (slot === undefined) { slot = { id: this.#nextSlot++, period, late, m: new Map() }; this.#slots.set(m, slot) }
      seen.add(slot)
      const before = slot.m.size
      let matched = 0
      for (const [s, h] of m) {
        if (h.count === 0) continue
        const w = slot.m.get(s)
        if (w === undefined) {
          const id = this.#nextId++
          slot.m.set(s, { id, h, count: h.count })
          set.push(entryOf(s, slot, id)); hs.push(h)
          continue
        }
        matched++
        if (w.h !== h || w.count !== h.count) { w.h = h; w.count = h.count; set.push({ id: w.id }); hs.push(h) }
      }
      if (matched < before) {
        for (const [s, w] of slot.m) {
          const h = m.get(s)
          if (h === undefined || h.count === 0) { drop.push(w.id); slot.m.delete(s) }
        }
      }
    }
    for (const [m, slot] of this.#slots) {
      if (seen.has(slot)) continue
      for (const w of slot.m.values()) drop.push(w.id)
      this.#slots.delete(m)
    }
    // Written even when nothing changed (a record of ~150 bytes), so that a disk gone bad is
    // found, and said, within an interval, as with a rewritten checkpoint.
    this.#record(set, hs, drop)
  }

  /** A seal slice journaled its batches: drop the series it took from `histograms`, and record the slice. */
  sliceJournaled (histograms: Map<Series, Histogram>, sealed: Series[]): void {
    const slot = this.#slots.get(histograms)
    const drop: number[] = []
    if (slot !== undefined) {
      for (const s of sealed) {
        const w = slot.m.get(s)
        if (w !== undefined) { drop.push(w.id); slot.m.delete(s) }
      }
    }
    this.#record([], [], drop)
  }

  /** Rewrites the snapshot from what is remembered (the live histograms), and starts the log over. */
  snapshot (): void {
    const entries: CheckpointEntry[] = []
    const hs: Histogram[] = []
    let samples = 0
    for (const slot of this.#slots.values()) {
      for (const [s, w] of slot.m) { entries.push(entryOf(s, slot, w.id)); hs.push(w.h); w.count = w.h.count; samples += w.h.count }
    }
    const base = randomBytes(6).toString('hex')
    const buf = encodeCheckpoint(this.#precisionBits, entries, hs, { run: this.#spool.run, slice: this.#spool.lastSlice, base })
    this.bytesWritten += buf.length
    if (this.#spool.writeCheckpoint(buf, { aggregates: entries.length, samples })) {
      this.#base = base
      this.#snapshotBytes = buf.length
      this.#logBytes = 0
    } else {
      this.#base = ''
    }
  }

  /** Forgets every map (after close: everything is sealed) and writes the empty snapshot. */
  clear (): void {
    this.#slots.clear()
    this.snapshot()
  }

  #record (set: DeltaEntry[], hs: Histogram[], drop: number[]): void {
    if (this.#base === '') { this.snapshot(); return }
    const buf = encodeDelta(this.#precisionBits, this.#base, this.#spool.lastSlice, set, hs, drop)
    if (this.#logBytes + buf.length > this.#snapshotBytes) { this.snapshot(); return }
    let samples = 0
    for (const h of hs) samples += h.count
    this.bytesWritten += buf.length
    if (this.#spool.appendCheckpointLog(buf, { aggregates: set.length, samples })) this.#logBytes += buf.length
    else this.#base = ''   // what is on disk is unknown now: the next write is a snapshot
  }
}
