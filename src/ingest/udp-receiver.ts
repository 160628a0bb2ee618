/**
 * A UDP socket read on its own thread (udp-thread.ts) and feeding an {@link IngestPool}.
 *
 * At 2.5M samples/s in 20-line datagrams, Linux's default receive-buffer cap
 * (net.core.rmem_max, 4 MiB, of which each datagram takes ~2 KiB of bookkeeping) holds about
 * 16 ms of traffic. Read on the event loop, any stall of that length — a seal slice, a major
 * GC of a heap holding 100k series, a burst of HTTP — drops datagrams in the kernel, where
 * they cannot even be counted. The receiving thread only reads and copies; the event loop
 * only forwards the thread's batches (tens a second) to the parsing workers.
 *
 * The thread restarts on the same port if it ever dies; the datagrams of its open batch are
 * lost with it, and the log says so.
 */
import { Worker } from 'node:worker_threads'
import type { IngestTarget } from './target.js'
import { kPeriodMs } from '../limits.js'
import type { IngestPool } from './pool.js'
import { ingestModule } from './pool.js'
import type { UdpThreadCounts, UdpThreadData, UdpThreadIn, UdpThreadOut } from './udp-thread.js'

export interface UdpReceiverOptions {
  aggregator: IngestTarget
  pool: IngestPool
  kind: 'statsd' | 'emf'
  host: string
  port: number
  recvBufferBytes: number
  maxDatagramBytes: number
  /** Says what to change when a datagram is over the limit, given its size. */
  tooLargeMessage: (bytes: number) => string
  /** Called with each datagram count the thread reports (the listener's stats). */
  onCounts: (c: UdpThreadCounts) => void
  /** Turns a bind failure into the error to throw (a ConfigError naming the flag). */
  bindError: (err: NodeJS.ErrnoException) => Error
  log?: (line: string) => void
  /** The thread module, a path or file: URL (tests substitute one). @default the compiled `udp-thread.js` */
  threadFilename?: string
}

export interface UdpReceiver {
  readonly port: number
  /** The receive buffer as `getsockopt` reports it (on Linux: twice what was granted). */
  readonly recvBufferBytes: number
  /** Times the receiving thread died and was restarted. */
  readonly restarts: number
  /**
   * Resolves once the thread has taken every message sent to it so far (a new minute, say),
   * with the number of datagrams it has read.
   */
  sync (): Promise<number>
  /** Stops after the socket has been quiet for 20 ms (at most `drainMs`); hands over the last batch. */
  close (drainMs: number): Promise<void>
}

/** Binds `o.port` on a receiving thread; resolves once it listens, rejects with `o.bindError(…)`. */
export async function startUdpReceiver (o: UdpReceiverOptions): Promise<UdpReceiver> {
  const { aggregator, pool, kind } = o
  const clock = aggregator.options.clock
  const batchBytes = pool.batchBytes
  const data = (port: number): UdpThreadData => ({
    host: o.host,
    port,
    recvBufferBytes: o.recvBufferBytes,
    maxDatagramBytes: o.maxDatagramBytes,
    batchBytes,
    batchDelayMs: pool.batchDelayMs,
    // Room for a few more batches than the pool queues, so that the pool's bound is the one
    // that acts (and counts) while the event loop keeps up; this one bounds memory while it
    // does not.
    maxBytes: pool.maxQueuedBytes + (pool.stats.threads * 4 + 4) * batchBytes,
    maxFree: pool.stats.threads * 2 + 4,
    stampMs: clock.now(),
  })

  let worker: Worker
  let closing = false
  let restarts = 0
  let syncId = 0
  const syncs = new Map<number, (received: number) => void>()
  let onClosed: (() => void) | undefined
  let granted = 0
  /** The port bound (o.port may be 0): a restarted thread binds the same one. */
  let bound = o.port

  const counts = (c: UdpThreadCounts): void => {
    o.onCounts(c)
    if (c.tooLarge > 0) aggregator.countRejected('too_large', o.tooLargeMessage(c.tooLargeBytes), c.tooLarge)
    if (c.overloaded > 0) pool.countOverloaded(c.overloaded, `${kind} receive thread: every batch buffer is waiting for the workers: dropped ${c.overloaded} datagrams; add --ingest-threads or reduce the send rate`)
  }

  const post = (m: UdpThreadIn, transfer?: ArrayBuffer[]): void => {
    try { worker.postMessage(m, transfer) } catch { /* the thread is gone */ }
  }

  const spawn = (port: number): Promise<number> => new Promise((resolve, reject) => {
    let ready = false
    const file = o.threadFilename ?? ingestModule('udp-thread.js')
    const w = new Worker(file.startsWith('file:') ? new URL(file) : file, { workerData: data(port) })
    worker = w
    w.on('message', (m: UdpThreadOut) => {
      switch (m.t) {
        case 'ready': ready = true; granted = m.recvBufferBytes; resolve(m.port); break
        case 'bind_error': {
          const err = Object.assign(new Error(m.message), { code: m.code }) as NodeJS.ErrnoException
          reject(o.bindError(err))
          break
        }
        case 'batch': {
          counts(m.counts)
          const thisWorker = w
          const bytes = m.buf.length
          pool.submitBatch(kind, m.buf, m.len, m.records, m.stampMs, (buf) => {
            if (thisWorker !== worker) return
            post({ t: 'free', buf, bytes }, buf !== undefined ? [buf.buffer as ArrayBuffer] : undefined)
          })
          break
        }
        case 'counts': counts(m.counts); break
        case 'sync': syncs.get(m.id)?.(m.received); syncs.delete(m.id); break
        case 'closed': counts(m.counts); onClosed?.(); break
      }
    })
    let failure: Error | undefined
    w.on('error', (err) => {
      if (!ready) reject(err)
      else failure = err
    })
    w.on('exit', (code) => {
      if (!ready || closing) { onClosed?.(); return }
      for (const [, done] of syncs) done(-1)
      syncs.clear()
      restarts++
      o.log?.(`${kind}: the UDP receiving thread stopped (${failure?.message ?? `exit code ${code}`}): restarting it on port ${bound}; the datagrams of its open batch (at most ${pool.batchDelayMs} ms of them) are lost`)
      spawn(bound).catch((err: Error) => { o.log?.(`${kind}: the UDP receiving thread could not be restarted on port ${bound}: ${err.message}; nothing is received there any more`) })
    })
  })

  const port = await spawn(o.port)
  bound = port
  // The engine's minute boundaries, on its clock: the thread cuts its open batch there.
  let timer: unknown
  const schedule = (): void => {
    const now = clock.now()
    timer = clock.setTimer(() => { post({ t: 'stamp', stampMs: clock.now() }); schedule() }, Math.max(1, kPeriodMs - (now % kPeriodMs)))
  }
  schedule()

  let closed: Promise<void> | undefined
  return {
    port,
    get recvBufferBytes () { return granted },
    get restarts () { return restarts },
    sync () {
      const id = ++syncId
      return new Promise<number>(resolve => { syncs.set(id, resolve); post({ t: 'sync', id }) })
    },
    close (drainMs) {
      closed ??= (async () => {
        closing = true
        clock.clearTimer(timer)
        await new Promise<void>(resolve => { onClosed = resolve; post({ t: 'close', drainMs }) })
        await worker.terminate()
      })()
      return closed
    },
  }
}
