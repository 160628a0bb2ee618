/**
 * What the ingest needs of the engine, and no more: its clock and precision, a way to count
 * what it rejects before parsing, and a way to fold in what the workers return. The
 * `Aggregator` is one; the ingest never depends on how aggregation is done.
 */
import type { Clock } from '../core/clock.js'
import type { RejectReason } from '../samples/reasons.js'
import type { PackedPartial } from '../store/partial.js'

/** The engine as the ingest sees it. */
export interface IngestTarget {
  readonly options: {
    /** The histograms' precision: workers pack theirs at it. */
    readonly precisionBits: number
    /** The engine's clock: batches are cut at its minute boundaries. */
    readonly clock: Clock
  }
  /** Counts `n` samples (or datagrams) rejected before they reached the engine. */
  countRejected (reason: RejectReason, message: string, n?: number): void
  /** Folds a worker's packed partial histograms in, for the minute of `receivedAtMs` where they carry no timestamp. */
  mergePartial (partial: PackedPartial, receivedAtMs: number): void
}
