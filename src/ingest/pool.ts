/**
 * Main-thread side of worker ingest. Listeners push raw datagrams (or complete EMF lines);
 * the pool copies them into a batch buffer — one memcpy, no parsing on the event loop —
 * and hands full batches to piscina workers, moving the buffer rather than copying it. UDP
 * receiving threads (udp-receiver.ts) cut their batches themselves and hand them over whole
 * (`submitBatch`).
 * Workers return packed partial aggregates that the engine merges exactly; the packed data
 * and the batch buffer move back (transferred, not copied), and the buffer is reused.
 *
 * A batch is cut when it reaches `batchBytes`, after `batchDelayMs`, or when the engine's
 * minute changes, so that every sample of a batch without a timestamp belongs to the minute
 * the batch was started in. The queue to the workers is bounded: past `maxQueuedBytes`,
 * datagrams are dropped and counted (`datagramsDropped`), never buffered without bound.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import type { IngestTarget } from './target.js'
import type { IngestResult, IngestTask, IngestWorkerData } from './worker.js'
import type { StatsdParseOptions } from './statsd.js'
import type { EmfParseOptions } from './emf.js'
import { kPeriodMs } from '../limits.js'
import { appendRecord, kRecordHeaderBytes } from './records.js'

/** The batch size the sidecar's listeners use: 1 MiB (see {@link IngestPoolOptions.batchBytes}). */
export const kSidecarBatchBytes = 1_048_576

/** A bound on the number of queued batches as well, however small they are. */
const kMaxQueuedBatches = 4096

export interface IngestPoolOptions {
  /** Where merged batches and rejections go: the aggregator. */
  aggregator: IngestTarget
  /** Worker threads. @default min(4, available parallelism) */
  threads?: number
  /**
   * A batch is handed over at this size. Each batch costs a fixed ~30–100 µs of messaging and
   * merging whatever its size, so big batches are cheaper per sample: on 2 cores, 20-line
   * datagrams at 600k samples/s cost the sidecar 74% CPU with 64 KiB batches, 53% with
   * 256 KiB and 45% with 1 MiB, and at 2.5M samples/s 256 KiB batches lose 9% where 1 MiB
   * batches keep up. The sidecar uses {@link kSidecarBatchBytes}. @default 65536
   */
  batchBytes?: number
  /** …or after this long. @default 20 */
  batchDelayMs?: number
  /** The worker module (tests substitute one that fails). @default the compiled `worker.js` */
  workerFilename?: string
  /**
   * Bytes of batches waiting for (or being parsed by) a worker before datagrams are dropped
   * and counted as `overloaded`. Bytes, not batches: a stalled event loop can hand over many
   * small batches at once (cut after `batchDelayMs` at a low rate). @default 64 MiB
   */
  maxQueuedBytes?: number
  /**
   * Raises the workers' nice value (Linux, through piscina's optional @napi-rs/nice): under
   * CPU contention the threads that empty the sockets' kernel buffers (the UDP receiving
   * threads, the event loop for TCP and the Unix socket) run first and the workers catch up
   * from the queue. Without it, a 2-core machine receiving 2.5M
   * samples/s loses datagrams in the kernel whenever the scheduler lets a worker run instead
   * of the event loop for a few milliseconds. @default 10
   */
  niceIncrement?: number
  statsd?: StatsdParseOptions
  emf?: EmfParseOptions
}

/** Counters of the pool (part of the sidecar's self-metrics). */
export interface IngestPoolStats {
  datagramsReceived: number
  datagramsDropped: number
  batchesSubmitted: number
  batchesFailed: number
  /** Datagrams lost with a batch whose worker failed. */
  datagramsLostToWorkerFailure: number
  queuedBatches: number
  queuedBytes: number
  threads: number
}

class Batch {
  len = 0
  records = 0
  startedAt = 0
  constructor (public buf: Uint8Array) {}
}

/** A thread module of the ingest: the compiled sibling, or dist/ when running from sources. */
export function ingestModule (file: 'worker.js' | 'udp-thread.js'): string {
  const sibling = new URL(`./${file}`, import.meta.url)
  if (existsSync(fileURLToPath(sibling))) return sibling.href
  const dist = new URL(`../../dist/ingest/${file}`, import.meta.url)
  if (existsSync(fileURLToPath(dist))) return dist.href
  throw new Error(`minutely: the ingest thread module (dist/ingest/${file}) is missing: run \`npm run build\``)
}

export class IngestPool {
  readonly stats: IngestPoolStats
  readonly #agg: IngestTarget
  readonly #piscina: Piscina
  readonly #batchBytes: number
  readonly #delayMs: number
  readonly #maxQueuedBytes: number
  readonly #open: Record<'statsd' | 'emf', Batch | null> = { statsd: null, emf: null }
  readonly #timers: Record<'statsd' | 'emf', NodeJS.Timeout | null> = { statsd: null, emf: null }
  readonly #pending = new Set<Promise<void>>()
  #readyWaiters: Array<() => void> = []
  /** Batch buffers back from the workers, reused so that no batch allocates (and zero-fills). */
  readonly #free: Uint8Array[] = []
  readonly #maxFree: number
  #closed = false

  constructor (o: IngestPoolOptions) {
    this.#agg = o.aggregator
    const threads = o.threads ?? Math.max(1, Math.min(4, availableParallelism()))
    this.#batchBytes = o.batchBytes ?? 65_536
    this.#delayMs = o.batchDelayMs ?? 20
    this.#maxQueuedBytes = o.maxQueuedBytes ?? 64 * 1_048_576
    this.#maxFree = threads * 2 + 2
    const workerData: IngestWorkerData = { precisionBits: o.aggregator.options.precisionBits, statsd: o.statsd ?? {}, emf: o.emf ?? {} }
    const nice = o.niceIncrement ?? 10
    // Up to 4 batches are posted to a worker ahead, so that it starts the next one as soon as
    // it is done instead of idling until the event loop has read its answer (which, under
    // load, waits behind thousands of datagrams): +8% throughput where the worker is the limit.
    // The worker handles them one after the other (the handler is synchronous).
    this.#piscina = new Piscina({ filename: o.workerFilename ?? ingestModule('worker.js'), minThreads: threads, maxThreads: threads, workerData, idleTimeout: 2 ** 31 - 1, niceIncrement: nice, concurrentTasksPerWorker: 4 })
    this.stats = { datagramsReceived: 0, datagramsDropped: 0, batchesSubmitted: 0, batchesFailed: 0, datagramsLostToWorkerFailure: 0, queuedBatches: 0, queuedBytes: 0, threads }
  }

  /** Takes one datagram (or one chunk of complete EMF lines). Copies it; never parses here. */
  push (kind: 'statsd' | 'emf', data: Uint8Array): void {
    if (this.#closed) { this.#agg.countRejected('closed', `${kind} datagram after the listener closed`); return }
    this.stats.datagramsReceived++
    const now = this.#agg.options.clock.now()
    let b = this.#open[kind]
    if (b !== null && (b.len + kRecordHeaderBytes + data.length > b.buf.length || Math.floor(now / kPeriodMs) !== Math.floor(b.startedAt / kPeriodMs))) {
      this.#submit(kind)
      b = null
    }
    if (b === null) {
      const need = data.length + kRecordHeaderBytes
      b = new Batch(need <= this.#batchBytes ? (this.#free.pop() ?? new Uint8Array(this.#batchBytes)) : new Uint8Array(need))
      b.startedAt = now
      this.#open[kind] = b
      this.#timers[kind] = setTimeout(() => { this.#timers[kind] = null; this.#submit(kind) }, this.#delayMs)
    }
    b.len = appendRecord(b.buf, b.len, data)
    b.records++
    if (b.len >= this.#batchBytes) this.#submit(kind)
  }

  #submit (kind: 'statsd' | 'emf'): void {
    const b = this.#open[kind]
    this.#open[kind] = null
    const t = this.#timers[kind]
    if (t !== null) { clearTimeout(t); this.#timers[kind] = null }
    if (b === null || b.records === 0) return
    this.#dispatch(kind, b.buf, b.len, b.records, b.startedAt, undefined)
  }

  /** The batch size the pool cuts at (and a receiving thread should). */
  get batchBytes (): number { return this.#batchBytes }
  /** How long a batch stays open at most. */
  get batchDelayMs (): number { return this.#delayMs }
  /** Bytes of batches waiting for a worker before datagrams are dropped. */
  get maxQueuedBytes (): number { return this.#maxQueuedBytes }

  /**
   * Takes a batch cut elsewhere (a receiving thread, see udp-receiver.ts): `records` records of
   * `[u32 little-endian length][bytes]` in `buf[0, len)`, received at `receivedAtMs`. `release`
   * gets the buffer back once it has been parsed (or dropped), or undefined when it was lost
   * with a failed worker.
   */
  submitBatch (kind: 'statsd' | 'emf', buf: Uint8Array, len: number, records: number, receivedAtMs: number, release: (buf: Uint8Array | undefined) => void): void {
    this.stats.datagramsReceived += records
    if (this.#closed) {
      this.#agg.countRejected('closed', `${records} ${kind} datagrams after the pool closed`, records)
      release(buf)
      return
    }
    this.#dispatch(kind, buf, len, records, receivedAtMs, release)
  }

  /** Counts `n` datagrams dropped because the ingest could not keep up (here, or in a receiving thread). */
  countOverloaded (n: number, message: string): void {
    this.stats.datagramsDropped += n
    this.#agg.countRejected('overloaded', message, n)
  }

  #dispatch (kind: 'statsd' | 'emf', buf: Uint8Array, len: number, records: number, receivedAt: number, release: ((buf: Uint8Array | undefined) => void) | undefined): void {
    // One batch always fits (one larger than the bound is a single huge datagram or chunk).
    if (this.stats.queuedBatches > 0 && (this.stats.queuedBytes + len > this.#maxQueuedBytes || this.stats.queuedBatches >= kMaxQueuedBatches)) {
      this.countOverloaded(records, `ingest queue full (${(this.stats.queuedBytes / 1_048_576).toFixed(1)} MiB in ${this.stats.queuedBatches} batches): dropped ${records} ${kind} datagrams; add --ingest-threads or reduce the send rate`)
      release?.(buf)
      return
    }
    this.stats.batchesSubmitted++
    this.stats.queuedBatches++
    this.stats.queuedBytes += len
    const task: IngestTask = { kind, buf, length: len, nowMs: this.#agg.options.clock.now() }
    const p = (this.#piscina.run(task, { transferList: [buf.buffer as ArrayBuffer] }) as Promise<IngestResult>).then(
      r => {
        if (release !== undefined) release(r.buf)
        else if (r.buf.byteLength === this.#batchBytes && this.#free.length < this.#maxFree) this.#free.push(r.buf)
        this.#agg.mergePartial(r.partial, receivedAt)
      },
      (err: unknown) => {
        release?.(undefined)
        this.stats.batchesFailed++
        this.stats.datagramsLostToWorkerFailure += records
        this.#agg.countRejected('worker_failed', `an ingest worker failed on a batch of ${records} ${kind} datagrams, which are lost: ${String((err as Error)?.message ?? err)}`, records)
      }).finally(() => { this.stats.queuedBatches--; this.stats.queuedBytes -= len; this.#pending.delete(p); this.#wakeWaiters() })
    this.#pending.add(p)
  }

  /**
   * True while the queue to the workers is at least half full: stream listeners (TCP) pause
   * their sockets, so that flow control, not loss, slows a fast sender down.
   */
  get saturated (): boolean { return this.stats.queuedBytes * 2 >= this.#maxQueuedBytes }

  /** Calls `fn` once the queue is down to a quarter (at once when it already is). */
  whenReady (fn: () => void): void {
    if (this.stats.queuedBytes * 4 <= this.#maxQueuedBytes) { fn(); return }
    this.#readyWaiters.push(fn)
  }

  #wakeWaiters (): void {
    if (this.#readyWaiters.length === 0 || this.stats.queuedBytes * 4 > this.#maxQueuedBytes) return
    const w = this.#readyWaiters
    this.#readyWaiters = []
    for (const fn of w) { try { fn() } catch { /* a waiter must not break the pool */ } }
  }

  /** Hands over open batches and waits until every batch has been merged. */
  async drain (): Promise<void> {
    this.#submit('statsd')
    this.#submit('emf')
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  /** Drains, then stops the workers. */
  async close (): Promise<void> {
    this.#closed = true
    await this.drain()
    await this.#piscina.destroy()
  }
}
