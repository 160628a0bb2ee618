/**
 * Where log lines go: CloudWatch Logs, a file, stdout, or memory. A sink receives batches
 * that already satisfy its limits, for one (group, stream) at a time, from the shipper,
 * which owns ordering, batching and retries.
 */
import { MetricsError } from '../errors.js'

/** One log event: when (epoch ms) and what (one line, never empty). */
export interface LogEvent {
  timestamp: number
  message: string
}

/** A log group and stream. */
export interface LogStreamRef {
  readonly group: string
  readonly stream: string
}

/**
 * Events the service refused while taking the rest of the batch (PutLogEvents'
 * `rejectedLogEventsInfo`): indexes into the batch.
 */
export interface RejectedEvents {
  /** Events from this index on were more than 2 hours in the future. */
  tooNewStartIndex?: number
  /** Events up to and including this index were more than 14 days old. */
  tooOldEndIndex?: number
  /** Events up to and including this index were older than the group's retention. */
  expiredEndIndex?: number
}

/** What a successful `put` may report. */
export interface PutResult {
  rejected?: RejectedEvents
}

/**
 * How a failed call should be handled:
 * - `throttled`, `retryable`: send the same events again later (backoff);
 * - `not_found`: the group or stream is missing: create them, then send again;
 * - `invalid`: the request is malformed (an event the service refuses): split the batch to
 *   find the event, drop that one;
 * - `fatal`: will never succeed: drop the batch and say so;
 * - `blocked`: every call will fail like this until a person fixes something (access denied,
 *   unknown or expired credentials, no region, an endpoint host that does not exist): keep
 *   the events, retry at the backoff ceiling, and say so at once.
 */
export type LogSinkErrorKind = 'throttled' | 'retryable' | 'not_found' | 'invalid' | 'fatal' | 'blocked'

/** A failed sink call. */
export class LogSinkError extends MetricsError {
  override name = 'LogSinkError'
  readonly kind: LogSinkErrorKind
  constructor (message: string, kind: LogSinkErrorKind, options?: ErrorOptions) {
    super(message, 'METRICS_ERR_SINK', options)
    this.kind = kind
  }
}

/** A destination of log events. */
export interface LogSink {
  /** `cloudwatch-logs`, `file`, `stdout`, `memory`. */
  readonly name: string
  /** Most events a call may carry. */
  readonly maxEventsPerBatch: number
  /** Most bytes a call may carry, counted as UTF-8 messages + `eventOverheadBytes` each. */
  readonly maxBatchBytes: number
  /** Bytes each event adds on top of its message. */
  readonly eventOverheadBytes: number
  /**
   * Makes sure the group and stream exist (creating them when missing; "already exists" is
   * success). Called before the first `put` to a stream, and again after a `not_found`.
   */
  ensureStream? (ref: LogStreamRef, signal?: AbortSignal): Promise<void>
  /**
   * Delivers the events, in order, to the stream. Rejects with a {@link LogSinkError}.
   * The events are in chronological order and within the sink's limits.
   */
  put (ref: LogStreamRef, events: readonly LogEvent[], signal?: AbortSignal): Promise<PutResult | undefined>
  /**
   * Resolves what the sink needs before it can send (CloudWatch Logs: region and
   * credentials); rejects with a ConfigError that says what to set.
   */
  check? (): Promise<unknown>
  close? (): Promise<void>
}
