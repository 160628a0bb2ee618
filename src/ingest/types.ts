/**
 * The contract between a wire-format parser (StatsD, EMF, HTTP JSON) and whatever
 * aggregates what it parses: the engine on the main thread, or a partial store on a worker.
 * Parsers call `sample` once per value and `reject` once per bad line, value or document;
 * they never throw on bad input and never allocate a result object per sample.
 */
export interface SampleReceiver {
  /**
   * One parsed value.
   * @param metric      metric name as received (validated by the receiver)
   * @param value       the value (validated by the receiver: finite, in range)
   * @param unit        a CloudWatch unit name, or undefined for the receiver's default
   * @param dimensions  dimension name -> value, or undefined for none. The receiver may keep
   *                    a reference: parsers must not mutate it afterwards.
   * @param timestampMs epoch milliseconds, or NaN for "now"
   * @param count       weight of the value (1, or 1/sampleRate), > 0
   * @param namespace   a namespace for this value, or undefined for the receiver's default
   */
  sample (metric: string, value: number, unit: string | undefined, dimensions: Record<string, string> | undefined,
    timestampMs: number, count: number, namespace?: string): void
  /** One rejected line, value or document. `reason` is a stable snake_case key; `message` says what to change. */
  reject (reason: RejectReason, message: string): void
}

/**
 * Why a sample was rejected. Stable keys: they appear in `stats().rejectedByReason`,
 * in the HTTP listener's answers and in self-metrics.
 */
export type RejectReason =
  | 'not_a_number'          // NaN, a non-numeric string
  | 'not_finite'            // ±Infinity
  | 'value_out_of_range'    // magnitude above 2^360, or non-zero below 2^-360
  | 'count_invalid'         // count / sample rate not a positive finite number
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
