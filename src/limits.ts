/**
 * CloudWatch PutMetricData limits, each with the page that states it.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html
 */
export const kMaxDatumsPerRequest = 1000
/** 1 MB a request (HTTP 413 above). We keep a margin for headers and signing. */
export const kMaxRequestBytes = 1_000_000
/** Values and Counts arrays: at most 150 entries each, of equal length. */
export const kMaxValuesPerDatum = 150
/** CloudWatch allows 30 dimensions a metric; the SageMaker seed and minutely default to 10. */
export const kCloudWatchMaxDimensions = 30
export const kDefaultMaxDimensions = 10
/** Values must lie in [-2^360, 2^360]; non-zero magnitudes below 2^-360 are rejected too. */
export const kMaxMagnitude = 2 ** 360
export const kMinMagnitude = 2 ** -360
/** Timestamps: up to two weeks in the past and two hours in the future. */
export const kMaxPastMs = 14 * 24 * 3600_000
export const kMaxFutureMs = 2 * 3600_000
export const kMaxNamespaceLength = 255
export const kMaxMetricNameLength = 255
export const kMaxDimensionNameLength = 255
export const kMaxDimensionValueLength = 1024
export const kPeriodMs = 60_000

/** The 27 `StandardUnit` names CloudWatch accepts. */
export const kStandardUnits = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count',
  'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second',
  'Count/Second', 'None',
] as const

/** A CloudWatch `StandardUnit`. */
export type StandardUnit = typeof kStandardUnits[number]

const kUnitSet: ReadonlySet<string> = new Set(kStandardUnits)
/** True when `u` is one of the 27 standard unit names (case-sensitive, as CloudWatch is). */
export function isStandardUnit (u: unknown): u is StandardUnit {
  return typeof u === 'string' && kUnitSet.has(u)
}
