/**
 * The contract between a wire-format parser (StatsD, EMF, HTTP JSON) and whatever
 * aggregates what it parses: the engine on the main thread, or a partial store on a worker.
 * Parsers call `sample` once per value and `reject` once per bad line, value or document;
 * they never throw on bad input and never allocate a result object per sample.
 */
import type { RejectReason } from './reasons.js'

/** What a parser writes into: one call per value, one per rejection. */
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
