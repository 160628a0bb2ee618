/**
 * Embedded Metric Format output: one JSON document a line per datum, for CloudWatch Logs
 * (Lambda, ECS/EKS with a log driver, or the CloudWatch agent).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 *
 * An aggregated datum is written as the metric member
 * `{"Values":[…],"Counts":[…],"Min":…,"Max":…,"Count":…,"Sum":…}` — the aggregated form
 * CloudWatch Logs accepts for EMF (the one the OpenTelemetry collector's awsemfexporter
 * writes for histograms) — so percentiles survive and no raw value is repeated. At most
 * 100 values a member (EMF's limit), so datums are split at 100.
 */
import type { Writable } from 'node:stream'
import type { DatumBatch, MetricDatum } from '../encode/datum.js'
import { SinkError } from '../errors.js'
import type { MetricSink } from './sink.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/** EMF allows at most 100 values in a metric's array. */
export const kEmfMaxValues = 100
/** An EMF event may be at most 256 KB. */
export const kEmfMaxEventBytes = 256 * 1024

/** Options of {@link emfSink}. */
export interface EmfSinkOptions {
  /** Where lines go. @default process.stdout */
  stream?: Writable
}

const kEmfSinkOptionNames = optionNames<EmfSinkOptions>({ stream: true })

/** Renders one datum as an EMF document (without the trailing newline). */
export function emfLine (namespace: string, d: MetricDatum): string {
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: d.Timestamp.getTime(),
      CloudWatchMetrics: [{
        Namespace: namespace,
        Dimensions: [d.Dimensions.map(x => x.Name)],
        Metrics: [{ Name: d.MetricName, Unit: d.Unit, StorageResolution: d.StorageResolution }],
      }],
    },
  }
  for (const x of d.Dimensions) doc[x.Name] = x.Value
  const s = d.StatisticValues
  doc[d.MetricName] = { Values: d.Values, Counts: d.Counts, Min: s.Minimum, Max: s.Maximum, Count: s.SampleCount, Sum: s.Sum }
  return JSON.stringify(doc)
}

/** A sink that writes EMF lines to a stream (stdout by default). Throws a ConfigError on an unknown option (a typo). */
export function emfSink (options: EmfSinkOptions = {}): MetricSink {
  checkOptionNames(options, kEmfSinkOptionNames, 'emfSink')
  const stream = options.stream ?? process.stdout
  return {
    name: 'emf',
    maxValuesPerDatum: kEmfMaxValues,
    maxDatumsPerBatch: 1000,
    maxBatchBytes: 4 * 1024 * 1024,
    async send (batch: DatumBatch) {
      let out = ''
      for (const d of batch.datums) out += emfLine(batch.namespace, d) + '\n'
      // The write callback fires once the chunk is handed to the OS (or failed): that is
      // our acknowledgement, and it also paces us when the stream is backed up.
      await new Promise<void>((resolve, reject) => {
        stream.write(out, err => {
          if (err !== undefined && err !== null) reject(new SinkError(`EMF write failed: ${err.message}`, { retryable: true, datums: batch.datums.length, cause: err }))
          else resolve()
        })
      })
    },
  }
}
