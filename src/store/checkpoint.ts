/**
 * The checkpoint's file format: the open minutes' histograms (and late deltas), rewritten
 * every `checkpointIntervalMs` so that a SIGKILL loses at most the samples since the last one.
 * Layout: a u32 (little-endian) header length, the JSON header padded to 8 bytes, then the
 * histograms packed as float64, in the header's entry order.
 *
 * Versions, so that a checkpoint left by another release says what it is instead of being
 * misread: `v` is this file's format, `layout` the packed histograms' ({@link kPackedLayout}),
 * `p` their precision. Format 1 had no `layout` (its histograms are layout 1).
 *
 * Format 3 is a snapshot followed by a log of deltas (see core/checkpointer.ts): each entry
 * has an `id` (and the `slot`, the minute or late delta, it belongs to), so that a delta can
 * replace an entry's histogram or drop it; `base` names the snapshot the deltas apply to;
 * `run` and `slice` say which journaled batches the checkpoint already left out: those of run
 * `run` tagged with a seal slice up to `slice` (a later slice's batches were journaled by a
 * seal the checkpoint had not yet recorded, and are superseded by it). A delta record has the
 * same layout as a snapshot, with `set` (entries, names only for new ids) and `drop` (ids).
 * Formats 1 and 2 have no ids and no deltas.
 */
import { Histogram, kPackedLayout, relativeErrorBound } from './histogram.js'

/** What the checkpoint says of one histogram: its minute and its series. */
export interface CheckpointEntry {
  period: number
  late: boolean
  ns: string
  metric: string
  unit: string
  dims: Array<[string, string]>
  /** Format 3: the entry's id, which deltas refer to. */
  id?: number
  /** Format 3: the minute (or late delta) map it belongs to. */
  slot?: number
}

/** Which journaled batches a format-3 checkpoint already left out, and the snapshot its deltas extend. */
export interface CheckpointMark {
  /** The spool run that wrote it. */
  run: string
  /** The last seal slice of that run recorded as journaled (-1: none). */
  slice: number
  /** The snapshot's id. */
  base: string
}

interface Header extends Partial<CheckpointMark> {
  v: number
  layout?: number
  p: number
  entries: CheckpointEntry[]
}

/** One entry of a delta: a new one carries its names; a changed one its id only. */
export type DeltaEntry = { id: number } & Partial<CheckpointEntry>

interface DeltaHeader {
  v: number
  layout: number
  p: number
  base: string
  slice: number
  set: DeltaEntry[]
  drop: number[]
}

/** A delta record as read back. */
export interface CheckpointDelta {
  format: number
  layout: number
  precisionBits: number
  base: string
  slice: number
  set: DeltaEntry[]
  drop: number[]
  /** The packed histograms, one per `set` entry, in order. */
  data: Float64Array
}

/** A checkpoint as read back. */
export interface Checkpoint {
  /** Format 3: which journaled batches it left out, and its deltas' base. */
  mark?: CheckpointMark
  /** The file format it was written in. */
  format: number
  /** The packed histograms' layout version. */
  layout: number
  /** The precision its histograms were packed at. */
  precisionBits: number
  entries: CheckpointEntry[]
  /** The packed histograms, one per entry, in order. */
  data: Float64Array
}

/** The format this version writes; it reads this one and formats 1 and 2. */
export const kCheckpointFormat = 3

/**
 * The checkpoint of these histograms, each described by its entry, in format {@link kCheckpointFormat}
 * (`mark`: see {@link CheckpointMark}).
 */
export function encodeCheckpoint (precisionBits: number, entries: CheckpointEntry[], histograms: Histogram[], mark?: CheckpointMark): Uint8Array {
  return pack({ v: kCheckpointFormat, layout: kPackedLayout, p: precisionBits, ...mark, entries } satisfies Header, histograms)
}

/** A delta record extending the snapshot `base`: `set` replaces or adds entries (one histogram each), `drop` removes ids. */
export function encodeDelta (precisionBits: number, base: string, slice: number, set: DeltaEntry[], histograms: Histogram[], drop: number[]): Uint8Array {
  return pack({ v: kCheckpointFormat, layout: kPackedLayout, p: precisionBits, base, slice, set, drop } satisfies DeltaHeader, histograms)
}

/** Reads a delta record; throws when it cannot be parsed. */
export function decodeDelta (buf: Uint8Array): CheckpointDelta {
  const { header, data } = unpack<DeltaHeader>(buf)
  return { format: header.v, layout: header.layout, precisionBits: header.p, base: header.base, slice: header.slice, set: header.set, drop: header.drop, data }
}

function unpack<H> (buf: Uint8Array): { header: H, data: Float64Array } {
  const copy = new Uint8Array(buf)   // aligned copy for the Float64Array view
  const len = new DataView(copy.buffer).getUint32(0, true)
  const header = JSON.parse(Buffer.from(copy.subarray(8, 8 + len)).toString('utf8')) as H
  const headLen = 8 + Math.ceil(len / 8) * 8
  return { header, data: new Float64Array(copy.buffer, headLen, (copy.length - headLen) / 8) }
}

function pack (head: object, histograms: Histogram[]): Uint8Array {
  const header = Buffer.from(JSON.stringify(head))
  const headLen = 8 + Math.ceil(header.length / 8) * 8
  let n = 0
  for (const h of histograms) n += h.packedLength()
  const out = new Uint8Array(headLen + n * 8)
  new DataView(out.buffer).setUint32(0, header.length, true)
  out.set(header, 8)
  const data = new Float64Array(out.buffer, headLen, n)
  let off = 0
  for (const h of histograms) off = h.packInto(data, off)
  return out
}

/** Reads a checkpoint's header and data; throws when it cannot be parsed at all. */
export function decodeCheckpoint (buf: Uint8Array): Checkpoint {
  const { header, data } = unpack<Header>(buf)
  const mark = header.v === 3 && typeof header.run === 'string' && typeof header.slice === 'number' && typeof header.base === 'string'
    ? { run: header.run, slice: header.slice, base: header.base }
    : undefined
  return {
    format: header.v,
    layout: header.v === 1 ? 1 : header.layout ?? NaN,
    precisionBits: header.p,
    entries: header.entries,
    data,
    ...(mark !== undefined ? { mark } : {}),
  }
}

/**
 * What to make of a checkpoint written by another version or at another precision: whether
 * it can be read, and a message naming both versions. Undefined when it is as this version
 * writes it.
 */
export function checkpointVersions (c: Checkpoint, precisionBits: number): { readable: boolean, message: string } | undefined {
  if (c.format !== 1 && c.format !== 2 && c.format !== kCheckpointFormat) {
    return { readable: false, message: `spool checkpoint is in format ${String(c.format)}; this version reads formats 1 to ${kCheckpointFormat}: it is ignored` }
  }
  if (c.layout !== kPackedLayout) {
    return { readable: false, message: `spool checkpoint packs its histograms in layout version ${String(c.layout)}; this version reads layout version ${kPackedLayout}: it is ignored` }
  }
  const notes: string[] = []
  if (c.format !== kCheckpointFormat) notes.push(`is in format ${c.format} (this version writes format ${kCheckpointFormat})`)
  if (c.precisionBits !== precisionBits) {
    // Into a coarser precision a bucket lands whole in one bucket; into a finer one its
    // published value does, which is already off by up to the old bound.
    const bound = relativeErrorBound(precisionBits) + (c.precisionBits < precisionBits ? relativeErrorBound(c.precisionBits) : 0)
    notes.push(`was written with precisionBits ${c.precisionBits} (this aggregator uses ${precisionBits}): its histograms are rebucketed, ` +
      `the exact statistics kept and those minutes' percentiles within ${(100 * bound).toFixed(2)}%`)
  }
  return notes.length === 0 ? undefined : { readable: true, message: `spool checkpoint ${notes.join(', and ')}` }
}

/**
 * Merges the packed histogram at `off` of a checkpoint into `into`, rebucketing it when it
 * was packed at another precision; returns the offset after it.
 */
export function mergeCheckpointed (into: Histogram, data: Float64Array, off: number, precisionBits: number): number {
  if (precisionBits === into.precisionBits) return into.mergePacked(data, off)
  const h = new Histogram(precisionBits)
  const end = h.mergePacked(data, off)
  into.mergeRebucketed(h)
  h.release()
  return end
}
