import type { StandardUnit } from '../limits.js'

/** A dimension as CloudWatch takes it. */
export interface Dimension { Name: string, Value: string }

/** A series as published: what every datum of it carries besides its statistics. */
export interface SeriesInfo {
  readonly namespace: string
  readonly metric: string
  readonly unit: StandardUnit
  /** Sorted by name (CloudWatch's identity of a metric ignores the order). */
  readonly dimensions: readonly Dimension[]
}

/** Exact statistics of a datum's share of samples. */
export interface StatisticSet { SampleCount: number, Sum: number, Minimum: number, Maximum: number }

/** A PutMetricData datum, in the SDK's shape. */
export interface MetricDatum {
  MetricName: string
  Dimensions: Dimension[]
  Timestamp: Date
  Unit: StandardUnit
  StorageResolution: 60 | 1
  StatisticValues: StatisticSet
  Values: number[]
  Counts: number[]
}

/** Datums of one namespace that fit one PutMetricData request. */
export interface DatumBatch {
  namespace: string
  datums: MetricDatum[]
  /** Size of the JSON body the SDK sends for this batch, in bytes. */
  bytes: number
}
