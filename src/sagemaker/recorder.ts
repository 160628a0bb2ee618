/**
 * The structural interface the SageMaker layer records into. The aggregator in `src/core/`
 * implements it; tests use an in-memory double. Keeping the SageMaker layer on this narrow,
 * structural contract (rather than importing the engine class) means the collectors and the
 * HTTP middleware never depend on how aggregation is done, and can be pointed at anything
 * that looks like a recorder.
 */
import type { StandardUnit } from '../limits.js'

/** Per-call options of {@link MetricRecorder.record}. */
export interface RecordOptions {
  /** A CloudWatch unit; the recorder's default when omitted. */
  unit?: StandardUnit
  /** When the sample was taken (epoch ms or a Date); the recorder's clock when omitted. */
  timestamp?: number | Date
  /** Weight of the sample (1 when omitted). */
  count?: number
  /** Namespace of the sample; the recorder's default when omitted. */
  namespace?: string
}

/** A pre-resolved series: validation and keying happened once, so `record` is cheap. */
export interface SeriesHandleLike {
  /** Adds one sample to the series. */
  record (value: number): void
}

/** Anything that accepts samples: the aggregator, or a test double. */
export interface MetricRecorder {
  /** Records one sample of `metric` with the given dimensions. */
  record (metric: string, value: number, dimensions?: Readonly<Record<string, string>>, options?: RecordOptions): void
  /**
   * Resolves a series once, so the hot path records through the returned handle without
   * building strings or hashing the dimensions object again.
   */
  series (metric: string, dimensions?: Readonly<Record<string, string>>,
    options?: { unit?: StandardUnit, namespace?: string }): SeriesHandleLike
}
