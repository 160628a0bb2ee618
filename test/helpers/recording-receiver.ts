import type { RejectReason } from '../../src/samples/reasons.js'
import type { SampleReceiver } from '../../src/samples/receiver.js'

/** One `sample` call, as the parser made it. */
export interface RecordedSample {
  metric: string
  value: number
  unit: string | undefined
  dimensions: Record<string, string> | undefined
  timestampMs: number
  count: number
  namespace: string | undefined
}

/** One `reject` call. */
export interface RecordedReject {
  reason: RejectReason
  message: string
}

/** Either call, in the order the parser made them. */
export type RecordedEvent = ({ kind: 'sample' } & RecordedSample) | ({ kind: 'reject' } & RecordedReject)

/**
 * A {@link SampleReceiver} that records every call, for asserting on what a parser produced.
 * It validates nothing: tests see exactly what the parser passed on.
 */
export class RecordingReceiver implements SampleReceiver {
  readonly samples: RecordedSample[] = []
  readonly rejects: RecordedReject[] = []
  readonly events: RecordedEvent[] = []

  sample (metric: string, value: number, unit: string | undefined, dimensions: Record<string, string> | undefined,
    timestampMs: number, count: number, namespace?: string): void {
    const s: RecordedSample = { metric, value, unit, dimensions, timestampMs, count, namespace }
    this.samples.push(s)
    this.events.push({ kind: 'sample', ...s })
  }

  reject (reason: RejectReason, message: string): void {
    this.rejects.push({ reason, message })
    this.events.push({ kind: 'reject', reason, message })
  }

  /** Reject reasons only, in order. */
  reasons (): RejectReason[] {
    return this.rejects.map(r => r.reason)
  }

  /** Forgets everything recorded so far. */
  clear (): void {
    this.samples.length = 0
    this.rejects.length = 0
    this.events.length = 0
  }
}
