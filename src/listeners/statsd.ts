/**
 * The StatsD / DogStatsD listener of the sidecar: UDP (default 127.0.0.1:8125) and, when the
 * optional `unix-dgram` package is installed, a Unix datagram socket.
 *
 * The UDP socket is read on a thread of its own (ingest/udp-receiver.ts), which does the least
 * it can per datagram: a length check and one copy into the open batch; the event loop only
 * forwards whole batches. Parsing, validation and histogramming happen on the pool's worker
 * threads; bad lines are counted there by reason, and the good lines of the same datagram
 * still count. The Unix datagram socket is read on the event loop: unix-dgram, a native addon
 * that is not worker-safe, crashed the process (SIGSEGV) when a worker thread that used it ended.
 *
 * The kernel's receive buffer is what absorbs bursts while the receiving thread is not
 * running (the CPU is busy elsewhere): the socket asks for `recvBufferBytes` and reports what the kernel granted, which
 * Linux caps at `net.core.rmem_max` (and reports doubled). Datagrams the kernel drops because
 * the buffer was full cannot be counted here; `/proc/net/udp` (`drops`) or `netstat -su`
 * (`receive buffer errors`) shows them.
 */
import { createSocket, type Socket } from 'node:dgram'
import { createRequire } from 'node:module'
import { lstatSync, unlinkSync } from 'node:fs'
import type { IngestTarget } from '../ingest/target.js'
import { ConfigError } from '../errors.js'
import type { IngestPool } from '../ingest/pool.js'
import { drainQuiet } from '../ingest/drain-quiet.js'
import { startUdpReceiver, type UdpReceiver } from '../ingest/udp-receiver.js'

export interface StatsdListenerOptions {
  aggregator: IngestTarget
  pool: IngestPool
  /** Address to bind. @default 127.0.0.1 */
  host?: string
  /** UDP port (0: any free port); undefined: no UDP socket. */
  port?: number
  /** Path of a Unix datagram socket to bind as well (needs the optional `unix-dgram` package). */
  socketPath?: string
  /** Receive buffer to ask the kernel for. @default 16 MiB */
  recvBufferBytes?: number
  /** Datagrams larger than this are rejected whole (`too_large`). @default 65535 */
  maxDatagramBytes?: number
  /**
   * Read the UDP socket on a thread of its own (see ingest/udp-receiver.ts), so that nothing
   * the event loop does delays it; false reads it on the event loop. @default true
   */
  receiveThread?: boolean
  log?: (line: string) => void
}

export interface StatsdListener {
  /** The bound UDP port, or undefined when there is no UDP socket. */
  readonly port: number | undefined
  readonly host: string
  readonly socketPath: string | undefined
  /** The UDP receive buffer as `getsockopt` reports it (on Linux: twice what was granted). */
  readonly recvBufferBytes: number | undefined
  /** Datagrams received (before the size check). */
  readonly stats: { datagrams: number, bytes: number, tooLarge: number }
  /**
   * Resolves once the UDP receiving thread has taken every message the engine sent it so far
   * (a minute boundary, say), with the number of UDP datagrams it has read; without a thread,
   * at once with `stats.datagrams`.
   */
  sync (): Promise<number>
  /**
   * Stops receiving. Datagrams still in the kernel's buffer are read first: the socket stays
   * open until it has been quiet for 20 ms (at most `drainMs`, default 500).
   */
  close (drainMs?: number): Promise<void>
}

export const kDefaultRecvBufferBytes = 16 * 1024 * 1024
export const kDefaultMaxDatagramBytes = 65_535

/** Binds a UDP socket; resolves once it listens. */
export async function bindUdp (host: string, port: number, recvBufferBytes: number, onMessage: (msg: Buffer) => void, what: string): Promise<{ socket: Socket, port: number, recvBufferBytes: number }> {
  const type = host.includes(':') ? 'udp6' : 'udp4'
  const socket = createSocket({ type, recvBufferSize: recvBufferBytes })
  socket.on('message', onMessage)
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, host, () => { socket.off('error', reject); resolve() })
  }).catch((err: NodeJS.ErrnoException) => {
    try { socket.close() } catch { /* never bound */ }
    throw udpBindError(err, host, port, what)
  })
  // Errors after bind (ICMP, a closed socket) must never crash the sidecar: UDP has no peer to tell.
  socket.on('error', () => {})
  let granted = 0
  try { granted = socket.getRecvBufferSize() } catch { /* platform without getsockopt */ }
  return { socket, port: socket.address().port, recvBufferBytes: granted }
}

/** The error to throw when binding a UDP port failed: a ConfigError naming the flag where the cause is the user's to fix. */
export function udpBindError (err: NodeJS.ErrnoException, host: string, port: number, what: string): Error {
  if (err.code === 'EADDRINUSE') return new ConfigError(`${what}: UDP port ${port} on ${host} is in use: pass a free port (0 picks one) or "off"`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
  if (err.code === 'EADDRNOTAVAIL') return new ConfigError(`${what}: cannot bind ${host}: no such local address (--bind)`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
  return err
}

/** What the optional unix-dgram package exports (hot-shots' optional dependency). */
interface UnixDgramSocket {
  on (event: 'message', fn: (buf: Buffer | null) => void): void
  on (event: 'error' | 'listening', fn: (err?: Error) => void): void
  once (event: 'error' | 'listening', fn: (err?: Error) => void): void
  bind (path: string): void
  close (): void
}

type UnixDgram = { createSocket: (type: 'unix_dgram') => UnixDgramSocket }

/**
 * unix-dgram, or why --statsd-socket cannot have it. It is a native addon, compiled when it is
 * installed for that Node's ABI: after a switch to another Node major it is there but does not
 * load (NODE_MODULE_VERSION …) until `npm rebuild`; that is said, not taken for "not installed".
 */
export function loadUnixDgram (load: () => unknown = () => createRequire(import.meta.url)('unix-dgram')): { ok: true, mod: UnixDgram } | { ok: false, message: string } {
  try {
    return { ok: true, mod: load() as UnixDgram }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes("'unix-dgram'")) {
      return { ok: false, message: '--statsd-socket needs the optional package unix-dgram (npm install unix-dgram): Node has no Unix datagram sockets of its own' }
    }
    const why = String(e?.message ?? err).replace(/\s+/g, ' ').trim()
    return {
      ok: false,
      message: `--statsd-socket needs the optional package unix-dgram, which is installed but does not load in Node ${process.version} ` +
        `(${why.length > 400 ? why.slice(0, 400) + '…' : why}): rebuild it for this Node with npm rebuild unix-dgram`,
    }
  }
}

/** Removes a stale socket file left by an earlier run (never a regular file). */
function removeStaleSocket (path: string): void {
  try {
    const st = lstatSync(path)
    if (!st.isSocket()) throw new ConfigError(`--statsd-socket ${path} exists and is not a socket: pick another path`, 'METRICS_ERR_INVALID_OPTION')
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/** Starts the StatsD listener(s). Throws a ConfigError when a port is taken or a socket cannot be bound. */
export async function startStatsdListener (o: StatsdListenerOptions): Promise<StatsdListener> {
  const host = o.host ?? '127.0.0.1'
  const maxBytes = o.maxDatagramBytes ?? kDefaultMaxDatagramBytes
  const { aggregator, pool } = o
  const stats = { datagrams: 0, bytes: 0, tooLarge: 0 }
  const onMessage = (msg: Buffer | null): void => {
    if (msg === null) return
    stats.datagrams++
    const n = msg.length
    stats.bytes += n
    if (n > maxBytes) {
      stats.tooLarge++
      aggregator.countRejected('too_large', tooLargeMessage(n))
      return
    }
    if (n !== 0) pool.push('statsd', msg)
  }

  const tooLargeMessage = (n: number): string => `StatsD datagram of ${n} bytes is over the limit of ${maxBytes}: lower the client's buffer size (hot-shots maxBufferSize)`
  let udp: { socket: Socket, port: number, recvBufferBytes: number } | undefined
  let thread: UdpReceiver | undefined
  if (o.port !== undefined) {
    const want = o.recvBufferBytes ?? kDefaultRecvBufferBytes
    if (o.receiveThread !== false) {
      thread = await startUdpReceiver({
        aggregator,
        pool,
        kind: 'statsd',
        host,
        port: o.port,
        recvBufferBytes: want,
        maxDatagramBytes: maxBytes,
        tooLargeMessage,
        onCounts: (c) => { stats.datagrams += c.datagrams; stats.bytes += c.bytes; stats.tooLarge += c.tooLarge },
        bindError: (err) => udpBindError(err, host, o.port!, '--statsd-port'),
        log: o.log,
      })
    } else {
      udp = await bindUdp(host, o.port, want, onMessage, '--statsd-port')
    }
    const reported = thread?.recvBufferBytes ?? udp!.recvBufferBytes
    // Linux caps the request at net.core.rmem_max and reports twice what it granted (the
    // other half is its bookkeeping allowance).
    const granted = process.platform === 'linux' ? reported / 2 : reported
    if (granted > 0 && granted < want) {
      o.log?.(`statsd: asked for a ${(want / 2 ** 20).toFixed(1)} MiB UDP receive buffer; the kernel granted ${(granted / 2 ** 20).toFixed(1)} MiB ` +
        `(net.core.rmem_max): bursts longer than that are dropped by the kernel; raise it with sysctl -w net.core.rmem_max=${want}`)
    }
  }

  let unix: UnixDgramSocket | undefined
  if (o.socketPath !== undefined) {
    const loaded = loadUnixDgram()
    if (!loaded.ok) {
      udp?.socket.close()
      await thread?.close(0)
      throw new ConfigError(loaded.message, 'METRICS_ERR_INVALID_OPTION')
    }
    const mod = loaded.mod
    try {
      removeStaleSocket(o.socketPath)
      const s = mod.createSocket('unix_dgram')
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.once('listening', () => { resolve() })
        s.bind(o.socketPath!)
      })
      s.on('error', () => {})
      s.on('message', onMessage)
      unix = s
    } catch (err) {
      udp?.socket.close()
      await thread?.close(0)
      if (err instanceof ConfigError) throw err
      throw new ConfigError(`--statsd-socket ${o.socketPath}: cannot bind: ${(err as Error).message}`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
    }
  }

  let closed: Promise<void> | undefined
  return {
    port: thread?.port ?? udp?.port,
    host,
    socketPath: o.socketPath,
    recvBufferBytes: thread?.recvBufferBytes ?? udp?.recvBufferBytes,
    stats,
    sync: () => thread?.sync() ?? Promise.resolve(stats.datagrams),
    close (drainMs = 500) {
      closed ??= (async () => {
        await Promise.all([thread?.close(drainMs), (udp !== undefined || unix !== undefined) && drainQuiet(() => stats.datagrams, drainMs)])
        if (udp !== undefined) await new Promise<void>(resolve => { udp!.socket.close(() => { resolve() }) })
        if (unix !== undefined) {
          try { unix.close() } catch { /* already closed */ }
          try { unlinkSync(o.socketPath!) } catch { /* gone */ }
        }
      })()
      return closed
    },
  }
}
