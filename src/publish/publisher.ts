/**
 * The publishing queue between the sealer and a sink: bounded, retried with exponential
 * backoff and full jitter, concurrency halved on throttling and grown back on success
 * (AIMD), batches split to isolate a datum the service rejects. Nothing leaves the queue
 * without being counted: published, failed (rejected by the service) or dropped (over the
 * memory budget).
 *
 * A request whose outcome is unknown (sent, never answered: the service may have stored it)
 * while the service answered nothing else either means the service may be hanging: each
 * resend could be counted again. Until a request succeeds, the publisher then sends one
 * request at a time, each carrying a single datum (a probe), with the usual backoff, and a
 * probe that gets no answer either goes behind the next one: so a hang costs one copy of what
 * was in flight when it began, plus at most one datum per probe, however long it lasts.
 */
import { batchDatums, datumBytes } from '../encode/batcher.js'
import type { DatumBatch } from '../encode/datum.js'
import { SinkError } from '../errors.js'
import type { MetricSink } from '../sinks/sink.js'
import type { Clock } from '../core/clock.js'
import type { Spool } from './spool.js'

/** Counters the publisher keeps (part of `stats()`). */
export interface PublishStats {
  datumsPublished: number
  requestsSent: number
  requestsSucceeded: number
  requestsFailed: number
  requestsThrottled: number
  requestsRetried: number
  /** Requests that got no answer (timed out, connection reset): the service may have stored them. */
  requestsUnanswered: number
  /** Datums the service rejected as invalid (after splitting to isolate them). */
  datumsFailed: number
  /** Datums dropped because the queue went over its memory budget. */
  datumsDropped: number
  datumsQueued: number
  bytesQueued: number
  inFlightRequests: number
  concurrency: number
  lastPublishAt: number
  lastError: string | null
  /**
   * Set while publishing is blocked by a permanent failure (`SinkError.permanent`): its
   * message. Cleared by the next request that succeeds.
   */
  blockedBy: string | null
  /** When the blocking failure first happened (clock ms), 0 when not blocked. */
  blockedSince: number
}

export interface PublisherOptions {
  sink: MetricSink
  clock: Clock
  maxConcurrentRequests: number
  maxQueuedBytes: number
  retryBaseMs: number
  retryMaxMs: number
  random: () => number
  onError: (err: SinkError) => void
  /** With a spool, every batch is journaled before it is sent, and the queue spills to disk past its budget. */
  spool?: Spool
}

/**
 * `spoolId` is the batch's journal entry, or -1 when it lives in memory only; `answeredAt` the
 * number of requests that had succeeded when it was last sent; `probe`: it was last sent while
 * an outcome was unknown.
 */
interface Pending { batch: DatumBatch, attempts: number, notBefore: number, spoolId: number, answeredAt: number, probe: boolean }

function pending (batch: DatumBatch, spoolId: number, attempts = 0): Pending {
  return { batch, attempts, notBefore: 0, spoolId, answeredAt: 0, probe: false }
}

export class Publisher {
  readonly stats: PublishStats
  readonly #o: PublisherOptions
  #queue: Pending[] = []
  #inFlight = new Set<Promise<void>>()
  /** The batches of the requests in flight. */
  readonly #sending = new Set<Pending>()
  #timer: unknown = undefined
  #timerAt = Infinity
  #concurrency: number
  #idleWaiters: Array<() => void> = []
  /** Journal ids of batches that are on disk only (the queue was over budget), oldest first. */
  #spilled: number[] = []
  /**
   * A request got no answer while the service answered nothing else, and none has succeeded
   * since: one request at a time, a single datum each, until one does.
   */
  #unsure = false
  /** Requests in a row that got no answer (since the last success): the backoff of a probe grows with it. */
  #unanswered = 0

  constructor (o: PublisherOptions) {
    this.#o = o
    this.#concurrency = o.maxConcurrentRequests
    this.stats = {
      datumsPublished: 0, requestsSent: 0, requestsSucceeded: 0, requestsFailed: 0, requestsThrottled: 0,
      requestsRetried: 0, requestsUnanswered: 0, datumsFailed: 0, datumsDropped: 0, datumsQueued: 0, bytesQueued: 0,
      inFlightRequests: 0, concurrency: o.maxConcurrentRequests, lastPublishAt: 0, lastError: null, blockedBy: null, blockedSince: 0,
    }
  }

  enqueue (batches: DatumBatch[]): void {
    const spool = this.#o.spool
    for (const batch of batches) {
      const id = spool !== undefined ? spool.append(batch) : -1
      if (id >= 0 && (this.#spilled.length > 0 || this.stats.bytesQueued + batch.bytes > this.#o.maxQueuedBytes)) {
        this.#spilled.push(id)   // on disk only until the queue drains
        continue
      }
      this.#push(pending(batch, id))
    }
    if (spool !== undefined) this.#enforceSpoolCap()
    this.#enforceBudget()
    this.kick()
  }

  #push (p: Pending): void {
    this.#queue.push(p)
    this.stats.datumsQueued += p.batch.datums.length
    this.stats.bytesQueued += p.batch.bytes
  }

  /** Batches journaled by an earlier process: queued for sending, oldest first. */
  recover (): number {
    const spool = this.#o.spool
    if (spool === undefined) return 0
    const ids = spool.ids()
    this.#spilled.push(...ids)
    this.kick()
    return ids.length
  }

  #enforceSpoolCap (): void {
    const spool = this.#o.spool!
    const dropped = spool.enforceCap()
    if (dropped.batches === 0) return
    const gone = new Set(dropped.ids)
    this.#spilled = this.#spilled.filter(id => !gone.has(id))
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      if (gone.has(this.#queue[i].spoolId)) { this.#unqueue(this.#queue[i].batch); this.#queue.splice(i, 1) }
    }
    this.stats.datumsDropped += dropped.datums
    this.#fail(new SinkError(`spool over its cap of ${spool.maxBytes} bytes: dropped the oldest ${dropped.batches} batches (${dropped.datums} datums); raise the spool size or restore the sink`, { retryable: false, datums: dropped.datums }))
  }

  /** Reads spilled batches back while the queue has room. */
  #refill (): void {
    const spool = this.#o.spool
    if (spool === undefined) return
    while (this.#spilled.length > 0 && this.stats.bytesQueued < this.#o.maxQueuedBytes) {
      const id = this.#spilled.shift()!
      const batch = spool.load(id)
      if (batch === undefined) continue   // damaged or gone: the spool said so, with what it held, and counted it
      this.#push(pending(batch, id))
    }
  }

  /**
   * Pending batches, oldest first (for close()): in flight (a request still unanswered at
   * the deadline may yet land: at-least-once), queued in memory, then spilled to disk.
   */
  pending (): DatumBatch[] {
    const out = [...this.#sending].map(p => p.batch)
    for (const p of this.#queue) if (!this.#sending.has(p)) out.push(p.batch)   // a retry is requeued a moment before it leaves #sending
    const kept: number[] = []
    for (const id of this.#spilled) { const b = this.#o.spool?.load(id); if (b !== undefined) { out.push(b); kept.push(id) } }
    this.#spilled = kept   // a damaged one is gone from the spool too
    return out
  }

  #belowWaiters: Array<{ bytes: number, resolve: () => void }> = []

  /** Resolves when the queue holds at most `bytes`, or after `timeoutMs` (real time). */
  whenBelow (bytes: number, timeoutMs: number): Promise<void> {
    if (this.stats.bytesQueued <= bytes) return Promise.resolve()
    return new Promise(resolve => {
      const w = { bytes, resolve }
      this.#belowWaiters.push(w)
      setTimeout(() => { this.#belowWaiters = this.#belowWaiters.filter(x => x !== w); resolve() }, timeoutMs).unref()
    })
  }

  #notifyBelow (): void {
    if (this.#belowWaiters.length === 0) return
    const keep: Array<{ bytes: number, resolve: () => void }> = []
    for (const w of this.#belowWaiters) { if (this.stats.bytesQueued <= w.bytes) w.resolve(); else keep.push(w) }
    this.#belowWaiters = keep
  }

  /** Pending batches that the spool keeps for the next start. */
  get spooledBatches (): number {
    if (this.#o.spool === undefined) return 0
    return [...this.#sending].filter(p => p.spoolId >= 0).length + this.#queue.filter(p => p.spoolId >= 0 && !this.#sending.has(p)).length + this.#spilled.length
  }

  get idle (): boolean { return this.#queue.length === 0 && this.#inFlight.size === 0 && this.#spilled.length === 0 }

  #enforceBudget (): void {
    if (this.#o.spool !== undefined && this.#queue.every(p => p.spoolId >= 0)) return   // journaled: the spool's cap governs
    while (this.stats.bytesQueued > this.#o.maxQueuedBytes && this.#queue.length > 1) {
      const p = this.#queue.shift()!
      this.#unqueue(p.batch)
      if (p.spoolId >= 0) this.#o.spool?.remove(p.spoolId)
      this.stats.datumsDropped += p.batch.datums.length
      this.#fail(new SinkError(`publish queue over its budget of ${this.#o.maxQueuedBytes} bytes: dropped the oldest batch of ${p.batch.datums.length} datums for ${p.batch.namespace}; raise maxQueuedBytes or configure a spool`, { retryable: false, datums: p.batch.datums.length }))
    }
  }

  #unqueue (b: DatumBatch): void {
    this.stats.datumsQueued -= b.datums.length
    this.stats.bytesQueued -= b.bytes
    this.#notifyBelow()
  }

  /** Starts sends up to the concurrency limit; `ignoreBackoff` sends batches still waiting too. */
  kick (ignoreBackoff = false): void {
    this.#refill()
    const now = this.#o.clock.now()
    let nextAt = Infinity
    // Oldest first, and no overtaking: while the head waits out its backoff (the service is
    // down or throttling), newer batches wait too, so an outage is replayed in order.
    // While an outcome is unknown, one request at a time, and a single datum (see above).
    while (this.#queue.length > 0 && this.#inFlight.size < (this.#unsure ? 1 : this.#concurrency)) {
      const p = this.#queue[0]
      if (!ignoreBackoff && p.notBefore > now) { nextAt = Math.min(nextAt, p.notBefore); break }
      if (this.#unsure && p.batch.datums.length > 1) this.#cutProbe(p)
      this.#send(this.#queue.shift()!)
    }
    for (const p of this.#queue) if (p.notBefore > now) nextAt = Math.min(nextAt, p.notBefore)
    this.#schedule(nextAt)
    this.#maybeIdle()
  }

  #schedule (at: number): void {
    if (at === Infinity || at >= this.#timerAt) return
    if (this.#timer !== undefined) this.#o.clock.clearTimer(this.#timer)
    this.#timerAt = at
    this.#timer = this.#o.clock.setTimer(() => { this.#timer = undefined; this.#timerAt = Infinity; this.kick() }, at - this.#o.clock.now())
  }

  /**
   * Splits the head batch into its first datum (the probe, left at the head) and the rest,
   * which inherits the attempts and waits behind it; both are journaled in place of the batch.
   */
  #cutProbe (p: Pending): void {
    const spool = this.#o.spool
    const [first, ...rest] = p.batch.datums
    const probe = batchDatums(p.batch.namespace, [first])[0]
    const remainder: DatumBatch = { namespace: p.batch.namespace, datums: rest, bytes: Math.max(0, p.batch.bytes - datumBytes(first) - 1) }
    this.#queue.shift()
    this.#unqueue(p.batch)
    for (const x of [remainder, probe]) {
      const id = p.spoolId >= 0 ? spool!.append(x) : -1
      const q = pending(x, id, p.attempts)
      this.#queue.unshift(q)
      this.stats.datumsQueued += x.datums.length
      this.stats.bytesQueued += x.bytes
    }
    if (p.spoolId >= 0) spool?.remove(p.spoolId)
  }

  #send (p: Pending): void {
    const s = this.stats
    s.requestsSent++
    if (p.attempts > 0) s.requestsRetried++
    p.attempts++
    p.answeredAt = s.requestsSucceeded
    p.probe = this.#unsure
    s.inFlightRequests++
    this.#sending.add(p)
    const done = this.#o.sink.send(p.batch).then(() => {
      s.requestsSucceeded++
      s.datumsPublished += p.batch.datums.length
      s.lastPublishAt = this.#o.clock.now()
      s.blockedBy = null
      s.blockedSince = 0
      this.#unsure = false
      this.#unanswered = 0
      this.#unqueue(p.batch)
      if (p.spoolId >= 0) this.#o.spool?.remove(p.spoolId)
      // Additive increase after a throttle-induced cut.
      if (this.#concurrency < this.#o.maxConcurrentRequests) this.#concurrency++
    }, (err: unknown) => { this.#failed(p, err) }).finally(() => {
      this.#sending.delete(p)
      s.inFlightRequests--
      this.#inFlight.delete(done)
      s.concurrency = this.#concurrency
      this.kick()
    })
    this.#inFlight.add(done)
  }

  #failed (p: Pending, err: unknown): void {
    const s = this.stats
    s.requestsFailed++
    const se = err instanceof SinkError ? err : new SinkError(`sink ${this.#o.sink.name} failed: ${(err as Error)?.message ?? String(err)}`, { retryable: true, datums: p.batch.datums.length, cause: err })
    s.lastError = se.message
    if (se.retryable || se.permanent) {
      if (se.throttled) {
        s.requestsThrottled++
        this.#concurrency = Math.max(1, this.#concurrency >> 1)   // multiplicative decrease
      }
      const now = this.#o.clock.now()
      if (se.permanent) {
        // Every request would fail the same way until someone fixes the setting: one try per
        // ceiling period, not the transient cadence; the data stays queued (or spooled).
        if (s.blockedBy === null) s.blockedSince = now
        s.blockedBy = se.message
        p.notBefore = now + this.#o.retryMaxMs
      } else {
        // The same exponential backoff with jitter whatever the failure, an unknown outcome
        // too; for one, the exponent counts the requests in a row that got no answer,
        // whichever datums they carried (each probe is another datum).
        if (se.outcomeUnknown) this.#unanswered++
        const n = se.outcomeUnknown ? Math.max(p.attempts, this.#unanswered) : p.attempts
        const cap = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.min(20, n - 1))
        p.notBefore = now + Math.floor(cap / 2 + this.#o.random() * cap / 2)
      }
      if (se.outcomeUnknown) {
        s.requestsUnanswered++
        // Nothing succeeded since it was sent: the service may be hanging, not one answer lost.
        if (s.requestsSucceeded === p.answeredAt) this.#unsure = true
      }
      if (se.outcomeUnknown && p.probe && this.#queue.length > 0) {
        // A probe that got no answer either goes behind the next batch, which waits out its
        // backoff: the next probe is another datum, so no datum is stored over and over.
        const next = this.#queue[0]
        next.notBefore = Math.max(next.notBefore, p.notBefore)
        this.#queue.splice(1, 0, p)
      } else {
        this.#queue.unshift(p)   // keep order: retries go before newer data
      }
      this.#o.onError(se)
      return
    }
    const n = p.batch.datums.length
    if (n > 1) {
      // One bad datum must not take its neighbours down: split and send the halves.
      this.#unqueue(p.batch)
      const half = n >> 1
      const a = { namespace: p.batch.namespace, datums: p.batch.datums.slice(0, half), bytes: Math.ceil(p.batch.bytes / 2) }
      const b = { namespace: p.batch.namespace, datums: p.batch.datums.slice(half), bytes: Math.ceil(p.batch.bytes / 2) }
      for (const x of [b, a]) {
        const id = p.spoolId >= 0 ? this.#o.spool!.append(x) : -1
        this.#queue.unshift(pending(x, id))
        s.datumsQueued += x.datums.length
        s.bytesQueued += x.bytes
      }
      if (p.spoolId >= 0) this.#o.spool?.remove(p.spoolId)
      return
    }
    this.#unqueue(p.batch)
    if (p.spoolId >= 0) this.#o.spool?.remove(p.spoolId)
    s.datumsFailed += n
    this.#fail(se)
  }

  #fail (e: SinkError): void {
    this.stats.lastError = e.message
    this.#o.onError(e)
  }

  #maybeIdle (): void {
    if (!this.idle || this.#idleWaiters.length === 0) return
    const w = this.#idleWaiters
    this.#idleWaiters = []
    for (const f of w) f()
  }

  /** Sends everything queued now (backoff ignored) and waits for those attempts to settle. */
  async flushOnce (): Promise<void> {
    const rounds = this.#queue.length + 1
    for (let i = 0; i < rounds && (this.#queue.length > 0 || this.#inFlight.size > 0); i++) {
      this.kick(true)
      // Each answer starts the next queued batch: wait until nothing is in flight at all.
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
      // Stop when only batches that failed in this flush remain (they wait for their backoff),
      // or when a permanent failure blocks everything (one try is enough to know).
      if (this.stats.blockedBy !== null || this.#queue.every(p => p.notBefore > this.#o.clock.now())) break
    }
  }

  /** Resolves when the queue is empty and nothing is in flight, or at `deadline` (epoch ms, real time). */
  async drain (deadlineMs: number): Promise<boolean> {
    // One immediate try for everything, then the normal backoff (no hammering at shutdown).
    const now = this.#o.clock.now()
    for (const p of this.#queue) if (p.notBefore > now) p.notBefore = now
    while (!this.idle) {
      const left = deadlineMs - Date.now()
      if (left <= 0) return false
      this.kick()
      const idle = new Promise<void>(resolve => { this.#idleWaiters.push(resolve) })
      let t: NodeJS.Timeout | undefined
      const timeout = new Promise<void>(resolve => { t = setTimeout(resolve, Math.min(left, 250)) })
      await Promise.race([idle, timeout, ...this.#inFlight])
      clearTimeout(t)
    }
    return true
  }

  stop (): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimer(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }
}
