/**
 * The log shipper: queues lines per (group, stream) and delivers them to a {@link LogSink}
 * in order, batched within the sink's limits, retrying what failed.
 *
 * Guarantees, and their limits:
 *
 * - **Order.** Each stream has one queue and at most one request in flight; a batch leaves
 *   the queue only once the sink accepted it, and the next batch is cut from what follows.
 *   Timestamps are the time a line was read, made non-decreasing per stream (a clock that
 *   steps back by up to an hour is absorbed; CloudWatch Logs orders a stream by timestamp,
 *   and a batch must be chronological), so what a reader gets back is the order the lines
 *   were written in.
 * - **Once.** A failed request is retried with the same events at the head of the queue,
 *   so nothing is skipped. A duplicate is possible only in one case the protocol cannot
 *   resolve: the service stored a batch but its answer never arrived (a timeout, a reset
 *   connection, a 5xx after the commit). PutLogEvents no longer has a sequence token or any
 *   idempotency key, so the retry stores that batch again. The duplicate window is therefore
 *   **at most one batch per stream per such failure**, kept in order (the batch appears twice,
 *   back to back, never interleaved); nothing else is ever sent twice.
 * - **Bounded memory.** All streams together hold at most `maxQueuedBytes`. Past it, new lines
 *   are dropped and counted, and when room returns a marker event says how many were lost at
 *   that point, so a gap is visible in the stream itself.
 * - **Events the service refuses** (older than 14 days, more than 2 hours ahead: reported in
 *   `rejectedLogEventsInfo`) are counted, not retried; events that grew older than 14 days
 *   while waiting are dropped before sending. A batch the service calls invalid is halved until
 *   the one offending event is found; that event is dropped and counted.
 */
import { systemClock, type Clock } from '../core/clock.js'
import { invalidOption } from '../errors.js'
import { batchEnd, type QueuedEvent } from './batch.js'
import { kMaxEventAgeMs, kMaxEventMessageBytes } from './limits.js'
import { splitUtf8 } from './lines.js'
import { LogSinkError, type LogEvent, type LogSink, type LogStreamRef, type PutResult } from './sink.js'

/** Options of {@link createLogShipper}. */
export interface LogShipperOptions {
  /** Where batches go. */
  sink: LogSink
  /** A partial batch waits at most this long before it is sent. @default 1000 */
  flushIntervalMs?: number
  /** Memory budget of all queues together, in bytes (messages + overhead). @default 64 MiB */
  maxQueuedBytes?: number
  /** Longest message of one event (UTF-8 bytes); longer lines are split. @default 262,118 */
  maxEventMessageBytes?: number
  /** First retry delay (full jitter, doubling). @default 200 */
  retryBaseMs?: number
  /** Longest retry delay. @default 30000 */
  retryMaxMs?: number
  /** Time and timers. @default the system clock */
  clock?: Clock
  /** Random source of the jitter. @default Math.random */
  random?: () => number
  /** Receives warnings (each kind at most once a minute). @default process.emitWarning */
  onWarning?: (message: string) => void
  /**
   * Receives a failure that needs a person (a `blocked` sink error: access denied, no
   * credentials, no region), at once, each time delivery becomes blocked. @default onWarning
   */
  onError?: (message: string) => void
}

/** Writes lines into one stream. */
export interface LogStreamWriter extends LogStreamRef {
  /**
   * Queues one line. Empty lines are skipped (CloudWatch refuses empty events); lines longer
   * than one event are split. `timestamp` defaults to now. Never throws.
   */
  write (message: string, timestamp?: number): void
}

/** Counters of a shipper. */
export interface LogShipperStats {
  /** Lines given to `write()`. */
  linesWritten: number
  /** Empty lines skipped. */
  linesEmpty: number
  /** Extra events made by splitting over-long lines. */
  linesSplit: number
  /** Events waiting now, and their bytes. */
  eventsQueued: number
  bytesQueued: number
  /** Events the sink accepted. */
  eventsSent: number
  /** Calls that succeeded / failed / were retries of a failed batch. */
  requestsSent: number
  requestsFailed: number
  requestsRetried: number
  /** Lines dropped because the queue was full (or the shipper closed). */
  eventsDropped: number
  /** Events the service refused in an accepted batch (too old, too new, expired). */
  eventsRejected: number
  /** Events that aged past 14 days in the queue and were dropped. */
  eventsExpired: number
  /** Events dropped because the service called them invalid, or after a fatal error. */
  eventsFailed: number
  /** Set while delivery is blocked by a failure only a person can fix (a `blocked` sink error): its message. */
  blockedBy: string | null
  /** When that began (clock ms); 0 when not blocked. */
  blockedSince: number
}

/** What `close()` resolves to. */
export interface LogShipperCloseResult {
  /** Events that could not be delivered before the deadline. */
  eventsUnsent: number
  stats: LogShipperStats
}

/** A running shipper. */
export interface LogShipper {
  readonly sink: LogSink
  /** The writer of one stream (the same object for the same group and stream). */
  stream (group: string, stream: string): LogStreamWriter
  /** Sends every queued event now and waits until each stream is empty or waiting to retry. */
  flush (): Promise<void>
  /**
   * Sends everything, retrying until `timeoutMs` passes; in-flight calls are aborted at the
   * deadline. Later writes are dropped. Closes the sink. Idempotent.
   */
  close (timeoutMs?: number): Promise<LogShipperCloseResult>
  stats (): LogShipperStats
}

/** Dropping an event that waited this close to 14 days: the service would refuse it by the time it arrives. */
const kExpiryMarginMs = 10 * 60_000
/** A clock step back up to this much is absorbed by keeping timestamps non-decreasing. */
const kClampWindowMs = 3600_000
const kWarnIntervalMs = 60_000

interface StreamState extends LogStreamWriter {
  queue: QueuedEvent[]
  head: number
  /** Bytes of the queued events of this stream. */
  bytes: number
  lastTs: number
  ensured: boolean
  sending: boolean
  timer: unknown
  retryTimer: unknown
  attempt: number
  /** While isolating an invalid event: the most events a batch may take. */
  cap: number
  notFoundRetried: boolean
  dropped: number
}

/** The defaults of {@link LogShipperOptions} that the CLI's flags show (`--log-flush-ms`, `--log-max-queued-bytes`). */
export const kLogShipperDefaults = Object.freeze({
  flushIntervalMs: 1000,
  maxQueuedBytes: 64 * 1024 * 1024,
})

/** Creates a shipper. */
export function createLogShipper (options: LogShipperOptions): LogShipper {
  const sink = options.sink
  if (typeof sink?.put !== 'function') throw invalidOption('options.sink must be a LogSink (an object with put())')
  const clock = options.clock ?? systemClock
  const flushIntervalMs = options.flushIntervalMs ?? kLogShipperDefaults.flushIntervalMs
  const maxQueuedBytes = options.maxQueuedBytes ?? kLogShipperDefaults.maxQueuedBytes
  const maxMessage = Math.min(options.maxEventMessageBytes ?? kMaxEventMessageBytes, sink.maxBatchBytes - sink.eventOverheadBytes)
  const retryBaseMs = options.retryBaseMs ?? 200
  const retryMaxMs = options.retryMaxMs ?? 30_000
  const random = options.random ?? Math.random
  const limits = { maxEvents: sink.maxEventsPerBatch, maxBytes: sink.maxBatchBytes }
  const overhead = sink.eventOverheadBytes
  for (const [k, v] of Object.entries({ flushIntervalMs, maxQueuedBytes, retryBaseMs, retryMaxMs, maxEventMessageBytes: maxMessage })) {
    if (!(Number.isFinite(v) && v >= 0)) throw invalidOption(`options.${k} must be a non-negative number; got ${String(v)}`)
  }
  if (maxMessage < 4) throw invalidOption(`options.maxEventMessageBytes must be at least 4; got ${maxMessage}`)

  const lastWarn = new Map<string, number>()
  const warn = (key: string, message: string): void => {
    const now = clock.now()
    const last = lastWarn.get(key)
    if (last !== undefined && now - last < kWarnIntervalMs) return
    lastWarn.set(key, now)
    if (options.onWarning !== undefined) options.onWarning(message)
    else process.emitWarning(message, { code: 'METRICS_WARN_LOGS' })
  }

  const st: LogShipperStats = {
    linesWritten: 0, linesEmpty: 0, linesSplit: 0, eventsQueued: 0, bytesQueued: 0, eventsSent: 0, requestsSent: 0,
    requestsFailed: 0, requestsRetried: 0, eventsDropped: 0, eventsRejected: 0, eventsExpired: 0, eventsFailed: 0,
    blockedBy: null, blockedSince: 0,
  }
  const streams = new Map<string, StreamState>()
  const abort = new AbortController()
  let closing = false
  let closed = false
  let closePromise: Promise<LogShipperCloseResult> | undefined
  let deadline = Infinity
  /** Flushers waiting for every stream to be idle. */
  let idleWaiters: Array<() => void> = []
  /** While > 0, partial batches go out at once. */
  let urgent = 0

  const queued = (s: StreamState): number => s.queue.length - s.head
  const hurry = (): boolean => closing || urgent > 0 || flushIntervalMs === 0

  function enqueue (s: StreamState, message: string, ts: number): boolean {
    const bytes = Buffer.byteLength(message, 'utf8') + overhead
    if (st.bytesQueued + bytes > maxQueuedBytes) return false
    s.queue.push({ timestamp: ts, message, bytes })
    s.bytes += bytes
    st.eventsQueued++
    st.bytesQueued += bytes
    return true
  }

  function write (s: StreamState, message: string, timestamp?: number): void {
    st.linesWritten++
    if (typeof message !== 'string') message = String(message)
    if (message.length === 0) { st.linesEmpty++; return }
    if (closed || (closing && clock.now() >= deadline)) {
      st.eventsDropped++
      warn('closed', `log line for ${s.group} ${s.stream} dropped: the log shipper is closed`)
      return
    }
    let ts = timestamp ?? clock.now()
    if (!Number.isFinite(ts)) ts = clock.now()
    ts = Math.trunc(ts)
    if (ts < s.lastTs && s.lastTs - ts <= kClampWindowMs) ts = s.lastTs
    s.lastTs = ts
    if (s.dropped > 0) {
      const marker = `[minutely] ${s.dropped} log line${s.dropped === 1 ? '' : 's'} dropped here: the log queue was full (${maxQueuedBytes} bytes)`
      if (!enqueue(s, marker, ts)) { s.dropped++; st.eventsDropped++; return }
      s.dropped = 0
    }
    const pieces = splitUtf8(message, maxMessage)
    st.linesSplit += pieces.length - 1
    for (const p of pieces) {
      if (!enqueue(s, p, ts)) {
        s.dropped++
        st.eventsDropped++
        warn('queue-full', `log lines dropped: the log queue is full (${maxQueuedBytes} bytes); is ${sink.name} reachable?`)
      }
    }
    schedule(s)
  }

  function fullBatchWaiting (s: StreamState): boolean {
    return queued(s) >= limits.maxEvents || s.bytes >= limits.maxBytes
  }

  function schedule (s: StreamState): void {
    if (s.sending || s.retryTimer !== undefined || queued(s) === 0) return
    if (hurry() || fullBatchWaiting(s)) {
      if (s.timer !== undefined) { clock.clearTimer(s.timer); s.timer = undefined }
      void pump(s, true)
      return
    }
    if (s.timer === undefined) {
      s.timer = clock.setTimer(() => { s.timer = undefined; void pump(s, true) }, flushIntervalMs)
    }
  }

  /** A failure only a person can fix: said at once (not once a minute), then retried at the ceiling. */
  function blocked (s: StreamState, message: string): void {
    if (st.blockedBy === null) {
      st.blockedSince = clock.now()
      const m = `${sink.name} refuses the log events of ${s.group} ${s.stream} until the configuration is fixed (they are kept and retried every ${retryMaxMs} ms): ${message}`
      if (options.onError !== undefined) options.onError(m)
      else warn('blocked', m)
    }
    st.blockedBy = message
    backoff(s, true)
  }

  function unblocked (): void {
    st.blockedBy = null
    st.blockedSince = 0
  }

  function backoff (s: StreamState, atCeiling = false): void {
    const exp = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(s.attempt, 30))
    s.attempt++
    let delay = atCeiling ? retryMaxMs : random() * exp
    if (closing) delay = Math.max(0, Math.min(delay, deadline - clock.now()))
    s.retryTimer = clock.setTimer(() => { s.retryTimer = undefined; void pump(s, true) }, delay)
  }

  function dropHead (s: StreamState, n: number): void {
    for (let i = 0; i < n; i++) {
      const b = s.queue[s.head + i].bytes
      st.bytesQueued -= b
      s.bytes -= b
    }
    st.eventsQueued -= n
    s.head += n
    if (s.head === s.queue.length) { s.queue = []; s.head = 0 } else if (s.head > 4096 && s.head * 2 > s.queue.length) {
      s.queue = s.queue.slice(s.head)
      s.head = 0
    }
  }

  function countRejected (s: StreamState, n: number, r: PutResult | undefined): void {
    const rej = r?.rejected
    if (rej === undefined) return
    let bad = 0
    const old = Math.max(rej.tooOldEndIndex ?? -1, rej.expiredEndIndex ?? -1)
    if (old >= 0) bad += Math.min(n, old + 1)
    if (rej.tooNewStartIndex !== undefined && rej.tooNewStartIndex >= 0) bad += Math.max(0, n - Math.max(rej.tooNewStartIndex, old + 1))
    if (bad > 0) {
      st.eventsRejected += bad
      warn('rejected', `${bad} log events of ${s.group} ${s.stream} were refused by ${sink.name} (too old or too far in the future: is the clock right?)`)
    }
  }

  /**
   * Sends the stream's queue, batch after batch, one call at a time. `partial`: a batch that
   * is not full may go (the flush timer fired, a retry, a flush or close); after the first
   * success only full batches go, unless hurrying, and the rest waits for the timer.
   */
  async function pump (s: StreamState, partial: boolean): Promise<void> {
    if (s.sending || s.retryTimer !== undefined) return
    s.sending = true
    let retrying = false
    try {
      while (queued(s) > 0) {
        if (abort.signal.aborted) return
        if (!partial && !hurry() && !fullBatchWaiting(s)) return
        // Events that waited too long would be refused: drop them here, counted.
        const oldest = clock.now() - kMaxEventAgeMs + kExpiryMarginMs
        let expired = 0
        while (s.head + expired < s.queue.length && s.queue[s.head + expired].timestamp < oldest) expired++
        if (expired > 0) {
          dropHead(s, expired)
          st.eventsExpired += expired
          warn('expired', `${expired} log events of ${s.group} ${s.stream} were dropped: they waited close to 14 days, which CloudWatch Logs refuses`)
          continue
        }
        if (!s.ensured && sink.ensureStream !== undefined) {
          try {
            await sink.ensureStream(s, abort.signal)
            s.ensured = true
            unblocked()
          } catch (err) {
            st.requestsFailed++
            if (abort.signal.aborted) return
            const kind = err instanceof LogSinkError ? err.kind : 'retryable'
            if (kind === 'blocked') {
              blocked(s, `cannot create log group/stream: ${(err as Error).message}`)
              retrying = true
              return
            }
            warn(`ensure-${kind}`, `cannot create log group/stream ${s.group} ${s.stream} (${kind}): ${(err as Error).message}`)
            if (kind === 'fatal' || kind === 'invalid') {
              const n = queued(s)
              dropHead(s, n)
              st.eventsFailed += n
              continue
            }
            backoff(s)
            retrying = true
            return
          }
        }
        const end = batchEnd(s.queue, s.head, limits, s.cap)
        const n = end - s.head
        const events: LogEvent[] = new Array(n)
        for (let i = 0; i < n; i++) {
          const e = s.queue[s.head + i]
          events[i] = { timestamp: e.timestamp, message: e.message }
        }
        if (s.attempt > 0) st.requestsRetried++
        let result: PutResult | undefined
        try {
          result = await sink.put(s, events, abort.signal)
        } catch (err) {
          st.requestsFailed++
          if (abort.signal.aborted) return
          const kind = err instanceof LogSinkError ? err.kind : 'retryable'
          const msg = (err as Error).message
          switch (kind) {
            case 'not_found':
              s.ensured = false
              if (!s.notFoundRetried && sink.ensureStream !== undefined) { s.notFoundRetried = true; continue }
              warn('not-found', `log group/stream ${s.group} ${s.stream} is missing and could not be created: ${msg}`)
              backoff(s)
              retrying = true
              return
            case 'invalid':
              if (n > 1) { s.cap = Math.ceil(n / 2); continue }
              dropHead(s, 1)
              st.eventsFailed++
              s.cap = Infinity
              warn('invalid', `a log event of ${s.group} ${s.stream} was refused as invalid and dropped: ${msg}`)
              continue
            case 'fatal':
              dropHead(s, n)
              st.eventsFailed += n
              s.cap = Infinity
              warn('fatal', `${n} log events of ${s.group} ${s.stream} were dropped: ${msg}`)
              continue
            case 'blocked':
              blocked(s, msg)
              retrying = true
              return
            default:
              warn(`retry-${kind}`, `sending log events of ${s.group} ${s.stream} failed, will retry: ${msg}`)
              backoff(s)
              retrying = true
              return
          }
        }
        st.requestsSent++
        st.eventsSent += n
        unblocked()
        countRejected(s, n, result)
        dropHead(s, n)
        s.attempt = 0
        s.notFoundRetried = false
        partial = s.cap !== Infinity // still isolating an invalid event: go on at once
        if (queued(s) === 0) s.cap = Infinity
      }
    } finally {
      s.sending = false
      if (!retrying && !abort.signal.aborted) schedule(s)
      checkIdle()
    }
  }

  function getStream (group: string, stream: string): StreamState {
    const key = group + '\u0000' + stream
    let s = streams.get(key)
    if (s === undefined) {
      const state: StreamState = {
        group,
        stream,
        write: (message: string, timestamp?: number) => { write(state, message, timestamp) },
        queue: [],
        head: 0,
        bytes: 0,
        lastTs: -Infinity,
        ensured: false,
        sending: false,
        timer: undefined,
        retryTimer: undefined,
        attempt: 0,
        cap: Infinity,
        notFoundRetried: false,
        dropped: 0,
      }
      s = state
      streams.set(key, s)
    }
    return s
  }

  function idle (): boolean {
    for (const s of streams.values()) {
      if (s.sending) return false
      if (queued(s) > 0 && s.retryTimer === undefined && !abort.signal.aborted) return false
      if (closing && queued(s) > 0 && !abort.signal.aborted) return false
    }
    return true
  }

  function checkIdle (): void {
    if (idleWaiters.length === 0 || !idle()) return
    const w = idleWaiters
    idleWaiters = []
    for (const f of w) f()
  }

  const waitIdle = (): Promise<void> => new Promise<void>(resolve => {
    if (idle()) { resolve(); return }
    idleWaiters.push(resolve)
  })

  return {
    sink,
    stream (group: string, stream: string): LogStreamWriter {
      return getStream(group, stream)
    },
    async flush () {
      urgent++
      try {
        for (const s of streams.values()) {
          if (s.timer !== undefined) { clock.clearTimer(s.timer); s.timer = undefined }
          void pump(s, true)
        }
        await waitIdle()
      } finally {
        urgent--
      }
    },
    close (timeoutMs = 10_000) {
      closePromise ??= (async () => {
        closing = true
        deadline = clock.now() + timeoutMs
        const timer = clock.setTimer(() => {
          abort.abort(new LogSinkError('the log shipper close deadline passed', 'retryable'))
          for (const s of streams.values()) {
            if (s.retryTimer !== undefined) { clock.clearTimer(s.retryTimer); s.retryTimer = undefined }
          }
          checkIdle()
        }, timeoutMs)
        for (const s of streams.values()) {
          if (s.timer !== undefined) { clock.clearTimer(s.timer); s.timer = undefined }
          if (s.retryTimer !== undefined) { clock.clearTimer(s.retryTimer); s.retryTimer = undefined }
          void pump(s, true)
        }
        await waitIdle()
        clock.clearTimer(timer)
        closed = true
        for (const s of streams.values()) {
          if (s.timer !== undefined) clock.clearTimer(s.timer)
          if (s.retryTimer !== undefined) clock.clearTimer(s.retryTimer)
        }
        const unsent = st.eventsQueued
        if (unsent > 0) warn('close-unsent', `${unsent} log events could not be delivered to ${sink.name} before the close deadline (${timeoutMs} ms)`)
        try { await sink.close?.() } catch { /* best effort */ }
        return { eventsUnsent: unsent, stats: { ...st } }
      })()
      return closePromise
    },
    stats: () => ({ ...st }),
  }
}
