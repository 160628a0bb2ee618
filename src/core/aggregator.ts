/**
 * The aggregation engine: series registry, minute store, sealer and the publishing queue.
 *
 * Time: reading the clock costs ~32 ns here (Date.now), more than the whole budget of
 * `handle.record()`. So the engine keeps the current period itself and moves it with one
 * unref'd timer set at each minute boundary; a handle only compares an integer epoch.
 * A sample recorded between the boundary and the timer firing (event-loop lag, normally
 * well under a millisecond) lands in the minute that just ended. Samples with an explicit
 * `timestamp` always land in the minute of that timestamp.
 */
import { EventEmitter } from 'node:events'
import { ConfigError, MetricsError, SinkError } from '../errors.js'
import { codeOf, isRejection, kRejectReasons, type RejectReason, type Rejection } from '../samples/reasons.js'
import type { SampleReceiver } from '../samples/receiver.js'
import { checkCount, checkTimestamp, checkValue, inRange } from '../samples/checks.js'
import { nameOf } from '../samples/show.js'
import { kPeriodMs, type StandardUnit } from '../limits.js'
import { normalizeOptions, type AggregatorOptions, type ResolvedOptions } from '../options.js'
import { canonicalDimensions, checkMetricName, checkNamespace, checkUnit } from '../dimensions/validate.js'
import type { Dimension, SeriesInfo } from '../encode/datum.js'
import { LookupTrie } from '../registry/lookup-trie.js'
import { Sealer, kSealSliceMs } from '../seal/sealer.js'
import { summarize, type MinuteSummary, type SeriesSummary } from '../seal/summary.js'
import { decodeCheckpoint, encodeCheckpoint, kCheckpointFormat, type CheckpointEntry } from '../store/checkpoint.js'
import { Histogram } from '../store/histogram.js'
import type { PackedPartial } from '../store/partial.js'
import type { DatumBatch } from '../encode/datum.js'
import type { MetricSink } from '../sinks/sink.js'
import { cloudWatchSink } from '../sinks/cloudwatch.js'
import { Publisher, type PublishStats } from './publisher.js'
import { Warner } from './warn.js'
import { Spool, type SpoolStats } from './spool.js'

/** Per-sample options of `record()`. */
export interface RecordOptions {
  /** Unit of the series. @default the aggregator's defaultUnit ('None') */
  unit?: StandardUnit
  /** When the sample was taken: epoch milliseconds or a Date. @default now */
  timestamp?: number | Date
  /** Weight of the sample (a StatsD sample rate of 0.1 is a count of 10). @default 1 */
  count?: number
  /** Namespace of the series. @default the aggregator's namespace */
  namespace?: string
}

/** Options of `series()`. */
export interface SeriesOptions {
  unit?: StandardUnit
  namespace?: string
}

export type { SeriesInfo } from '../encode/datum.js'
export type { MinuteSummary, SeriesSummary } from '../seal/summary.js'

/** One series of a minute, as the `seal` event and `snapshot()` report it. */
export type SealedSeries = SeriesSummary

/** What the `seal` event carries: one sealed minute, or a late delta of one. */
export type SealedPeriod = MinuteSummary

/** What `snapshot()` returns: the minutes still open and the last sealed ones. */
export interface Snapshot {
  now: number
  /** The minutes not sealed yet, computed now from the live histograms (never late). */
  open: MinuteSummary[]
  sealed: SealedPeriod[]
}

/** The counters of `stats()`. */
export interface AggregatorStats extends PublishStats, SpoolStats {
  samplesAccepted: number
  samplesRejected: number
  rejectedByReason: Record<RejectReason, number>
  /** Samples for a minute already published: sent as an extra datum CloudWatch merges. */
  samplesLate: number
  /** Samples folded into an overflow series because maxSeries was reached. */
  samplesOverflowed: number
  /** Overflow series in use (one per metric that hit the cap). */
  overflowSeries: number
  activeSeries: number
  seriesEvicted: number
  openPeriods: number
  periodsSealed: number
}

/** What `flush()` and `close()` resolve to. */
export interface FlushResult {
  /** Datums published by this call. */
  datumsPublished: number
  /** Datums still queued (waiting for a retry). */
  datumsPending: number
  /** Errors the sink raised during this call. */
  errors: SinkError[]
}

export interface CloseResult extends FlushResult {
  /** Batches that could not be published before the deadline, so that the caller can keep them. */
  unsent: DatumBatch[]
  /** Of those, batches the spool keeps on disk for the next start. */
  spooledBatches: number
}

interface Series extends SeriesInfo {
  readonly id: number
  readonly key: string
  epoch: number
  current: Histogram | null
  lastUsed: number
  pinned: boolean
  overflow: boolean
}

const kOverflowDimension = 'minutely_overflow'

/**
 * A pre-resolved series. `record(v)` is the hot path: it validates the value, compares an
 * integer epoch and adds to the open minute's aggregate; it allocates nothing and builds no
 * string, and never throws.
 */
export class SeriesHandle {
  readonly #s: Series
  readonly #core: Core
  /** @internal */
  constructor (s: Series, core: Core) { this.#s = s; this.#core = core }

  /** The series this handle records into. */
  get info (): SeriesInfo { const s = this.#s; return { namespace: s.namespace, metric: s.metric, unit: s.unit, dimensions: s.dimensions } }

  /** Records one sample in the current minute. Bad values are counted and dropped. */
  record (v: number): void {
    if (!inRange(v)) { this.#core.rejectValue(v, this.#s.metric); return }
    const s = this.#s
    if (s.epoch !== this.#core.epoch && !this.#core.refresh(s)) return
    s.current!.addOne(v)
    this.#core.accepted++
  }

  /** Records a sample with a weight and/or a timestamp (epoch ms; NaN for now). */
  recordWith (v: number, count: number, timestampMs: number): void {
    const bad = checkValue(v) ?? checkCount(count)
    if (bad !== null) { this.#core.reject(bad.reason, `${this.#s.metric}: ${bad.message}`); return }
    if (timestampMs !== timestampMs) {
      const s = this.#s
      if (s.epoch !== this.#core.epoch && !this.#core.refresh(s)) return
      s.current!.add(v, count)
      this.#core.accepted++
      return
    }
    this.#core.recordAt(this.#s, v, count, timestampMs)
  }
}

/** The engine's state that handles touch. Not exported from the package. */
class Core {
  epoch = 0
  accepted = 0
  constructor (readonly rejectValue: (v: number, metric: string) => void,
    readonly reject: (reason: RejectReason, message: string) => void,
    readonly refresh: (s: Series) => boolean,
    readonly recordAt: (s: Series, v: number, count: number, t: number) => void) {}
}

/**
 * The aggregator. Emits `'error'` (a {@link SinkError}) when publishing fails, but only when
 * someone listens — otherwise failures become rate-limited warnings, never a crash — and
 * `'seal'` (a {@link SealedPeriod}) each time a minute is sealed.
 */
export class Aggregator extends EventEmitter {
  readonly options: ResolvedOptions
  readonly sink: MetricSink
  readonly #core: Core
  readonly #warner: Warner
  readonly #publisher: Publisher
  readonly #sealer: Sealer<Series>
  readonly #spool: Spool | undefined
  #checkpointTimer: unknown = undefined
  readonly #registry = new Map<string, Series>()
  readonly #overflow = new Map<string, Series>()
  #nextId = 0
  readonly #trie = new LookupTrie<SeriesHandle>()
  /** period start → series → aggregate, for every minute not yet sealed. */
  readonly #periods = new Map<number, Map<Series, Histogram>>()
  /** Deltas for minutes already sealed. */
  readonly #late = new Map<number, Map<Series, Histogram>>()
  #currentStart: number
  /** Every period starting at or before this one has been sealed. */
  #sealedThrough = -Infinity
  #timer: unknown = undefined
  #closed = false
  #closing: Promise<CloseResult> | undefined
  readonly #rejected: Record<RejectReason, number>
  #rejectedTotal = 0
  #late_ = 0
  #overflowed = 0
  #evicted = 0
  #errorsSink: SinkError[] | null = null
  #keepSealed = 0
  readonly #recentSealed: SealedPeriod[] = []

  constructor (options: AggregatorOptions) {
    super()
    this.options = normalizeOptions(options)
    const o = this.options
    this.sink = o.sink ?? cloudWatchSink()
    this.#warner = new Warner(o.warningIntervalMs, () => o.clock.now(), o.onWarning)
    this.#rejected = Object.fromEntries(kRejectReasons.map(r => [r, 0])) as Record<RejectReason, number>
    this.#core = new Core(
      (v, metric) => { const b = checkValue(v); this.#reject(b!.reason, `${nameOf(metric)}: ${b!.message}`) },
      (reason, message) => { this.#reject(reason, message) },
      s => this.#refresh(s),
      (s, v, c, t) => { this.#recordAt(s, v, c, t) })
    this.#spool = o.spoolDir !== undefined ? new Spool(o.spoolDir, o.spoolMaxBytes, () => o.clock.now()) : undefined
    this.#publisher = new Publisher({
      spool: this.#spool,
      sink: this.sink,
      clock: o.clock,
      maxConcurrentRequests: o.maxConcurrentRequests,
      maxQueuedBytes: o.maxQueuedBytes,
      retryBaseMs: o.retryBaseMs,
      retryMaxMs: o.retryMaxMs,
      random: o.random,
      onError: e => { this.#sinkError(e) },
    })
    this.#sealer = new Sealer({
      queue: this.#publisher,
      limits: this.sink,
      maxQueuedBytes: o.maxQueuedBytes,
      journaled: this.#spool !== undefined,
      wantsSummary: () => this.listenerCount('seal') > 0 || this.#keepSealed > 0,
      onSealed: summary => { this.#sealed(summary) },
    })
    const now = o.clock.now()
    this.#currentStart = now - (now % kPeriodMs)
    if (this.#spool !== undefined) {
      this.#restoreCheckpoint()
      const n = this.#publisher.recover()
      if (n > 0) this.#warner.warn('spool-recover', 'METRICS_ERR_SINK', `spool ${this.#spool.dir}: replaying ${n} batches left by an earlier run`)
      this.#scheduleCheckpoint()
    }
    this.#schedule(now)
  }

  // ---------------------------------------------------------------- checkpoint

  #scheduleCheckpoint (): void {
    this.#checkpointTimer = this.options.clock.setTimer(() => {
      if (this.#closed) return
      this.#checkpoint()
      this.#scheduleCheckpoint()
    }, this.options.checkpointIntervalMs)
  }

  /** Writes every histogram not yet handed to the publisher (open minutes, late deltas, minutes being sealed). */
  #checkpoint (): void {
    if (this.#spool === undefined) return
    const entries: CheckpointEntry[] = []
    const histograms: Histogram[] = []
    const add = (period: number, late: boolean, m: Map<Series, Histogram>): void => {
      for (const [s, h] of m) {
        if (h.count === 0) continue
        entries.push({ period, late, ns: s.namespace, metric: s.metric, unit: s.unit, dims: s.dimensions.map(d => [d.Name, d.Value]) })
        histograms.push(h)
      }
    }
    for (const [p, m] of this.#periods) add(p, false, m)
    for (const [p, m] of this.#late) add(p, true, m)
    for (const j of this.#sealer.pending) add(j.periodStart, j.late, j.histograms)
    this.#spool.writeCheckpoint(encodeCheckpoint(this.options.precisionBits, entries, histograms))
  }

  #restoreCheckpoint (): void {
    const buf = this.#spool?.readCheckpoint()
    if (buf === undefined || buf.length < 8) return
    try {
      const c = decodeCheckpoint(buf)
      if (c.format !== kCheckpointFormat || c.precisionBits !== this.options.precisionBits) {
        this.#warner.warn('checkpoint', 'METRICS_ERR_INVALID_OPTION', `spool checkpoint was written with precisionBits ${c.precisionBits}; it is ignored`)
        return
      }
      let off = 0
      let restored = 0
      for (const e of c.entries) {
        const r = this.#register(e.metric, Object.fromEntries(e.dims), e.unit as StandardUnit, e.ns)
        if (isRejection(r)) { off = Histogram.skipPacked(c.data, off, c.precisionBits); continue }
        const store = e.late ? this.#late : this.#periods
        let m = store.get(e.period)
        if (m === undefined) { m = new Map(); store.set(e.period, m) }
        let a = m.get(r.series)
        if (a === undefined) { a = new Histogram(this.options.precisionBits); m.set(r.series, a) }
        off = a.mergePacked(c.data, off)
        restored++
      }
      if (restored > 0) this.#warner.warn('checkpoint', 'METRICS_ERR_SINK', `spool ${this.#spool!.dir}: restored ${restored} open aggregates from the checkpoint of an earlier run`)
    } catch (err) {
      this.#warner.warn('checkpoint', 'METRICS_ERR_SINK', `spool checkpoint unreadable, ignored: ${(err as Error).message}`)
    }
  }

  // ---------------------------------------------------------------- recording

  /**
   * Records one sample. Never throws: a bad sample is counted under its reason in
   * `stats().rejectedByReason` and reported by a rate-limited warning.
   */
  record (metric: string, value: number, dimensions?: Readonly<Record<string, string>>, options?: RecordOptions): void {
    // The handle's hot path compares numbers; anything else (whose valueOf might throw) stops here.
    if (typeof value !== 'number') { this.#rejectWith(metric, checkValue(value)!); return }
    if (options === undefined) {
      const h = this.#trie.lookup(metric, undefined, undefined, dimensions) ?? this.#resolve(metric, dimensions, undefined, undefined)
      if (h !== undefined) h.record(value)
      return
    }
    this.#recordWithOptions(metric, value, dimensions, options)
  }

  #recordWithOptions (metric: string, value: number, dimensions: Readonly<Record<string, string>> | undefined, options: RecordOptions): void {
    if (typeof options !== 'object' || options === null) { this.#reject('malformed', `${nameOf(metric)}: record() options must be an object`); return }
    const { unit, namespace, count, timestamp } = options
    if (unit !== undefined) { const b = checkUnit(unit); if (b !== null) { this.#rejectWith(metric, b); return } }
    const h = this.#trie.lookup(metric, unit, namespace, dimensions) ?? this.#resolve(metric, dimensions, unit, namespace)
    if (h === undefined) return
    let t = NaN
    if (timestamp !== undefined) {
      t = timestamp instanceof Date ? timestamp.getTime() : timestamp
      if (typeof t !== 'number' || !Number.isFinite(t)) { this.#rejectWith(metric, checkTimestamp(t, 0)!); return }
    }
    h.recordWith(value, count ?? 1, t)
  }

  /** Resolves a series once; record on the returned handle in the hot path. Throws a ConfigError on bad input. */
  series (metric: string, dimensions?: Readonly<Record<string, string>>, options: SeriesOptions = {}): SeriesHandle {
    if (this.#closed) throw new MetricsError('series(): the aggregator is closed', 'METRICS_ERR_CLOSED')
    const r = this.#register(metric, dimensions, options.unit, options.namespace)
    if (isRejection(r)) throw new ConfigError(`series(${JSON.stringify(metric)}): ${r.message}`, codeOf(r.reason))
    r.series.pinned = true
    return r.handle
  }

  /** The slow path of record(): validate, register, and remember the call's path in the trie. */
  #resolve (metric: string, dims: Readonly<Record<string, string>> | undefined, unit: StandardUnit | undefined,
    namespace: string | undefined): SeriesHandle | undefined {
    if (this.#closed) { this.#reject('closed', `${nameOf(metric)}: the aggregator is closed`); return undefined }
    const r = this.#register(metric, dims, unit, namespace)
    if (isRejection(r)) { this.#rejectWith(metric, r); return undefined }
    if (r.series.overflow) return r.handle   // never cache overflowed paths: that is what bounds memory
    this.#trie.insert(metric, unit, namespace, dims, r.handle)
    return r.handle
  }

  #handles = new WeakMap<Series, SeriesHandle>()

  #register (metric: string, dims: Readonly<Record<string, string>> | undefined, unit: StandardUnit | undefined, namespace: string | undefined):
    { series: Series, handle: SeriesHandle } | Rejection {
    const o = this.options
    const badName = checkMetricName(metric)
    if (badName !== null) return badName
    if (unit !== undefined) { const b = checkUnit(unit); if (b !== null) return b }
    if (namespace !== undefined) { const b = checkNamespace(namespace); if (b !== null) return b }
    const canon = canonicalDimensions(dims, o.maxDimensions)
    if (isRejection(canon)) return canon
    const ns = namespace ?? o.namespace
    const u = unit ?? o.defaultUnit
    const key = JSON.stringify([ns, metric, u, canon.map(d => [d.Name, d.Value])])
    let s = this.#registry.get(key)
    if (s === undefined) {
      if (this.#registry.size >= o.maxSeries) {
        this.#overflowed++
        this.#warner.warn('cardinality', 'METRICS_ERR_DIMENSION', `series cap of ${o.maxSeries} reached: samples of new series of ${metric} go to the series with dimension ${kOverflowDimension}=true; look for a dimension with unbounded values (request ids, timestamps) or raise maxSeries`)
        return this.#overflowSeries(ns, metric, u)
      }
      s = this.#newSeries(key, ns, metric, u, canon, false)
      this.#registry.set(key, s)
    }
    return { series: s, handle: this.#handles.get(s)! }
  }

  #newSeries (key: string, namespace: string, metric: string, unit: StandardUnit, dimensions: Dimension[], overflow: boolean): Series {
    const s: Series = { id: this.#nextId++, key, namespace, metric, unit, dimensions, epoch: -2, current: null, lastUsed: this.#currentStart, pinned: false, overflow }
    this.#handles.set(s, new SeriesHandle(s, this.#core))
    return s
  }

  #overflowSeries (ns: string, metric: string, unit: StandardUnit): { series: Series, handle: SeriesHandle } {
    const key = JSON.stringify([ns, metric, unit])
    let s = this.#overflow.get(key)
    if (s === undefined) {
      s = this.#newSeries('overflow:' + key, ns, metric, unit, [{ Name: kOverflowDimension, Value: 'true' }], true)
      this.#overflow.set(key, s)
    }
    return { series: s, handle: this.#handles.get(s)! }
  }

  #refresh (s: Series): boolean {
    if (this.#closed) { this.#reject('closed', `${s.metric}: the aggregator is closed`); return false }
    const p = this.#currentStart
    let m = this.#periods.get(p)
    if (m === undefined) { m = new Map(); this.#periods.set(p, m) }
    let a = m.get(s)
    if (a === undefined) { a = new Histogram(this.options.precisionBits); m.set(s, a) }
    s.current = a
    s.epoch = this.#core.epoch
    s.lastUsed = p
    return true
  }

  #recordAt (s: Series, v: number, count: number, t: number): void {
    if (this.#closed) { this.#reject('closed', `${s.metric}: the aggregator is closed`); return }
    const now = this.options.clock.now()
    const bad = checkTimestamp(t, now)
    if (bad !== null) { this.#rejectWith(s.metric, bad); return }
    const p = t - (t % kPeriodMs)
    let store = this.#periods
    if (p <= this.#sealedThrough && p !== this.#currentStart) { store = this.#late; this.#late_++ }
    let m = store.get(p)
    if (m === undefined) { m = new Map(); store.set(p, m) }
    let a = m.get(s)
    if (a === undefined) { a = new Histogram(this.options.precisionBits); m.set(s, a) }
    a.add(v, count)
    if (p > s.lastUsed) s.lastUsed = p
    this.#core.accepted++
  }

  /**
   * Folds a worker's packed partial aggregates into the minute store. Entries whose period
   * is -1 belong to the minute of `receivedAtMs` (when the listener started the batch; a
   * batch never spans a minute boundary). Series are validated here, once per entry.
   */
  mergePartial (p: PackedPartial, receivedAtMs: number): void {
    if (p.precisionBits !== this.options.precisionBits) throw new RangeError(`partial of precision ${p.precisionBits} cannot merge into ${this.options.precisionBits}`)
    for (const [reason, n] of Object.entries(p.rejected) as Array<[RejectReason, number]>) {
      this.#rejectN(reason, n, p.messages[reason] ?? reason)
    }
    const batchPeriod = receivedAtMs - (receivedAtMs % kPeriodMs)
    let off = 0
    for (const e of p.entries) {
      if (this.#closed) { off = Histogram.skipPacked(p.data, off, p.precisionBits); this.#rejectN('closed', e.samples, `${e.metric}: the aggregator is closed`); continue }
      const r = this.#register(e.metric, e.dimensions, e.unit as StandardUnit | undefined, e.namespace)
      if (isRejection(r)) { off = Histogram.skipPacked(p.data, off, p.precisionBits); this.#rejectN(r.reason, e.samples, `${e.metric}: ${r.message}`); continue }
      const period = e.period === -1 ? batchPeriod : e.period
      let store = this.#periods
      if (period <= this.#sealedThrough && period !== this.#currentStart) { store = this.#late; this.#late_ += e.samples }
      let m = store.get(period)
      if (m === undefined) { m = new Map(); store.set(period, m) }
      let a = m.get(r.series)
      if (a === undefined) { a = new Histogram(this.options.precisionBits); m.set(r.series, a) }
      off = a.mergePacked(p.data, off)
      if (period > r.series.lastUsed) r.series.lastUsed = period
      this.#core.accepted += e.samples
    }
  }

  #rejectN (reason: RejectReason, n: number, message: string): void {
    if (n <= 0) return
    this.#rejected[reason] += n - 1
    this.#rejectedTotal += n - 1
    this.#reject(reason, message)
  }

  #lastReject: { reason: RejectReason, message: string } | undefined

  /**
   * Like `record()`, but says what happened: `undefined` when the sample was accepted,
   * else its rejection. For listeners that answer per sample (the HTTP ingest).
   */
  tryRecord (metric: string, value: number, dimensions?: Readonly<Record<string, string>>, options?: RecordOptions): Rejection | undefined {
    this.#lastReject = undefined
    this.record(metric, value, dimensions, options)
    const r = this.#lastReject
    this.#lastReject = undefined
    return r
  }

  /** A {@link SampleReceiver} that records into this aggregator (for parsers on this thread). */
  receiver (): SampleReceiver {
    return {
      sample: (metric, value, unit, dimensions, timestampMs, count, namespace) => {
        if (unit === undefined && namespace === undefined && count === 1 && timestampMs !== timestampMs) {
          this.record(metric, value, dimensions)
        } else {
          this.record(metric, value, dimensions, { unit: unit as StandardUnit | undefined, namespace, count, timestamp: timestampMs === timestampMs ? timestampMs : undefined })
        }
      },
      reject: (reason, message) => { this.#reject(reason, message) },
    }
  }

  /** Rejects with a check's reason and message, naming the metric. */
  #rejectWith (metric: unknown, r: Rejection): void { this.#reject(r.reason, `${nameOf(metric)}: ${r.message}`) }

  #reject (reason: RejectReason, message: string): void {
    this.#lastReject = { reason, message }
    this.#rejected[reason]++
    this.#rejectedTotal++
    this.#warner.warn('reject:' + reason, codeOf(reason), `minutely rejected a sample (${reason}): ${message}`)
  }

  /**
   * Counts a sample rejected before it reached the engine (by a listener's parser), so that
   * every rejection shows in `stats()` whatever its source.
   */
  countRejected (reason: RejectReason, message: string, n = 1): void { this.#rejectN(reason, n, message) }

  // ---------------------------------------------------------------- time and sealing

  #schedule (now: number): void {
    if (this.#closed) return
    if (this.#timer !== undefined) this.options.clock.clearTimer(this.#timer)
    const g = this.options.gracePeriodMs
    let next = this.#currentStart + kPeriodMs
    for (const p of this.#periods.keys()) if (p < this.#currentStart) next = Math.min(next, p + kPeriodMs + g)
    if (this.#late.size > 0) next = Math.min(next, Math.max(now, this.#currentStart + g))
    this.#timer = this.options.clock.setTimer(() => { this.#timer = undefined; this.#tick() }, Math.max(1, next - now))
  }

  #tick (): void {
    const now = this.options.clock.now()
    this.#advance(now)
    this.#sealDue(now)
    this.#schedule(now)
  }

  #advance (now: number): void {
    const cur = now - (now % kPeriodMs)
    if (cur !== this.#currentStart) { this.#currentStart = cur; this.#core.epoch++ }
  }

  /** Seals every period whose end plus grace has passed, and every late delta. */
  #sealDue (now: number): void {
    const through = now - this.options.gracePeriodMs - kPeriodMs
    const due = [...this.#periods.keys()].filter(p => p <= through && p !== this.#currentStart).sort((a, b) => a - b)
    const sealedUpTo = through - (((through % kPeriodMs) + kPeriodMs) % kPeriodMs)
    if (sealedUpTo > this.#sealedThrough && sealedUpTo < this.#currentStart) this.#sealedThrough = sealedUpTo
    for (const p of due) this.#seal(p, this.#periods, false)
    for (const p of [...this.#late.keys()].sort((a, b) => a - b)) this.#seal(p, this.#late, true)
    // Eviction walks every series: it runs after the seals, off this synchronous path.
    if (due.length > 0 || this.#late.size > 0) this.#sealer.afterSeals(() => this.#evictIdle())
  }

  /** Takes a minute out of its store and hands it to the sealer. */
  #seal (p: number, store: Map<number, Map<Series, Histogram>>, late: boolean): void {
    const m = store.get(p)
    store.delete(p)
    if (m === undefined || m.size === 0) return
    this.#sealer.seal([{ periodStart: p, late, histograms: m }])
  }

  /** A minute was handed to the publisher: drop it from the checkpoint, then report it. */
  #sealed (summary: MinuteSummary | null): void {
    // The sealed minute is in the journal now: drop it from the checkpoint at once, so that a
    // crash cannot restore it a second time.
    if (this.#spool !== undefined && !this.#closed) this.#checkpoint()
    if (summary === null) return
    if (this.#keepSealed > 0) {
      this.#recentSealed.push(summary)
      if (this.#recentSealed.length > this.#keepSealed) this.#recentSealed.shift()
    }
    try { this.emit('seal', summary) } catch { /* a listener must not break sealing */ }
  }

  /**
   * Forgets series idle for `seriesIdleMinutes`, so churn in dimension values cannot grow
   * memory forever. It walks every series, so it yields to the event loop every
   * `kSealSliceMs` as sealing does (each series is judged when it is reached: one used
   * meanwhile is kept).
   */
  async #evictIdle (): Promise<void> {
    if (this.#closed) return
    const horizon = this.#currentStart - this.options.seriesIdleMinutes * kPeriodMs
    let n = 0
    let sliceStart = performance.now()
    for (const [key, s] of this.#registry) {
      if ((++n & 255) === 0 && performance.now() - sliceStart > kSealSliceMs) {
        await new Promise<void>(resolve => { setImmediate(resolve) })
        if (this.#closed) return
        sliceStart = performance.now()
      }
      if (s.pinned || s.lastUsed >= horizon) continue
      if (s.epoch === this.#core.epoch) continue
      this.#registry.delete(key)
      this.#trie.forget(this.#handles.get(s)!)
      this.#evicted++
    }
  }

  #sinkError (e: SinkError): void {
    this.#errorsSink?.push(e)
    if (this.listenerCount('error') > 0) {
      try { this.emit('error', e) } catch { /* never let a listener crash the publisher */ }
    } else {
      this.#warner.warn('sink:' + (e.retryable ? 'retry' : 'fail'), e.code, e.message)
    }
  }

  // ---------------------------------------------------------------- public control

  /** Counters: accepted, rejected by reason, published, failed, queued… */
  stats (): AggregatorStats {
    let open = 0
    for (const m of this.#periods.values()) if (m.size > 0) open++
    return {
      samplesAccepted: this.#core.accepted,
      samplesRejected: this.#rejectedTotal,
      rejectedByReason: { ...this.#rejected },
      samplesLate: this.#late_,
      samplesOverflowed: this.#overflowed,
      overflowSeries: this.#overflow.size,
      activeSeries: this.#registry.size + this.#overflow.size,
      seriesEvicted: this.#evicted,
      openPeriods: open,
      periodsSealed: this.#sealer.sealed,
      ...this.#publisher.stats,
      ...(this.#spool?.stats ?? { spoolBatches: 0, spoolBytes: 0, spoolOldestAgeMs: 0, spoolDroppedDatums: 0, spoolWriteErrors: 0 }),
    }
  }

  /** Publishes every sealed minute (and late delta) now, and waits for the attempts. */
  async flush (): Promise<FlushResult> {
    const before = this.#publisher.stats.datumsPublished
    const errors: SinkError[] = []
    this.#errorsSink = errors
    try {
      if (!this.#closed) {
        const now = this.options.clock.now()
        this.#advance(now)
        this.#sealDue(now)
        this.#schedule(now)
      }
      await this.#sealer.done()
      await this.#publisher.flushOnce()
    } finally { this.#errorsSink = null }
    return { datumsPublished: this.#publisher.stats.datumsPublished - before, datumsPending: this.#publisher.stats.datumsQueued, errors }
  }

  /** Seals and publishes everything, the open minute too, then stops the timers. Idempotent. */
  close (): Promise<CloseResult> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close (): Promise<CloseResult> {
    const before = this.#publisher.stats.datumsPublished
    const errors: SinkError[] = []
    this.#errorsSink = errors
    this.#closed = true
    this.#core.epoch = -1
    if (this.#timer !== undefined) { this.options.clock.clearTimer(this.#timer); this.#timer = undefined }
    for (const p of [...this.#periods.keys()].sort((a, b) => a - b)) this.#seal(p, this.#periods, false)
    for (const p of [...this.#late.keys()].sort((a, b) => a - b)) this.#seal(p, this.#late, true)
    await this.#sealer.done()
    if (this.#checkpointTimer !== undefined) this.options.clock.clearTimer(this.#checkpointTimer)
    if (this.#spool !== undefined) this.#checkpoint()   // everything is sealed and journaled: an empty checkpoint
    await this.#publisher.drain(Date.now() + this.options.closeTimeoutMs)
    this.#publisher.stop()
    const unsent = this.#publisher.pending()
    this.#errorsSink = null
    try { await this.sink.close?.() } catch { /* closing the sink is best effort */ }
    const pending = unsent.reduce((a, b) => a + b.datums.length, 0)
    const spooledBatches = this.#publisher.spooledBatches
    if (pending > 0) {
      const where = spooledBatches > 0 ? `; ${spooledBatches} batches stay in the spool ${this.#spool!.dir} and are sent at the next start` : '; they are returned in close().unsent'
      this.#warner.warn('close-unsent', 'METRICS_ERR_TIMEOUT', `close(): ${pending} datums in ${unsent.length} requests could not be published within ${this.options.closeTimeoutMs} ms${where}`)
    }
    return { datumsPublished: this.#publisher.stats.datumsPublished - before, datumsPending: pending, errors, unsent, spooledBatches }
  }

  /**
   * Keeps the summaries of the last `n` sealed minutes for {@link snapshot} (the status page).
   * Off by default: summaries cost a pass over each histogram at seal time.
   */
  keepSealedMinutes (n: number): void {
    this.#keepSealed = Math.max(0, Math.floor(n))
    while (this.#recentSealed.length > this.#keepSealed) this.#recentSealed.shift()
  }

  /** The open minutes (computed now, from the live aggregates) and the kept sealed ones. */
  snapshot (): Snapshot {
    const open: MinuteSummary[] = []
    for (const p of [...this.#periods.keys()].sort((a, b) => a - b)) {
      const series: SeriesSummary[] = []
      for (const [s, a] of this.#periods.get(p)!) if (a.count > 0) series.push(summarize(s, a))
      if (series.length > 0) open.push({ periodStart: p, late: false, series })
    }
    return { now: this.options.clock.now(), open, sealed: [...this.#recentSealed] }
  }

  /** True once `close()` was called. */
  get closed (): boolean { return this.#closed }
}

/** Creates an aggregator. Throws a `ConfigError` (code `METRICS_ERR_INVALID_OPTION`) on bad options. */
export function createAggregator (options: AggregatorOptions): Aggregator {
  return new Aggregator(options)
}
