/**
 * The one copy of each sample check — value, weight, timestamp — with the message that says
 * what to change. `SeriesHandle`, `record()`, the worker-side `PartialStore` and the parsers
 * all take their rule and their message from here; a hot path may inline the comparison of
 * {@link inRange}, never restate the rule with another message.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
 */
import { kMaxFutureMs, kMaxMagnitude, kMaxPastMs, kMinMagnitude } from '../limits.js'
import type { Rejection } from './reasons.js'
import { iso, show } from './show.js'

/**
 * A minute must still be accepted by CloudWatch when it is published, minutes after the
 * sample arrived (grace period, retries): timestamps are held to 2 weeks less this margin.
 */
export const kPastMarginMs = 15 * 60_000

/**
 * Whether `v` can be published: 0, or a magnitude from 2^-360 to 2^360 (so not NaN, not
 * ±Infinity). Written so that NaN fails the first comparison.
 */
export function inRange (v: number): boolean {
  const a = v < 0 ? -v : v
  return a <= kMaxMagnitude && (a >= kMinMagnitude || a === 0)
}

/**
 * Why a parsed number is no value at all (NaN, ±Infinity), or undefined. Parsers reject a whole
 * line or metric on this before recording any of its values; the range is checked per value
 * by whoever receives them ({@link checkValue}).
 */
export function nonNumberReason (v: number): 'not_a_number' | 'not_finite' | undefined {
  if (v !== v) return 'not_a_number'
  if (v === Infinity || v === -Infinity) return 'not_finite'
  return undefined
}

/** Why `v` cannot be published, or null. */
export function checkValue (v: unknown): Rejection | null {
  if (typeof v !== 'number') return { reason: 'not_a_number', message: `value ${show(v, 40)} is not a number: send a finite number` }
  if (inRange(v)) return null
  switch (nonNumberReason(v)) {
    case 'not_a_number': return { reason: 'not_a_number', message: 'value NaN is not a number: send a finite number' }
    case 'not_finite': return { reason: 'not_finite', message: `value ${v} is not finite: CloudWatch rejects ±Infinity` }
    default: return { reason: 'value_out_of_range', message: `value ${v} is outside CloudWatch's range: magnitudes from 2^-360 to 2^360, or 0` }
  }
}

/**
 * The weights a sample may carry (`count`, a StatsD sample rate's 1/rate, an EMF `Counts`
 * entry): from 1e-9 to 1e9. The bounds keep every count CloudWatch sees within its range with
 * room to spare: a SampleCount or a Counts entry is a sum of weights, so it is at least 1e-9
 * (CloudWatch refuses non-zero magnitudes below 2^-360 ≈ 4e-109) and, at 1e9 a sample for
 * fewer than 2^44 samples a minute, below 2^74 (the limit is 2^360).
 */
export const kMinCount = 1e-9
export const kMaxCount = 1e9

/** Why `count` cannot weigh a sample, or null. Written so that NaN fails. */
export function checkCount (count: unknown): Rejection | null {
  if (typeof count === 'number' && count >= kMinCount && count <= kMaxCount) return null
  return { reason: 'count_invalid', message: `count ${show(count, 40)} must be a positive finite number from 1e-9 to 1e9 (a StatsD sample rate from 1e-9 to 1)` }
}

/**
 * A minute's totals. CloudWatch refuses a datum whose Sum (or the Sum of one share of a split
 * datum) lies beyond 2^360, and with it every sample of that series-minute; so a sample is
 * refused when it would take its minute there (`minute_total_out_of_range`), and the minute's
 * other samples are published.
 *
 * What is bounded is the minute's sum of magnitudes, S = Σ |value × count|: it bounds the Sum
 * and the Sum of every share of a split datum at once (a share's Sum is computed from bucket
 * values, each within 2^-p/(2+2^-p) of its samples, plus a part of the rounding residual: at
 * most (1 + 2^-p)·S, 1.0625·S at the coarsest precision p = 4).
 *
 * Why the hot path checks nothing: a sample with |value × count| ≤ {@link kLargeMagnitude}
 * (2^300) is never checked against its minute. Such samples add at most 2^300 each, and a
 * minute takes fewer than 2^44 samples (1.7e13, 290 billion a second: a thousand times what
 * `handle.record()` can do), so together at most 2^344. Only larger samples are checked, so
 * that S stays within {@link kMaxMinuteMagnitude} (0.9 · 2^360); all together
 * 1.0625 · (0.9 · 2^360 + 2^344) < 2^360 for every share and the whole.
 */
export const kLargeMagnitude = 2 ** 300
export const kMaxMinuteMagnitude = 0.9 * kMaxMagnitude

/**
 * Whether `v` needs nothing beyond the hot path: in range (as {@link inRange}) and at most
 * {@link kLargeMagnitude}, so that its minute's totals need no check. Written so that NaN fails.
 */
export function isOrdinary (v: number): boolean {
  const a = v < 0 ? -v : v
  return a <= kLargeMagnitude && (a >= kMinMagnitude || a === 0)
}

/**
 * Why a sample of `value × count` (both valid on their own) cannot join a minute whose sum of
 * magnitudes is at most `held` (see {@link kMaxMinuteMagnitude}), or null. Callers skip the
 * call when |value × count| is at most {@link kLargeMagnitude}, and pass Infinity for `held`
 * where they have not computed it.
 */
export function checkMinuteTotal (value: number, count: number, held: number): Rejection | null {
  const a = Math.abs(value * count)
  if (a !== 0 && a < kMinMagnitude) {
    return { reason: 'minute_total_out_of_range', message: `value ${value} × count ${count} = ${a} is below CloudWatch's smallest magnitude (2^-360): send a larger count` }
  }
  if (a <= kLargeMagnitude || fitsMinute(held, a)) return null
  return {
    reason: 'minute_total_out_of_range',
    message: `value ${value} × count ${count} would take its minute's Sum past what CloudWatch accepts ` +
      `(magnitudes up to 2^360; the minute holds up to ${held.toPrecision(3)} already): the sample is dropped and the minute's other samples are kept; ` +
      'check the sender\'s values and sample rate',
  }
}

/** The rule itself: a minute holding up to `held` of magnitudes can take `a` more. NaN fails. */
function fitsMinute (held: number, a: number): boolean { return held + a <= kMaxMinuteMagnitude }

/**
 * Why an aggregate of `samples` samples (a worker thread's partial, a checkpointed minute)
 * whose sum of magnitudes is at most `adding` cannot be merged into a minute holding up to
 * `held`, or null. Such an aggregate is refused whole: its samples are counted under
 * `minute_total_out_of_range`.
 */
export function checkMergedTotal (adding: number, held: number, samples: number): Rejection | null {
  if (fitsMinute(held, adding)) return null
  return {
    reason: 'minute_total_out_of_range',
    message: `an aggregate of ${samples} samples (magnitudes up to ${adding.toPrecision(3)}) would take its minute's Sum past what CloudWatch accepts ` +
      `(magnitudes up to 2^360; the minute holds up to ${held.toPrecision(3)} already): those samples are dropped and the minute's others are kept; ` +
      'check the senders\' values and sample rates',
  }
}

/** Whether |value × count| is ordinary: neither large enough to need {@link checkMinuteTotal} nor too small to publish. */
export function isOrdinaryProduct (value: number, count: number): boolean {
  const a = Math.abs(value * count)
  return a <= kLargeMagnitude && (a >= kMinMagnitude || a === 0)
}

/**
 * Why a sample taken at `t` (epoch ms) cannot be published at `nowMs`, or null: CloudWatch
 * takes timestamps from 2 weeks back (less {@link kPastMarginMs}) to 2 hours ahead.
 */
export function checkTimestamp (t: unknown, nowMs: number): Rejection | null {
  if (typeof t !== 'number' || !Number.isFinite(t)) return { reason: 'timestamp_invalid', message: `timestamp must be epoch milliseconds or a Date, got ${show(t)}` }
  if (t < nowMs - kMaxPastMs + kPastMarginMs) return { reason: 'timestamp_too_old', message: `timestamp ${iso(t)} is older than CloudWatch accepts (2 weeks)` }
  if (t > nowMs + kMaxFutureMs) return { reason: 'timestamp_in_future', message: `timestamp ${iso(t)} is more than 2 hours ahead; check the sender's clock and that timestamps are epoch milliseconds` }
  return null
}
