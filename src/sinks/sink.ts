import type { DatumBatch } from '../encode/datum.js'

/**
 * Where sealed datums go. `send` resolves when the batch was accepted and rejects with a
 * `SinkError` (whose `retryable` says whether to try again) when it was not.
 */
export interface MetricSink {
  /** A short name for logs and stats (`cloudwatch`, `emf`, `memory`). */
  readonly name: string
  /** Most Values/Counts entries a datum may carry (150 for PutMetricData, 100 for EMF). */
  readonly maxValuesPerDatum: number
  /** Most datums a batch may carry. */
  readonly maxDatumsPerBatch: number
  /** Most bytes a batch may carry. */
  readonly maxBatchBytes: number
  send (batch: DatumBatch): Promise<void>
  /**
   * Resolves what the sink needs before it can send (the CloudWatch sink: region and
   * credentials); rejects with a ConfigError that says what to set. The sidecar calls it
   * before it reports ready.
   */
  check? (): Promise<unknown>
  close? (): Promise<void>
}
