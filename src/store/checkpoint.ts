/**
 * The checkpoint's file format: the open minutes' histograms (and late deltas), rewritten
 * every `checkpointIntervalMs` so that a SIGKILL loses at most the samples since the last one.
 * Layout: a u32 (little-endian) header length, the JSON header padded to 8 bytes, then the
 * histograms packed as float64, in the header's entry order.
 */
import type { Histogram } from './histogram.js'

/** What the checkpoint says of one histogram: its minute and its series. */
export interface CheckpointEntry {
  period: number
  late: boolean
  ns: string
  metric: string
  unit: string
  dims: Array<[string, string]>
}

interface Header {
  v: number
  p: number
  entries: CheckpointEntry[]
}

/** A checkpoint as read back. */
export interface Checkpoint {
  /** The format it was written in; only {@link kCheckpointFormat} is read. */
  format: number
  /** The precision its histograms were packed at. */
  precisionBits: number
  entries: CheckpointEntry[]
  /** The packed histograms, one per entry, in order. */
  data: Float64Array
}

/** The format this version writes. */
export const kCheckpointFormat = 1

export function encodeCheckpoint (precisionBits: number, entries: CheckpointEntry[], histograms: Histogram[]): Uint8Array {
  const header = Buffer.from(JSON.stringify({ v: kCheckpointFormat, p: precisionBits, entries } satisfies Header))
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
  const copy = new Uint8Array(buf)   // aligned copy for the Float64Array view
  const len = new DataView(copy.buffer).getUint32(0, true)
  const header = JSON.parse(Buffer.from(copy.subarray(8, 8 + len)).toString('utf8')) as Header
  const headLen = 8 + Math.ceil(len / 8) * 8
  return { format: header.v, precisionBits: header.p, entries: header.entries, data: new Float64Array(copy.buffer, headLen, (copy.length - headLen) / 8) }
}
