import type { Dimension } from '../dimensions/validate.js'
import type { StandardUnit } from '../limits.js'

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
