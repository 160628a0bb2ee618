/** A real sink, tapped so that a test sees the batches the engine made before they are sent. */
import type { DatumBatch, MetricSink } from '../../src/index.js'

export function tapped (sink: MetricSink, into: DatumBatch[]): MetricSink {
  return {
    name: sink.name,
    maxValuesPerDatum: sink.maxValuesPerDatum,
    maxDatumsPerBatch: sink.maxDatumsPerBatch,
    maxBatchBytes: sink.maxBatchBytes,
    async send (batch) { into.push(batch); await sink.send(batch) },
    close: sink.close?.bind(sink),
  }
}
