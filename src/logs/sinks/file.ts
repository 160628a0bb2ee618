/**
 * Log events appended to a file as JSON lines, one event a line:
 * `{"logGroup":"…","logStream":"…","timestamp":1700000000000,"message":"…"}`.
 * For machines without AWS access, and for a log collector that tails files.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { invalidOption } from '../../errors.js'
import { kEventOverheadBytes, kMaxBatchBytes, kMaxEventsPerBatch } from '../limits.js'
import { LogSinkError, type LogEvent, type LogSink, type LogStreamRef } from '../sink.js'

/** Options of {@link fileLogSink}. */
export interface FileLogSinkOptions {
  /** The file; created (mode 0600) when missing, appended to otherwise. */
  path: string
}

/** Creates a sink that appends JSON lines to a file. Writes are serialised, so each batch lands whole and in order. */
export function fileLogSink (options: FileLogSinkOptions): LogSink {
  if (typeof options?.path !== 'string' || options.path === '') throw invalidOption('options.path must be a file path')
  let fh: Promise<FileHandle> | undefined
  let chain: Promise<unknown> = Promise.resolve()
  return {
    name: 'file',
    maxEventsPerBatch: kMaxEventsPerBatch,
    maxBatchBytes: kMaxBatchBytes,
    eventOverheadBytes: kEventOverheadBytes,
    put (ref: LogStreamRef, events: readonly LogEvent[]) {
      const text = events.map(e => JSON.stringify({ logGroup: ref.group, logStream: ref.stream, timestamp: e.timestamp, message: e.message })).join('\n') + '\n'
      const p = chain.then(async () => {
        fh ??= open(options.path, 'a', 0o600)
        try {
          await (await fh).appendFile(text, 'utf8')
        } catch (err) {
          throw new LogSinkError(`cannot append to ${options.path}: ${(err as Error).message}`, 'retryable', { cause: err })
        }
        return undefined
      })
      chain = p.catch(() => undefined)
      return p
    },
    async close () {
      await chain
      if (fh !== undefined) { try { await (await fh).close() } catch { /* already closed */ } }
    },
  }
}
