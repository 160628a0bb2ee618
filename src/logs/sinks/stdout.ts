/**
 * Log events written as text lines to a stream (stdout by default), each prefixed with the
 * last part of its log stream name — the container's name for pipeline streams:
 * `[container-1] message`. For Docker, Kubernetes and ECS, whose runtimes collect stdout.
 */
import type { Writable } from 'node:stream'
import { kEventOverheadBytes, kMaxBatchBytes, kMaxEventsPerBatch } from '../limits.js'
import type { LogEvent, LogSink, LogStreamRef } from '../sink.js'

/** Options of {@link stdoutLogSink}. */
export interface StdoutLogSinkOptions {
  /** @default process.stdout */
  stream?: Writable
  /** The prefix of a line. @default `[<last part of the stream name>] ` */
  prefix?: (ref: LogStreamRef) => string
}

/** Creates a sink that writes lines to stdout (or another stream), honouring backpressure. */
export function stdoutLogSink (options: StdoutLogSinkOptions = {}): LogSink {
  const out = options.stream ?? process.stdout
  const prefix = options.prefix ?? ((ref: LogStreamRef) => `[${ref.stream.slice(ref.stream.lastIndexOf('/') + 1)}] `)
  return {
    name: 'stdout',
    maxEventsPerBatch: kMaxEventsPerBatch,
    maxBatchBytes: kMaxBatchBytes,
    eventOverheadBytes: kEventOverheadBytes,
    async put (ref: LogStreamRef, events: readonly LogEvent[]) {
      const p = prefix(ref)
      let text = ''
      for (const e of events) text += p + e.message + '\n'
      if (!out.write(text)) await new Promise<void>(resolve => { out.once('drain', resolve) })
      return undefined
    },
  }
}
