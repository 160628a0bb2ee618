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

/** Why `count` cannot weigh a sample (it must be positive and finite), or null. */
export function checkCount (count: unknown): Rejection | null {
  if (typeof count === 'number' && count > 0 && count < Infinity) return null
  return { reason: 'count_invalid', message: `count ${show(count, 40)} must be a positive finite number` }
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
