/**
 * The batch format shared by the event loop's batches (pool.ts), the UDP receiving threads
 * (udp-thread.ts) and the parsing workers (worker.ts, which reads it): one record per datagram
 * or chunk of EMF lines, `[u32 little-endian length][bytes]`.
 */

/** Bytes of a record's length prefix. */
export const kRecordHeaderBytes = 4

/** Writes one record at `off` of `buf` (the caller checks that it fits); returns the offset after it. */
export function appendRecord (buf: Uint8Array, off: number, data: Uint8Array): number {
  const n = data.length
  buf[off] = n & 0xff; buf[off + 1] = (n >>> 8) & 0xff; buf[off + 2] = (n >>> 16) & 0xff; buf[off + 3] = n >>> 24
  buf.set(data, off + kRecordHeaderBytes)
  return off + kRecordHeaderBytes + n
}
