/**
 * Worker-thread entry of a UDP receiver (see udp-receiver.ts): the thread owns one UDP
 * socket and does nothing but empty it, copying each datagram into the open batch (records.ts,
 * the format the ingest pool's batches have) and moving full
 * batches to the main thread. It runs no JavaScript of the engine, so nothing the main thread
 * does — sealing a 100k-series minute, a major GC of a large heap, serving the status page —
 * delays the reading of the socket, whose kernel buffer holds only a few milliseconds of
 * datagrams at millions of samples per second.
 *
 * Batches are stamped with the receive time the main thread last gave (it sends a new one
 * at each minute boundary of the engine's clock, and the open batch is cut then), so that
 * samples without a timestamp land in the minute they arrived in.
 *
 * Memory is bounded: the batch buffers alive (free, open, or on their way to and from a
 * worker) hold at most `maxBytes`; full-size ones come back once parsed and are reused. A batch
 * cut by the timer while mostly empty (a low rate) travels as a right-sized copy, so that a
 * stalled event loop does not pin a full buffer per 20 ms. Past the bound, a datagram is
 * dropped and counted (`overloaded`).
 */
import { createSocket, type Socket } from 'node:dgram'
import { parentPort, workerData } from 'node:worker_threads'
import { drainQuiet } from './drain-quiet.js'
import { appendRecord, kRecordHeaderBytes } from './records.js'

/** What the main thread hands the thread at start. */
export interface UdpThreadData {
  host: string
  port: number
  recvBufferBytes: number
  maxDatagramBytes: number
  batchBytes: number
  batchDelayMs: number
  /** Bytes of batch buffers alive at most. */
  maxBytes: number
  /** Full-size buffers kept for reuse at most. */
  maxFree: number
  stampMs: number
}

/** Counters since the previous message (added up by the main thread). */
export interface UdpThreadCounts {
  datagrams: number
  bytes: number
  tooLarge: number
  /** Size of the last datagram over the limit (for the message that says what to change). */
  tooLargeBytes: number
  overloaded: number
}

/** Messages from the thread. */
export type UdpThreadOut =
  | { t: 'ready', port: number, recvBufferBytes: number }
  | { t: 'bind_error', code: string | undefined, message: string }
  | { t: 'batch', buf: Uint8Array, len: number, records: number, stampMs: number, counts: UdpThreadCounts }
  | { t: 'counts', counts: UdpThreadCounts }
  | { t: 'sync', id: number, received: number }
  | { t: 'closed', counts: UdpThreadCounts }

/** Messages to the thread. */
export type UdpThreadIn =
  | { t: 'stamp', stampMs: number }
  | { t: 'free', buf: Uint8Array | undefined, bytes: number }
  | { t: 'sync', id: number }
  | { t: 'close', drainMs: number }

const o = workerData as UdpThreadData
const port = parentPort!
const free: Uint8Array[] = []
/** Bytes of every batch buffer alive: free, open, or away on the main thread or a worker. */
let held = 0
let buf: Uint8Array | undefined
let len = 0
let records = 0
let stampMs = o.stampMs
let batchStamp = 0
let timer: NodeJS.Timeout | undefined
let counts: UdpThreadCounts = zero()
let received = 0
let closing = false

function zero (): UdpThreadCounts { return { datagrams: 0, bytes: 0, tooLarge: 0, tooLargeBytes: 0, overloaded: 0 } }

function takeCounts (): UdpThreadCounts {
  const c = counts
  counts = zero()
  return c
}

function submit (): void {
  if (timer !== undefined) { clearTimeout(timer); timer = undefined }
  const b = buf
  buf = undefined
  if (b === undefined) return
  let out = b
  if (len * 4 < b.length && records > 0) {
    // Mostly empty (cut by the timer): send a copy of what it holds and keep the buffer.
    if (held + len <= o.maxBytes) { out = b.slice(0, len); held += len } else counts.overloaded += records
    release(b)
    if (out === b) { len = 0; records = 0; return }
  } else if (records === 0) { release(b); return }
  const msg: UdpThreadOut = { t: 'batch', buf: out, len, records, stampMs: batchStamp, counts: takeCounts() }
  port.postMessage(msg, [out.buffer as ArrayBuffer])
  len = 0
  records = 0
}

/** A buffer this thread is done with: kept for reuse (full-size, while few are), or let go. */
function release (b: Uint8Array): void {
  if (b.length === o.batchBytes && free.length < o.maxFree && !closing) free.push(b)
  else held -= b.length
}

function onMessage (msg: Buffer): void {
  const n = msg.length
  received++
  counts.datagrams++
  counts.bytes += n
  if (n > o.maxDatagramBytes) { counts.tooLarge++; counts.tooLargeBytes = n; return }
  if (n === 0) return
  if (buf !== undefined && (len + kRecordHeaderBytes + n > buf.length || batchStamp !== stampMs)) submit()
  if (buf === undefined) {
    const need = n + kRecordHeaderBytes
    const size = Math.max(need, o.batchBytes)
    if (need <= o.batchBytes && free.length > 0) buf = free.pop()!
    else if (held + size <= o.maxBytes) { buf = new Uint8Array(size); held += size } else { counts.overloaded++; return }
    batchStamp = stampMs
    timer = setTimeout(submit, o.batchDelayMs)
  }
  len = appendRecord(buf, len, msg)
  records++
  if (len >= o.batchBytes) submit()
}

const socket: Socket = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: o.recvBufferBytes })
socket.on('message', onMessage)
socket.once('error', (err: NodeJS.ErrnoException) => {
  port.postMessage({ t: 'bind_error', code: err.code, message: err.message } satisfies UdpThreadOut)
  try { socket.close() } catch { /* never bound */ }
  port.close()
})
socket.bind(o.port, o.host, () => {
  // Errors after bind (ICMP, a closed socket) must never stop the thread: UDP has no peer to tell.
  socket.removeAllListeners('error')
  socket.on('error', () => {})
  let granted = 0
  try { granted = socket.getRecvBufferSize() } catch { /* platform without getsockopt */ }
  port.postMessage({ t: 'ready', port: socket.address().port, recvBufferBytes: granted } satisfies UdpThreadOut)
})

// Counters reach the main thread with each batch, and at least every 250 ms while datagrams
// arrive without filling one (rejected ones, say).
const ticker = setInterval(() => {
  if (counts.datagrams > 0 || counts.overloaded > 0) port.postMessage({ t: 'counts', counts: takeCounts() } satisfies UdpThreadOut)
}, 250)
ticker.unref()

port.on('message', (m: UdpThreadIn) => {
  switch (m.t) {
    case 'stamp':
      stampMs = m.stampMs
      if (buf !== undefined && batchStamp !== stampMs) submit()
      break
    case 'free':
      // A buffer back from a worker, or undefined for one that was lost with its worker.
      if (m.buf !== undefined) release(m.buf)
      else held -= m.bytes
      break
    case 'sync':
      port.postMessage({ t: 'sync', id: m.id, received } satisfies UdpThreadOut)
      break
    case 'close':
      if (closing) break
      closing = true
      void drainQuiet(() => received, m.drainMs).then(() => {
        socket.close(() => {
          submit()
          clearInterval(ticker)
          port.postMessage({ t: 'closed', counts: takeCounts() } satisfies UdpThreadOut)
          port.close()
        })
      })
      break
  }
})
