/**
 * Why a sample was rejected: the stable keys every stage counts rejections under, and the
 * error code each maps to where a call throws instead (`series()`).
 */
import type { MetricsErrorCode } from '../errors.js'

/**
 * Why a sample was rejected. Stable keys: they appear in `stats().rejectedByReason`,
 * in the HTTP listener's answers and in self-metrics.
 */
export type RejectReason =
  | 'not_a_number'          // NaN, a non-numeric string
  | 'not_finite'            // ±Infinity
  | 'value_out_of_range'    // magnitude above 2^360, or non-zero below 2^-360
  | 'count_invalid'         // count / sample rate not a positive finite number from 1e-9 to 1e9
  | 'minute_total_out_of_range' // the sample would take its minute's Sum beyond 2^360 (or value × count below 2^-360)
  | 'timestamp_too_old'     // older than CloudWatch accepts (2 weeks)
  | 'timestamp_in_future'   // more than 2 hours ahead
  | 'timestamp_invalid'     // not a number
  | 'metric_name_invalid'   // empty, too long, not a string
  | 'namespace_invalid'
  | 'unit_invalid'          // not one of the 27 StandardUnit names
  | 'too_many_dimensions'
  | 'dimension_invalid'     // bad name or value
  | 'cardinality_limit'     // the series cap was reached (counted, folded into an overflow series)
  | 'malformed'             // a line or document that does not parse
  | 'unsupported_type'      // a StatsD type or EMF feature that is not supported
  | 'too_large'             // a body or datagram over its limit
  | 'closed'                // the aggregator was closed
  | 'overloaded'            // the ingest queue to the worker threads was full (counted per datagram)
  | 'worker_failed'         // a worker thread died on a batch (counted per datagram)

/** Every reason, in the order `stats().rejectedByReason` lists them. */
export const kRejectReasons: readonly RejectReason[] = Object.freeze(['not_a_number', 'not_finite', 'value_out_of_range',
  'count_invalid', 'minute_total_out_of_range', 'timestamp_too_old', 'timestamp_in_future', 'timestamp_invalid', 'metric_name_invalid', 'namespace_invalid',
  'unit_invalid', 'too_many_dimensions', 'dimension_invalid', 'cardinality_limit', 'malformed', 'unsupported_type', 'too_large',
  'closed', 'overloaded', 'worker_failed'])

/** A failed check: the reason key and a message that says what to change. */
export interface Rejection { reason: RejectReason, message: string }

/** Whether a check's answer is a rejection (rather than its result). */
export function isRejection (x: unknown): x is Rejection {
  return typeof x === 'object' && x !== null && 'reason' in x && 'message' in x
}

/** The error code of a reason, for calls that throw (`series()`) and for warnings. */
export function codeOf (reason: RejectReason): MetricsErrorCode {
  switch (reason) {
    case 'metric_name_invalid': return 'METRICS_ERR_INVALID_NAME'
    case 'namespace_invalid': return 'METRICS_ERR_INVALID_NAME'
    case 'unit_invalid': return 'METRICS_ERR_INVALID_UNIT'
    case 'too_many_dimensions': case 'dimension_invalid': return 'METRICS_ERR_DIMENSION'
    default: return 'METRICS_ERR_INVALID_SAMPLE'
  }
}
