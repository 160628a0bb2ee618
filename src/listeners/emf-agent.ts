/**
 * The EMF agent endpoint of the sidecar: the CloudWatch agent's port (default
 * 127.0.0.1:25888), TCP and UDP on the same port, so that applications using
 * aws-embedded-metrics in Agent mode (`AWS_EMF_ENVIRONMENT=Agent`,
 * `AWS_EMF_AGENT_ENDPOINT=tcp://127.0.0.1:25888` or `udp://...`) get their values aggregated
 * into 1-minute statistics and percentiles with no code change.
 *
 * TCP: one JSON document a line. The stream is split on `\n` here (a byte search, no
 * decoding); runs of complete lines are handed to the ingest pool as one record, and parsed on
 * a worker. A line longer than `maxLineBytes` is counted once as `too_large` and skipped up to
 * the next newline, without buffering it. Connections are bounded (`maxConnections`; at the cap
 * the one idle the longest makes room, see ./connections.ts) and closed after `idleTimeoutMs`
 * without a complete line — bytes trickled without a newline do not keep one open. When the
 * pool's queue to the workers is long, sockets are paused (TCP flow control) instead of dropping
 * documents, and the idle clock stops while they are.
 *
 * UDP: each datagram holds one or more whole documents; the socket is read on a thread of its
 * own, as the StatsD listener's is (ingest/udp-receiver.ts).
 */
import { createServer, type Server } from 'node:net'
import type { Socket as UdpSocket } from 'node:dgram'
import type { IngestTarget } from '../ingest/target.js'
import { ConfigError } from '../errors.js'
import type { IngestPool } from '../ingest/pool.js'
import { startUdpReceiver, type UdpReceiver } from '../ingest/udp-receiver.js'
import { drainQuiet } from '../ingest/drain-quiet.js'
import { bindUdp, kDefaultMaxDatagramBytes, kDefaultRecvBufferBytes, udpBindError } from './statsd.js'
import { Connections, tickFor, type ConnectionStats } from './connections.js'

export interface EmfListenerOptions {
  aggregator: IngestTarget
  pool: IngestPool
  /** @default 127.0.0.1 */
  host?: string
  /** TCP and UDP port (0: any free port, the same for both). */
  port: number
  /** Longest line accepted over TCP, in bytes. @default 263168 (EMF's 256 KiB event plus 1 KiB of margin) */
  maxLineBytes?: number
  /** A TCP connection that sends no complete line for this long is closed. @default 60000 */
  idleTimeoutMs?: number
  /**
   * Most TCP connections at once. At the cap, a new connection closes the one idle the longest
   * (no complete line for a second); it is refused only when every one is busy. @default 256
   */
  maxConnections?: number
  /** UDP receive buffer to ask the kernel for. @default 16 MiB */
  recvBufferBytes?: number
  /** UDP datagrams larger than this are rejected (`too_large`). @default 65535 */
  maxDatagramBytes?: number
  /** Read the UDP socket on a thread of its own; false reads it on the event loop. @default true */
  receiveThread?: boolean
  log?: (line: string) => void
}

export interface EmfListener {
  readonly port: number
  readonly host: string
  /** Counters (`connections`: accepted in all), and `open`: the TCP connections open now. */
  readonly stats: { connections: number, connectionsRefused: number, chunks: number, linesTooLong: number, datagrams: number, pauses: number } &
  { connectionsEvicted: number, connectionsTimedOut: number, readonly open: number }
  /** Stops accepting, lets connected clients finish what they sent (at most `drainMs`, default 2000), then closes. */
  close (drainMs?: number): Promise<void>
}

export const kDefaultMaxLineBytes = 256 * 1024 + 1024
export const kDefaultEmfIdleTimeoutMs = 60_000
export const kDefaultEmfMaxConnections = 256
const kNewline = 10

/**
 * Splits one TCP stream into runs of complete lines. Exported for the unit tests.
 * `emit` gets a buffer that ends with `\n` (or the last, unterminated line at `end()`);
 * `tooLong` is called once per over-long line.
 */
export class LineSplitter {
  #parts: Buffer[] = []
  #partLen = 0
  #skipping = false
  constructor (readonly maxLineBytes: number, readonly emit: (lines: Buffer) => void, readonly tooLong: (bytes: number) => void) {}

  /** Whether a partial line is waiting for its end. */
  get pending (): boolean { return this.#partLen > 0 || this.#skipping }

  push (chunk: Buffer): void {
    let start = 0
    const len = chunk.length
    if (this.#skipping) {
      const nl = chunk.indexOf(kNewline)
      if (nl < 0) { this.#partLen += len; return }
      this.#skipping = false
      this.#partLen = 0
      start = nl + 1
    } else if (this.#partLen > 0) {
      // Finish the line carried over from earlier chunks.
      const nl = chunk.indexOf(kNewline)
      if (nl < 0) { this.#carry(chunk, 0); return }
      if (this.#partLen + nl > this.maxLineBytes) {
        this.tooLong(this.#partLen + nl)
      } else {
        this.#parts.push(chunk.subarray(0, nl + 1))
        this.emit(Buffer.concat(this.#parts, this.#partLen + nl + 1))
      }
      this.#parts = []
      this.#partLen = 0
      start = nl + 1
    }
    if (start >= len) return
    const last = chunk.lastIndexOf(kNewline)
    if (last >= start) {
      this.#emitWhole(chunk, start, last + 1)
      start = last + 1
    }
    if (start < len) this.#carry(chunk, start)
  }

  /** The stream ended: an unterminated last line is still a document. */
  end (): void {
    if (!this.#skipping && this.#partLen > 0) this.emit(Buffer.concat(this.#parts, this.#partLen))
    this.#parts = []
    this.#partLen = 0
    this.#skipping = false
  }

  /** Emits chunk[a, b) of whole lines; lines over the limit are counted and cut out. */
  #emitWhole (chunk: Buffer, a: number, b: number): void {
    if (b - a <= this.maxLineBytes) { this.emit(chunk.subarray(a, b)); return }
    // A long run: look for over-long lines in it (rare; the common case above costs nothing).
    let runStart = a
    let pos = a
    while (pos < b) {
      const nl = chunk.indexOf(kNewline, pos)
      if (nl - pos > this.maxLineBytes) {
        if (pos > runStart) this.emit(chunk.subarray(runStart, pos))
        this.tooLong(nl - pos)
        runStart = nl + 1
      }
      pos = nl + 1
    }
    if (b > runStart) this.emit(chunk.subarray(runStart, b))
  }

  #carry (chunk: Buffer, from: number): void {
    const n = chunk.length - from
    if (this.#partLen + n > this.maxLineBytes) {
      this.tooLong(this.#partLen + n)   // counted now, when the limit is passed; skipped up to the next newline
      this.#parts = []
      this.#partLen = 0
      this.#skipping = true
      return
    }
    // Copy: the socket's chunk may be reused, and holding a slice keeps the whole chunk alive.
    this.#parts.push(Buffer.from(chunk.subarray(from)))
    this.#partLen += n
  }
}

/** Starts the EMF listener on TCP and UDP. Throws a ConfigError when the port is taken. */
export async function startEmfListener (o: EmfListenerOptions): Promise<EmfListener> {
  const host = o.host ?? '127.0.0.1'
  const maxLine = o.maxLineBytes ?? kDefaultMaxLineBytes
  const idleMs = o.idleTimeoutMs ?? kDefaultEmfIdleTimeoutMs
  const maxDgram = o.maxDatagramBytes ?? kDefaultMaxDatagramBytes
  const maxConnections = o.maxConnections ?? kDefaultEmfMaxConnections
  const { aggregator, pool } = o
  const counts = { chunks: 0, linesTooLong: 0, datagrams: 0, pauses: 0 }
  const conns = new Connections(maxConnections, tickFor(idleMs))
  const table: ConnectionStats = conns.stats
  const stats = Object.defineProperties(counts, {
    connections: { get: () => table.connections, enumerable: true },
    connectionsRefused: { get: () => table.connectionsRefused, enumerable: true },
    connectionsEvicted: { get: () => table.connectionsEvicted, enumerable: true },
    connectionsTimedOut: { get: () => table.connectionsTimedOut, enumerable: true },
    open: { get: () => conns.size, enumerable: false },   // a gauge, not one of the counters
  }) as EmfListener['stats']

  const server: Server = createServer({ allowHalfOpen: false }, (sock) => {
    const t = conns.admit(sock)
    if (t === undefined) {
      aggregator.countRejected('overloaded', `EMF TCP connection refused: ${maxConnections} connections are open and none is idle (--emf-max-connections)`)
      sock.destroy()
      return
    }
    t.deadline = t.doneAt + idleMs
    const splitter = new LineSplitter(maxLine,
      (lines) => { counts.chunks++; pool.push('emf', lines) },
      (bytes) => {
        counts.linesTooLong++
        aggregator.countRejected('too_large', `EMF line of more than ${bytes} bytes over TCP is over the limit of ${maxLine}: EMF events are at most 256 KiB; split the document`)
      })
    sock.on('data', (chunk: Buffer) => {
      const before = counts.chunks + counts.linesTooLong
      splitter.push(chunk)
      // Only a complete line (or an over-long one, skipped) is progress: trickled bytes are not.
      if (counts.chunks + counts.linesTooLong !== before) { t.doneAt = Date.now(); t.deadline = t.doneAt + idleMs }
      if (pool.saturated && !sock.isPaused()) {
        counts.pauses++
        sock.pause()
        t.deadline = Infinity   // held back by us, not idle
        pool.whenReady(() => {
          if (sock.destroyed) return
          t.doneAt = Date.now()
          t.deadline = t.doneAt + idleMs
          sock.resume()
        })
      }
    })
    sock.on('end', () => { splitter.end() })
    sock.on('error', () => { /* a reset by the client: what arrived was already handed over */ })
  })

  const tooLargeMessage = (n: number): string => `EMF datagram of ${n} bytes is over the limit of ${maxDgram}: send large documents over TCP`
  const onDatagram = (msg: Buffer): void => {
    stats.datagrams++
    if (msg.length > maxDgram) {
      aggregator.countRejected('too_large', tooLargeMessage(msg.length))
      return
    }
    if (msg.length !== 0) pool.push('emf', msg)
  }

  // TCP first (it picks the port when 0), then UDP on the same number. With port 0 another
  // process may hold that UDP port: try a few times.
  let udp: { socket: UdpSocket, port: number, recvBufferBytes: number } | undefined
  let thread: UdpReceiver | undefined
  let port = o.port
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') throw new ConfigError(`--emf-port: TCP port ${port} on ${host} is in use (a CloudWatch agent?): pass a free port (0 picks one) or "off"`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
      throw err
    })
    const bound = (server.address() as { port: number }).port
    try {
      const recvBufferBytes = o.recvBufferBytes ?? kDefaultRecvBufferBytes
      if (o.receiveThread !== false) {
        thread = await startUdpReceiver({
          aggregator,
          pool,
          kind: 'emf',
          host,
          port: bound,
          recvBufferBytes,
          maxDatagramBytes: maxDgram,
          tooLargeMessage,
          onCounts: (c) => { stats.datagrams += c.datagrams },
          bindError: (err) => udpBindError(err, host, bound, '--emf-port'),
          log: o.log,
        })
      } else {
        udp = await bindUdp(host, bound, recvBufferBytes, onDatagram, '--emf-port')
      }
      port = bound
      break
    } catch (err) {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
      if (o.port !== 0 || attempt >= 4) { conns.stop(); throw err }
    }
  }

  let closed: Promise<void> | undefined
  return {
    port,
    host,
    stats,
    close (drainMs = 2000) {
      closed ??= (async () => {
        const serverClosed = new Promise<void>(resolve => { server.close(() => { resolve() }) })
        // Clients get a FIN: aws-embedded-metrics reconnects on its next flush.
        for (const s of conns.sockets()) s.end()
        await Promise.all([drainQuiet(() => counts.datagrams + counts.chunks + conns.size, drainMs), thread?.close(drainMs)])
        for (const s of [...conns.sockets()]) s.destroy()
        conns.stop()
        await serverClosed
        if (udp !== undefined) await new Promise<void>(resolve => { udp!.socket.close(() => { resolve() }) })
      })()
      return closed
    },
  }
}
