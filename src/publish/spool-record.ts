/**
 * The envelope of every file minutely writes to its spool (a journaled batch, the checkpoint):
 * a fixed 48-byte header of its own, then the body it was handed, untouched. A file minutely
 * did not write is never taken for one of its own, and a damaged one is found and reported,
 * with what it held, instead of being sent.
 *
 * ```
 *  0  4  magic "MNLY"
 *  4  1  kind: 'B' a batch, 'C' the checkpoint, 'L' a record of the checkpoint's delta log
 *  5  1  envelope version (1)
 *  6  2  0
 *  8  8  body length in bytes (float64)
 * 16  8  items the body holds: datums of a batch, open aggregates of a checkpoint (float64)
 * 24  8  samples the body holds: the sum of their SampleCounts (float64: counts may be weighted)
 * 32  8  written at, engine clock ms (float64)
 * 40  4  CRC-32 of the body
 * 44  4  CRC-32 of bytes 0..43
 * ```
 *
 * The counts sit in the header, under a checksum of their own, so a body cut short or
 * overwritten still says how much was lost. The inner layout of a body (the batch's JSON, the
 * checkpoint's own versioned format) is its writer's business, not the envelope's.
 */
import * as zlib from 'node:zlib'

export const kRecordHeaderBytes = 48
const kMagic = 0x594c4e4d   // "MNLY" read as a little-endian u32
const kVersion = 1

export type RecordKind = 'B' | 'C' | 'L'

export interface RecordHeader {
  kind: RecordKind
  bodyLength: number
  /** Datums (batch) or open aggregates (checkpoint). */
  items: number
  samples: number
  writtenAt: number
  bodyCrc: number
}

// CRC-32 (IEEE 802.3, as zlib and gzip compute it). node:zlib has crc32 from Node 20.15 and
// 22.2; the table below serves the Node 20 releases before it, and gives the same numbers.
let table: Uint32Array | undefined

/** CRC-32 without node:zlib (exported for the test that holds it equal to zlib's). */
export function crc32Table (data: Uint8Array, value = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let c = (value ^ 0xffffffff) >>> 0
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

/** CRC-32 of `data`: node:zlib's where this Node has it, else {@link crc32Table}. */
export const crc32: (data: Uint8Array, value?: number) => number = typeof zlibCrc32 === 'function' ? zlibCrc32 : crc32Table

/** The header of a record holding `body`. */
export function encodeHeader (kind: RecordKind, body: Uint8Array, items: number, samples: number, writtenAt: number): Uint8Array {
  const out = new Uint8Array(kRecordHeaderBytes)
  const v = new DataView(out.buffer)
  v.setUint32(0, kMagic, true)
  out[4] = kind.charCodeAt(0)
  out[5] = kVersion
  v.setFloat64(8, body.length, true)
  v.setFloat64(16, items, true)
  v.setFloat64(24, samples, true)
  v.setFloat64(32, writtenAt, true)
  v.setUint32(40, crc32(body), true)
  v.setUint32(44, crc32(out.subarray(0, 44)), true)
  return out
}

/** The header at the start of `buf`, or why there is none (a reason for a message). */
export function decodeHeader (buf: Uint8Array): RecordHeader | string {
  if (buf.length === 0) return 'the file is empty (0 bytes)'
  if (buf.length < kRecordHeaderBytes) return `the file is cut short (${buf.length} bytes, less than its ${kRecordHeaderBytes}-byte header)`
  const v = new DataView(buf.buffer, buf.byteOffset, kRecordHeaderBytes)
  if (v.getUint32(0, true) !== kMagic) return 'it does not start with minutely\'s header'
  if (v.getUint32(44, true) !== crc32(buf.subarray(0, 44))) return 'its header fails its checksum'
  if (buf[5] !== kVersion) return `its envelope version is ${buf[5]}, not ${kVersion}`
  const kind = String.fromCharCode(buf[4])
  if (kind !== 'B' && kind !== 'C' && kind !== 'L') return `its kind ${JSON.stringify(kind)} is unknown`
  return {
    kind,
    bodyLength: v.getFloat64(8, true),
    items: v.getFloat64(16, true),
    samples: v.getFloat64(24, true),
    writtenAt: v.getFloat64(32, true),
    bodyCrc: v.getUint32(40, true),
  }
}

/** Why the body of a record (everything after its header) is not the one written, or undefined. */
export function checkBody (h: RecordHeader, body: Uint8Array): string | undefined {
  if (body.length < h.bodyLength) return `it is cut short (${body.length} of ${h.bodyLength} body bytes)`
  if (body.length > h.bodyLength) return `it is longer than written (${body.length} body bytes, ${h.bodyLength} written)`
  if (crc32(body) !== h.bodyCrc) return 'its body fails its checksum (overwritten or damaged on disk)'
  return undefined
}
