import type { DatumBatch, MetricDatum } from '../encode/datum.js'
import { kMaxDatumsPerRequest, kMaxValuesPerDatum } from '../limits.js'
import { kRequestBodyBudget } from '../encode/batcher.js'
import type { MetricSink } from './sink.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/** Options of {@link inMemorySink}. */
export interface InMemorySinkOptions {
  /** Called with each batch as it is "published". */
  onBatch?: (batch: DatumBatch) => void
  /** Keep at most this many batches (oldest dropped). @default 10000 */
  maxBatches?: number
}

const kInMemorySinkOptionNames = optionNames<InMemorySinkOptions>({ onBatch: true, maxBatches: true })

/** A sink that keeps what it receives: for tests, the demo and the status page. */
export interface InMemorySink extends MetricSink {
  readonly batches: DatumBatch[]
  /** Every datum received, with its namespace. */
  datums (): Array<MetricDatum & { Namespace: string }>
  clear (): void
}

/** Creates a sink that keeps batches in memory and needs no AWS account. Throws a ConfigError on an unknown option (a typo). */
export function inMemorySink (options: InMemorySinkOptions = {}): InMemorySink {
  checkOptionNames(options, kInMemorySinkOptionNames, 'inMemorySink')
  const batches: DatumBatch[] = []
  const max = options.maxBatches ?? 10_000
  return {
    name: 'memory',
    maxValuesPerDatum: kMaxValuesPerDatum,
    maxDatumsPerBatch: kMaxDatumsPerRequest,
    maxBatchBytes: kRequestBodyBudget,
    batches,
    async send (batch) {
      batches.push(batch)
      if (batches.length > max) batches.shift()
      options.onBatch?.(batch)
    },
    datums () { return batches.flatMap(b => b.datums.map(d => ({ ...d, Namespace: b.namespace }))) },
    clear () { batches.length = 0 },
  }
}
