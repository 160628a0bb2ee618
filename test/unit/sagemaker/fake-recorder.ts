/**
 * An in-memory MetricRecorder for the SageMaker layer's tests: it stores every call, so a
 * test can assert exactly what was recorded. It aggregates nothing (that is the engine's job
 * and has its own tests).
 */
import type { StandardUnit } from '../../../src/limits.js'
import type { MetricRecorder, RecordOptions, SeriesHandleLike } from '../../../src/sagemaker/recorder.js'

/** One recorded sample, whether it came through record() or a series handle. */
export interface RecordedSample {
  via: 'record' | 'series'
  metric: string
  value: number
  dimensions: Readonly<Record<string, string>>
  unit?: StandardUnit
  namespace?: string
  timestamp?: number | Date
  count?: number
}

/** One series() resolution. */
export interface ResolvedSeries {
  metric: string
  dimensions: Readonly<Record<string, string>>
  unit?: StandardUnit
  namespace?: string
}

/** Stores every record() call and every sample recorded through a series handle, in order. */
export class FakeRecorder implements MetricRecorder {
  readonly samples: RecordedSample[] = []
  readonly resolved: ResolvedSeries[] = []

  record (metric: string, value: number, dimensions: Readonly<Record<string, string>> = {}, options: RecordOptions = {}): void {
    this.samples.push({ via: 'record', metric, value, dimensions, ...options })
  }

  series (metric: string, dimensions: Readonly<Record<string, string>> = {},
    options: { unit?: StandardUnit, namespace?: string } = {}): SeriesHandleLike {
    const s: ResolvedSeries = { metric, dimensions, ...options }
    this.resolved.push(s)
    const samples = this.samples
    return {
      record (value: number): void {
        samples.push({ via: 'series', metric, value, dimensions, ...options })
      },
    }
  }

  /** Values recorded for `metric`, optionally only those whose dimensions include `dims`. */
  values (metric: string, dims?: Readonly<Record<string, string>>): number[] {
    return this.of(metric, dims).map((s) => s.value)
  }

  /** Samples recorded for `metric`, optionally filtered by a subset of dimensions. */
  of (metric: string, dims?: Readonly<Record<string, string>>): RecordedSample[] {
    return this.samples.filter((s) => s.metric === metric &&
      (dims === undefined || Object.entries(dims).every(([k, v]) => s.dimensions[k] === v)))
  }

  /** Distinct metric names recorded, in first-seen order. */
  metrics (): string[] {
    return [...new Set(this.samples.map((s) => s.metric))]
  }

  clear (): void {
    this.samples.length = 0
  }
}
