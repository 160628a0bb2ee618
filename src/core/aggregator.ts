/**
 * The aggregator: the facade that wires the stages of the engine and owns its clock.
 *
 *   record() / series() ─ lookup trie ─ series registry   (registry/)
 *        handle.record ─ minute store ─ sealer             (store/, seal/)
 *                        checkpoint   ─ publisher ─ sink    (store/checkpoint.ts, publish/publisher.ts, sinks/)
 *
 * Time: the facade keeps the open minute (`#currentStart`) and moves it with one unref'd
 * timer set at each minute boundary, so that the hot path never reads the clock (see
 * series-handle.ts). Samples with an explicit `timestamp` always land in the minute of that
 * timestamp.
 */
import { EventEmitter } from 'node:events'
import { ConfigError, MetricsError, SinkError } from '../errors.js'
import type { DatumBatch } from '../encode/datum.js'
import { kPeriodMs, type StandardUnit } from '../limits.js'
import { normalizeOptions, type AggregatorOptions, type ResolvedOptions } from './options.js'
import { LookupTrie } from '../registry/lookup-trie.js'
import { SeriesRegistry, kOverflowDimension, type Series } from '../registry/series-registry.js'
import { checkUnit } from '../dimensions/validate.js'
import { checkMergedTotal, checkMinuteTotal, checkTimestamp, checkValue, isOrdinaryProduct, kLargeMagnitude } from '../samples/checks.js'
import { codeOf, isRejection, kRejectReasons, type RejectReason, type Rejection } from '../samples/reasons.js'
import type { SampleReceiver } from '../samples/receiver.js'
import { nameOf } from '../samples/show.js'
import { Sealer, kSealSliceMs } from '../seal/sealer.js'
import { summarize, type MinuteSummary, type SeriesSummary } from '../seal/summary.js'
import { checkpointVersions, mergeCheckpointed } from '../store/checkpoint.js'
import { Checkpointer, type LiveMap } from './checkpointer.js'
import { Histogram, kPackedLayout } from '../store/histogram.js'
import { MinuteStore } from '../store/minute-store.js'
import type { PackedPartial } from '../store/partial.js'
import type { MetricSink } from '../sinks/sink.js'
import { cloudWatchSink } from '../sinks/cloudwatch.js'
import { Publisher, type PublishStats } from '../publish/publisher.js'
import { RecordingContext, SeriesHandle } from './series-handle.js'
import { noSpoolStats, Spool, type SpoolStats } from '../publish/spool.js'
import { Warner } from './warn.js'
import { checkOptionNames, optionNames } from '../option-names.js'

export { SeriesHandle } from './series-handle.js'
export type { SeriesInfo } from '../encode/datum.js'
export type { MinuteSummary, SeriesSummary } from '../seal/summary.js'

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

const kSeriesOptionNames = optionNames<SeriesOptions>({ unit: true, namespace: true })

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

type Dims = Readonly<Record<string, string>>

/**
 * The aggregator. Emits `'error'` (a {@link SinkError}) when publishing fails, but only when
 * someone listens — otherwise failures become rate-limited warnings, never a crash — and
 * `'seal'` (a {@link SealedPeriod}) each time a minute is sealed.
 */
export class Aggregator extends EventEmitter {
  readonly options: ResolvedOptions
  readonly sink: MetricSink
  readonly #ctx: RecordingContext
  readonly #warner: Warner
  readonly #registry: SeriesRegistry
  readonly #trie = new LookupTrie<SeriesHandle>()
  readonly #handles = new WeakMap<Series, SeriesHandle>()
  readonly #store: MinuteStore<Series>
  readonly #sealer: Sealer<Series>
  readonly #publisher: Publisher
  readonly #spool: Spool | undefined
  readonly #checkpointer: Checkpointer | undefined
  /** Start of the open minute (epoch ms). */
  #currentStart: number
  #timer: unknown = undefined
  #checkpointTimer: unknown = undefined
  #closed = false
  #closing: Promise<CloseResult> | undefined
  readonly #rejected: Record<RejectReason, number>
  #rejectedTotal = 0
  #lastReject: Rejection | undefined
  #samplesLate = 0
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
    const now = o.clock.now()
    this.#currentStart = now - (now % kPeriodMs)
    this.#ctx = new RecordingContext(this.#currentStart / kPeriodMs,
      s => this.#openHistogram(s),
      (v, metric) => { this.#rejectWith(metric, checkValue(v)!) },
      (reason, message) => { this.#reject(reason, message) },
      (s, v, c, t) => { this.#recordAt(s, v, c, t) })
    this.#registry = new SeriesRegistry({
      namespace: o.namespace,
      defaultUnit: o.defaultUnit,
      maxDimensions: o.maxDimensions,
      maxSeries: o.maxSeries,
      onOverflow: metric => {
        this.#warner.warn('cardinality', 'METRICS_ERR_DIMENSION', `series cap of ${o.maxSeries} reached: samples of new series of ${metric} go to the series with dimension ${kOverflowDimension}=true; look for a dimension with unbounded values (request ids, timestamps) or raise options.maxSeries`)
      },
    })
    this.#store = new MinuteStore(o.precisionBits)
    this.#spool = o.spoolDir !== undefined ? new Spool({ dir: o.spoolDir, maxBytes: o.spoolMaxBytes, now: () => o.clock.now(), warner: this.#warner }) : undefined
    this.#checkpointer = this.#spool !== undefined ? new Checkpointer(this.#spool, o.precisionBits) : undefined
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
      onUnpublishable: (d, problem) => {
        this.#rejectN('minute_total_out_of_range', samplesOf(d.StatisticValues.SampleCount),
          `${d.MetricName}: the datum of the minute at ${d.Timestamp.toISOString()} has ${problem}, which CloudWatch refuses: it is not sent`)
      },
      slices: this.#checkpointer === undefined ? undefined : {
        begin: () => { this.#spool!.beginSlice() },
        end: (m, taken) => { this.#spool!.endSlice(); this.#checkpointer!.sliceJournaled(m, taken) },
      },
    })
    if (this.#spool !== undefined) {
      this.#restoreCheckpoint()
      const n = this.#publisher.recover()
      if (n > 0) this.#warner.warn('spool-recover', 'METRICS_ERR_SINK', `spool ${this.#spool.dir}: replaying ${n} batches left by an earlier run`)
      this.#scheduleCheckpoint()
    }
    this.#schedule(now)
  }

  // ---------------------------------------------------------------- recording

  /**
   * Records one sample. Never throws: a bad sample is counted under its reason in
   * `stats().rejectedByReason` and reported by a rate-limited warning.
   */
  record (metric: string, value: number, dimensions?: Dims, options?: RecordOptions): void {
    // The handle's hot path compares numbers; anything else (whose valueOf might throw) stops here.
    if (typeof value !== 'number') { this.#rejectWith(metric, checkValue(value)!); return }
    if (options === undefined) {
      const h = this.#trie.lookup(metric, undefined, undefined, dimensions) ?? this.#resolve(metric, dimensions, undefined, undefined)
      if (h !== undefined) h.record(value)
      return
    }
    this.#recordWithOptions(metric, value, dimensions, options)
  }

  #recordWithOptions (metric: string, value: number, dimensions: Dims | undefined, options: RecordOptions): void {
    if (typeof options !== 'object' || options === null) { this.#reject('malformed', `${nameOf(metric)}: record() options must be an object`); return }
    const unit = options.unit
    const namespace = options.namespace
    const h = this.#trie.lookup(metric, unit, namespace, dimensions) ?? this.#resolve(metric, dimensions, unit, namespace)
    if (h === undefined) return
    const count = options.count
    const timestamp = options.timestamp
    if (count === undefined && timestamp === undefined) { h.record(value); return }
    let t = NaN
    if (timestamp !== undefined) {
      t = timestamp instanceof Date ? timestamp.getTime() : timestamp
      if (typeof t !== 'number' || !Number.isFinite(t)) { this.#rejectWith(metric, checkTimestamp(t, 0)!); return }
    }
    h.recordWith(value, count ?? 1, t)
  }

  /** Resolves a series once; record on the returned handle in the hot path. Throws a ConfigError on bad input (an unknown option too). */
  series (metric: string, dimensions?: Dims, options: SeriesOptions = {}): SeriesHandle {
    if (this.#closed) throw new MetricsError('series(): the aggregator is closed', 'METRICS_ERR_CLOSED')
    if (typeof options !== 'object' || options === null) throw new ConfigError(`series(${JSON.stringify(metric)}): options must be an object { unit?, namespace? }`, 'METRICS_ERR_INVALID_OPTION')
    checkOptionNames(options, kSeriesOptionNames, `series(${JSON.stringify(metric)})`)
    const r = this.#registry.resolve(metric, dimensions, options.unit, options.namespace, this.#currentStart)
    if (isRejection(r)) throw new ConfigError(`series(${JSON.stringify(metric)}): ${r.message}`, codeOf(r.reason))
    r.pinned = true
    return this.#handleOf(r)
  }

  /** The slow path of record(): check, register, and remember the call's path in the trie. */
  #resolve (metric: string, dims: Dims | undefined, unit: StandardUnit | undefined, namespace: string | undefined): SeriesHandle | undefined {
    if (unit !== undefined) { const b = checkUnit(unit); if (b !== null) { this.#rejectWith(metric, b); return undefined } }
    if (this.#closed) { this.#reject('closed', `${nameOf(metric)}: the aggregator is closed`); return undefined }
    const r = this.#registry.resolve(metric, dims, unit, namespace, this.#currentStart)
    if (isRejection(r)) { this.#rejectWith(metric, r); return undefined }
    const h = this.#handleOf(r)
    if (!r.overflow) this.#trie.insert(metric, unit, namespace, dims, h)   // never cache overflowed paths: that is what bounds memory
    return h
  }

  #handleOf (s: Series): SeriesHandle {
    let h = this.#handles.get(s)
    if (h === undefined) { h = new SeriesHandle(s, this.#ctx); this.#handles.set(s, h) }
    return h
  }

  /** A handle's way into the open minute. */
  #openHistogram (s: Series): Histogram | undefined {
    if (this.#closed) { this.#reject('closed', `${s.metric}: the aggregator is closed`); return undefined }
    s.lastUsed = this.#currentStart
    return this.#store.histogram(this.#currentStart, s, false)
  }

  #recordAt (s: Series, v: number, count: number, t: number): void {
    if (this.#closed) { this.#reject('closed', `${s.metric}: the aggregator is closed`); return }
    const bad = checkTimestamp(t, this.options.clock.now())
    if (bad !== null) { this.#rejectWith(s.metric, bad); return }
    const p = t - (t % kPeriodMs)
    const late = this.#store.isLate(p, this.#currentStart)
    const h = this.#store.histogram(p, s, late)
    if (!isOrdinaryProduct(v, count)) {
      const big = checkMinuteTotal(v, count, h.magnitudeBound())
      if (big !== null) { this.#rejectWith(s.metric, big); return }
    }
    if (late) this.#samplesLate++
    h.add(v, count)
    if (p > s.lastUsed) s.lastUsed = p
    this.#ctx.accepted++
  }

  /**
   * Folds a worker's packed partial histograms into the minute store. Entries whose period
   * is -1 belong to the minute of `receivedAtMs` (when the listener started the batch; a
   * batch never spans a minute boundary). Series are checked here, once per entry.
   */
  mergePartial (p: PackedPartial, receivedAtMs: number): void {
    if (p.precisionBits !== this.options.precisionBits) throw new RangeError(`partial of precision ${p.precisionBits} cannot merge into ${this.options.precisionBits}`)
    for (const [reason, n] of Object.entries(p.rejected) as Array<[RejectReason, number]>) {
      if (Object.hasOwn(this.#rejected, reason)) this.#rejectN(reason, n, p.messages[reason] ?? reason)
    }
    if (p.layout !== kPackedLayout) {
      // A worker running other code (a dist/ built from another version): its floats cannot be read.
      const n = p.entries.reduce((a, e) => a + e.samples, 0)
      this.#rejectN('worker_failed', n, `an ingest worker packed its histograms in layout version ${String(p.layout)}; this engine reads layout version ${kPackedLayout}: ${n} samples of the batch are lost (rebuild so that both run the same version)`)
      return
    }
    const batchPeriod = receivedAtMs - (receivedAtMs % kPeriodMs)
    let off = 0
    for (const e of p.entries) {
      if (this.#closed) { off = Histogram.skipPacked(p.data, off, p.precisionBits); this.#rejectN('closed', e.samples, `${e.metric}: the aggregator is closed`); continue }
      const s = this.#registry.resolve(e.metric, e.dimensions, e.unit, e.namespace, this.#currentStart)
      if (isRejection(s)) { off = Histogram.skipPacked(p.data, off, p.precisionBits); this.#rejectN(s.reason, e.samples, `${e.metric}: ${s.message}`); continue }
      const period = e.period === -1 ? batchPeriod : e.period
      const late = this.#store.isLate(period, this.#currentStart)
      const h = this.#store.histogram(period, s, late)
      const bad = this.#mergedTotal(h, p.data, off, p.precisionBits, e.samples)
      if (bad !== null) { off = Histogram.skipPacked(p.data, off, p.precisionBits); this.#rejectN(bad.reason, e.samples, `${e.metric}: ${bad.message}`); continue }
      if (late) this.#samplesLate += e.samples
      off = h.mergePacked(p.data, off)
      if (period > s.lastUsed) s.lastUsed = period
      this.#ctx.accepted += e.samples
    }
  }

  /**
   * Why the packed aggregate at `off` cannot be merged into `into` (its minute's Sum would
   * leave CloudWatch's range), or null. An aggregate whose every sample is at most 2^300 in
   * magnitude needs no look (see kLargeMagnitude): the worker threads send each larger sample
   * in an aggregate of its own, so a refusal here costs that sample alone.
   */
  #mergedTotal (into: Histogram, data: Float64Array, off: number, precisionBits: number, samples: number): Rejection | null {
    const count = data[off]; const min = data[off + 3]; const max = data[off + 4]
    if (Math.max(-min, max) * count <= kLargeMagnitude) return null
    return checkMergedTotal(Histogram.packedMagnitudeBound(data, off, precisionBits), into.magnitudeBound(), samples)
  }

  // ---------------------------------------------------------------- rejections

  /**
   * Like `record()`, but says what happened: `undefined` when the sample was accepted,
   * else its rejection. For listeners that answer per sample (the HTTP ingest).
   */
  tryRecord (metric: string, value: number, dimensions?: Dims, options?: RecordOptions): Rejection | undefined {
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

  /**
   * Counts a sample rejected before it reached the engine (by a listener's parser), so that
   * every rejection shows in `stats()` whatever its source.
   */
  countRejected (reason: RejectReason, message: string, n = 1): void { this.#rejectN(reason, n, message) }

  /** Rejects with a check's reason and message, naming the metric. */
  #rejectWith (metric: unknown, r: Rejection): void { this.#reject(r.reason, `${nameOf(metric)}: ${r.message}`) }

  #reject (reason: RejectReason, message: string): void {
    this.#lastReject = { reason, message }
    this.#rejected[reason]++
    this.#rejectedTotal++
    this.#warner.warn('reject:' + reason, codeOf(reason), `minutely rejected a sample (${reason}): ${message}`)
  }

  #rejectN (reason: RejectReason, n: number, message: string): void {
    if (n <= 0) return
    this.#rejected[reason] += n - 1
    this.#rejectedTotal += n - 1
    this.#reject(reason, message)
  }

  // ---------------------------------------------------------------- time, sealing, eviction

  #schedule (now: number): void {
    if (this.#closed) return
    if (this.#timer !== undefined) this.options.clock.clearTimer(this.#timer)
    const g = this.options.gracePeriodMs
    let next = this.#currentStart + kPeriodMs
    for (const p of this.#store.open.keys()) if (p < this.#currentStart) next = Math.min(next, p + kPeriodMs + g)
    if (this.#store.late.size > 0) next = Math.min(next, Math.max(now, this.#currentStart + g))
    this.#timer = this.options.clock.setTimer(() => { this.#timer = undefined; this.#tick() }, Math.max(1, next - now))
  }

  #tick (): void {
    const now = this.options.clock.now()
    this.#advance(now)
    this.#sealDue(now)
    this.#schedule(now)
  }

  /** Moves the open minute to the one `now` falls in; handles see the new number and attach anew. */
  #advance (now: number): void {
    const cur = now - (now % kPeriodMs)
    if (cur !== this.#currentStart && !this.#closed) { this.#currentStart = cur; this.#ctx.openMinute = cur / kPeriodMs }
  }

  /** Seals every minute whose end plus grace has passed, and every late delta; then evicts idle series. */
  #sealDue (now: number): void {
    const taken = this.#store.takeDue(now - this.options.gracePeriodMs - kPeriodMs, this.#currentStart)
    if (taken.length === 0) return
    this.#sealer.seal(taken)
    // Eviction walks every series: it runs after the seals, off this synchronous path.
    this.#sealer.afterSeals(() => this.#evictIdle())
  }

  /** A minute was handed to the publisher: drop it from the checkpoint, then report it. */
  #sealed (summary: MinuteSummary | null): void {
    // Each slice of the minute dropped its series from the checkpoint as it journaled them.
    if (summary === null) return
    if (this.#keepSealed > 0) {
      this.#recentSealed.push(summary)
      if (this.#recentSealed.length > this.#keepSealed) this.#recentSealed.shift()
    }
    try { this.emit('seal', summary) } catch { /* a listener must not break sealing */ }
  }

  /** Forgets series idle for `seriesIdleMinutes`, so churn in dimension values cannot grow memory forever. */
  async #evictIdle (): Promise<void> {
    if (this.#closed) return
    const horizon = this.#currentStart - this.options.seriesIdleMinutes * kPeriodMs
    await this.#registry.evictIdle(horizon, s => {
      const h = this.#handles.get(s)
      if (h !== undefined) { this.#trie.forget(h); this.#handles.delete(s) }
    }, kSealSliceMs, () => this.#closed)
  }

  #sinkError (e: SinkError): void {
    this.#errorsSink?.push(e)
    if (this.listenerCount('error') > 0) {
      try { this.emit('error', e) } catch { /* never let a listener crash the publisher */ }
    } else {
      this.#warner.warn('sink:' + (e.permanent ? 'blocked' : e.retryable ? 'retry' : 'fail'), e.code, e.message)
    }
  }

  // ---------------------------------------------------------------- checkpoint

  #scheduleCheckpoint (): void {
    this.#checkpointTimer = this.options.clock.setTimer(() => {
      if (this.#closed) return
      this.#checkpoint()
      this.#scheduleCheckpoint()
    }, this.options.checkpointIntervalMs)
  }

  /** Every histogram not yet handed to the publisher: open minutes, late deltas, minutes being sealed. */
  * #live (): Generator<LiveMap> {
    for (const [period, histograms] of this.#store.open) yield { period, late: false, histograms }
    for (const [period, histograms] of this.#store.late) yield { period, late: true, histograms }
    for (const j of this.#sealer.pending) yield { period: j.periodStart, late: j.late, histograms: j.histograms }
  }

  /** Records in the checkpoint what changed since its last write (see core/checkpointer.ts). */
  #checkpoint (): void {
    this.#checkpointer?.write(this.#live())
  }

  #restoreCheckpoint (): void {
    const cp = this.#checkpointer!
    try {
      const r = cp.read()
      if (r === undefined) return
      const c = r.checkpoint
      const other = checkpointVersions(c, this.options.precisionBits)
      if (other !== undefined) this.#warner.warn('checkpoint-version', 'METRICS_ERR_INVALID_OPTION', `spool ${this.#spool!.dir}: ${other.message}`)
      if (other?.readable === false) return
      if (r.discarded !== undefined) {
        this.#warner.warn('checkpoint-slice', 'METRICS_ERR_SINK', `spool ${this.#spool!.dir}: ${r.discarded.batches} batches (${r.discarded.datums} datums) journaled by a seal the earlier run did not finish recording are superseded by its checkpoint, which still holds their series: they are sealed again from it, not sent twice`)
      }
      let restored = 0
      for (const { entry: e, data, off } of r.entries) {
        const s = this.#registry.resolve(e.metric, Object.fromEntries(e.dims), e.unit, e.ns, this.#currentStart)
        if (isRejection(s)) continue
        const h = this.#store.histogram(e.period, s, e.late)
        const samples = data[off]
        const bad = this.#mergedTotal(h, data, off, c.precisionBits, samples)
        if (bad !== null) { this.#rejectN(bad.reason, samplesOf(samples), `spool checkpoint, ${e.metric}: ${bad.message}`); continue }
        mergeCheckpointed(h, data, off, c.precisionBits)
        restored++
      }
      if (restored > 0) this.#warner.warn('checkpoint', 'METRICS_ERR_SINK', `spool ${this.#spool!.dir}: restored ${restored} open aggregates from the checkpoint of an earlier run`)
    } catch (err) {
      this.#warner.warn('checkpoint', 'METRICS_ERR_SINK', `spool checkpoint unreadable, ignored: ${(err as Error).message}`)
    } finally {
      // This run's own snapshot at once, before anything is sealed: the earlier run's
      // checkpoint must not be read again beside the batches this run journals.
      cp.write(this.#live())
    }
  }

  // ---------------------------------------------------------------- public control

  /** Counters: accepted, rejected by reason, published, failed, queued… */
  stats (): AggregatorStats {
    return {
      samplesAccepted: this.#ctx.accepted,
      samplesRejected: this.#rejectedTotal,
      rejectedByReason: { ...this.#rejected },
      samplesLate: this.#samplesLate,
      samplesOverflowed: this.#registry.overflowed,
      overflowSeries: this.#registry.overflowSize,
      activeSeries: this.#registry.size + this.#registry.overflowSize,
      seriesEvicted: this.#registry.evicted,
      openPeriods: this.#store.openMinutes,
      periodsSealed: this.#sealer.sealed,
      ...this.#publisher.stats,
      ...(this.#spool?.stats ?? noSpoolStats()),
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
    this.#ctx.openMinute = -1
    if (this.#timer !== undefined) { this.options.clock.clearTimer(this.#timer); this.#timer = undefined }
    this.#sealer.seal(this.#store.takeAll())
    await this.#sealer.done()
    if (this.#checkpointTimer !== undefined) this.options.clock.clearTimer(this.#checkpointTimer)
    this.#checkpointer?.clear()   // everything is sealed and journaled: an empty checkpoint
    await this.#publisher.drain(Date.now() + this.options.closeTimeoutMs)
    this.#publisher.stop()
    const unsent = this.#publisher.pending()
    this.#errorsSink = null
    try { await this.sink.close?.() } catch { /* closing the sink is best effort */ }
    const pending = unsent.reduce((a, b) => a + b.datums.length, 0)
    const spooledBatches = this.#publisher.spooledBatches
    this.#spool?.release()   // nothing is written any more: the next process may take the directory
    if (pending > 0) {
      // METRICS_ERR_TIMEOUT is this warning's alone: the CLI drops it and says it in its closing line, with its flags.
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

  /** The open minutes (computed now, from the live histograms) and the kept sealed ones. */
  snapshot (): Snapshot {
    const open: MinuteSummary[] = []
    for (const p of this.#store.openStarts()) {
      const series: SeriesSummary[] = []
      for (const [s, h] of this.#store.open.get(p)!) if (h.count > 0) series.push(summarize(s, h))
      if (series.length > 0) open.push({ periodStart: p, late: false, series })
    }
    return { now: this.options.clock.now(), open, sealed: [...this.#recentSealed] }
  }

  /** True once `close()` was called. */
  get closed (): boolean { return this.#closed }
}

/** Samples to count for an aggregate of weighted count `n` refused whole (at least one). */
function samplesOf (n: number): number { return Number.isFinite(n) && n >= 1 ? Math.round(n) : 1 }

/** Creates an aggregator. Throws a `ConfigError` (code `METRICS_ERR_INVALID_OPTION`) on bad options. */
export function createAggregator (options: AggregatorOptions): Aggregator {
  return new Aggregator(options)
}
