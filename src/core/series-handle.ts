/**
 * A pre-resolved series: `record(v)` is the hot path. It checks the value, compares the
 * open minute's number with the one it cached a histogram for, and adds to that histogram;
 * it allocates nothing, builds no string and never throws.
 *
 * Time: reading the clock costs ~32 ns (Date.now), more than the whole budget of
 * `handle.record()`. So the engine keeps the open minute itself, moved by one unref'd timer at
 * each minute boundary, and a handle only compares an integer. A sample recorded between the
 * boundary and the timer firing (event-loop lag, normally well under a millisecond) lands in
 * the minute that just ended.
 */
import type { SeriesInfo } from '../encode/datum.js'
import { kPeriodMs } from '../limits.js'
import type { Series } from '../registry/series-registry.js'
import type { RejectReason } from '../samples/reasons.js'
import { checkCount, checkMinuteTotal, checkValue, inRange, isOrdinary, isOrdinaryProduct } from '../samples/checks.js'
import type { Histogram } from '../store/histogram.js'

/** What handles record through: the open minute, the accepted counter, and the engine's slow paths. */
export class RecordingContext {
  /** The open minute, in minutes since the epoch (start / 60 000); -1 once the engine is closed. */
  openMinute: number
  /** Samples accepted, by every path. */
  accepted = 0
  constructor (openMinute: number,
    /** The open minute's histogram of `s` (created if missing), or undefined (rejected) once closed. */
    readonly openHistogram: (s: Series) => Histogram | undefined,
    /** Counts and reports a value `inRange` refused. */
    readonly rejectValue: (v: number, metric: string) => void,
    readonly reject: (reason: RejectReason, message: string) => void,
    /** Records a weighted sample at an explicit time (epoch ms). */
    readonly recordAt: (s: Series, v: number, count: number, t: number) => void) {
    this.openMinute = openMinute
  }
}

/** No minute's histogram is cached (minute numbers are never negative but for the closed engine's -1). */
const kDetached = -2

/** A resolved series: `series()` returns one, and `record()` keeps one per known path. */
export class SeriesHandle {
  readonly #series: Series
  readonly #ctx: RecordingContext
  /** The minute `#open` belongs to: valid while it equals the context's open minute. */
  #minute = kDetached
  #open: Histogram | null = null

  /** @internal */
  constructor (series: Series, ctx: RecordingContext) { this.#series = series; this.#ctx = ctx }

  /** The series this handle records into. */
  get info (): SeriesInfo { const s = this.#series; return { namespace: s.namespace, metric: s.metric, unit: s.unit, dimensions: s.dimensions } }

  /** Records one sample in the current minute. Bad values are counted and dropped. */
  record (v: number): void {
    // One check as cheap as the range check alone: anything out of range, or large enough that
    // its minute's Sum needs a look (|v| > 2^300, see kLargeMagnitude), takes the slow path.
    if (!isOrdinary(v)) { this.#recordUnusual(v); return }
    if (this.#minute !== this.#ctx.openMinute && !this.#attach()) return
    this.#open!.addOne(v)
    this.#ctx.accepted++
  }

  /** `record(v)` for a value out of range or one above 2^300, checked against its minute. */
  #recordUnusual (v: number): void {
    if (!inRange(v)) { this.#ctx.rejectValue(v, this.#series.metric); return }
    if (this.#minute !== this.#ctx.openMinute && !this.#attach()) return
    const bad = checkMinuteTotal(v, 1, this.#open!.magnitudeBound())
    if (bad !== null) { this.#ctx.reject(bad.reason, `${this.#series.metric}: ${bad.message}`); return }
    this.#open!.addOne(v)
    this.#ctx.accepted++
  }

  /** Records a sample with a weight and/or a timestamp (epoch ms; NaN for now). */
  recordWith (v: number, count: number, timestampMs: number): void {
    const bad = checkValue(v) ?? checkCount(count)
    if (bad !== null) { this.#ctx.reject(bad.reason, `${this.#series.metric}: ${bad.message}`); return }
    // A timestamp in the open minute (the usual `timestamp: Date.now()`) is within CloudWatch's
    // range and never late: it goes where a sample without one goes, not through the store's
    // maps (~150 ns of Map lookups keyed by a minute start and the series).
    if (timestampMs !== timestampMs || Math.floor(timestampMs / kPeriodMs) === this.#ctx.openMinute) {
      if (this.#minute !== this.#ctx.openMinute && !this.#attach()) return
      if (!isOrdinaryProduct(v, count)) {
        const big = checkMinuteTotal(v, count, this.#open!.magnitudeBound())
        if (big !== null) { this.#ctx.reject(big.reason, `${this.#series.metric}: ${big.message}`); return }
      }
      this.#open!.add(v, count)
      this.#ctx.accepted++
      return
    }
    this.#ctx.recordAt(this.#series, v, count, timestampMs)
  }

  /** Caches the open minute's histogram; false (the sample was rejected) once the engine is closed. */
  #attach (): boolean {
    const h = this.#ctx.openHistogram(this.#series)
    if (h === undefined) return false
    this.#open = h
    this.#minute = this.#ctx.openMinute
    return true
  }
}
