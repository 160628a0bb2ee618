/**
 * Cutting the queue of one stream into PutLogEvents batches. Pure: no I/O, no clock.
 */
import { kMaxBatchSpanMs } from './limits.js'

/** A queued event: its message, timestamp and size as the batch limit counts it (UTF-8 + overhead). */
export interface QueuedEvent {
  timestamp: number
  message: string
  bytes: number
}

/** The limits of one batch. */
export interface BatchLimits {
  maxEvents: number
  maxBytes: number
  /** A batch's events span less than this. @default 24 h */
  maxSpanMs?: number
}

/**
 * The end (exclusive) of the batch that starts at `start`: as many events as fit, stopping
 * at the count limit, the byte limit, an event whose timestamp goes backwards (a batch must be
 * chronological) or one 24 hours or more after the batch's first. Always takes at least one
 * event when `start < queue.length` (an event is never larger than a batch).
 */
export function batchEnd (queue: readonly QueuedEvent[], start: number, limits: BatchLimits, cap = Infinity): number {
  const n = queue.length
  if (start >= n) return start
  const maxEvents = Math.max(1, Math.min(limits.maxEvents, cap))
  const maxSpan = limits.maxSpanMs ?? kMaxBatchSpanMs
  const first = queue[start].timestamp
  let bytes = queue[start].bytes
  let prev = first
  let i = start + 1
  for (; i < n && i - start < maxEvents; i++) {
    const e = queue[i]
    if (bytes + e.bytes > limits.maxBytes) break
    if (e.timestamp < prev || e.timestamp - first >= maxSpan) break
    bytes += e.bytes
    prev = e.timestamp
  }
  return i
}
