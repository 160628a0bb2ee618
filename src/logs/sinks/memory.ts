/** A log sink that keeps events in memory: for tests and demos. */
import { kEventOverheadBytes, kMaxBatchBytes, kMaxEventsPerBatch } from '../limits.js'
import type { LogEvent, LogSink, LogStreamRef } from '../sink.js'

/** A sink that keeps what it receives. */
export interface MemoryLogSink extends LogSink {
  /** Every batch received, in order. */
  readonly batches: Array<{ group: string, stream: string, events: LogEvent[] }>
  /** The events of one stream, in order. */
  events (group: string, stream: string): LogEvent[]
}

/** Creates a sink that keeps batches in memory. */
export function memoryLogSink (): MemoryLogSink {
  const batches: Array<{ group: string, stream: string, events: LogEvent[] }> = []
  return {
    name: 'memory',
    maxEventsPerBatch: kMaxEventsPerBatch,
    maxBatchBytes: kMaxBatchBytes,
    eventOverheadBytes: kEventOverheadBytes,
    batches,
    async put (ref: LogStreamRef, events: readonly LogEvent[]) {
      batches.push({ group: ref.group, stream: ref.stream, events: events.map(e => ({ ...e })) })
      return undefined
    },
    events (group: string, stream: string) {
      return batches.filter(b => b.group === group && b.stream === stream).flatMap(b => b.events)
    },
  }
}
