/**
 * Every bad option of the log layer (shipper, line splitter, file sink, process runner) is a
 * ConfigError with code METRICS_ERR_INVALID_OPTION naming the option, as everywhere else in
 * minutely: never a bare TypeError or RangeError.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/errors.js'
import { LineSplitter, splitUtf8 } from '../../../src/logs/lines.js'
import { startProcess, type RestartPolicy } from '../../../src/logs/runner.js'
import { createLogShipper } from '../../../src/logs/shipper.js'
import type { LogSink } from '../../../src/logs/sink.js'
import { fileLogSink } from '../../../src/logs/sinks/file.js'
import { memoryLogSink } from '../../../src/logs/sinks/memory.js'

const sink = memoryLogSink()

describe('log options', () => {
  it.each<[string, () => unknown, RegExp]>([
    ['shipper without a sink', () => createLogShipper({ sink: {} as LogSink }), /^options\.sink must be a LogSink/],
    ['negative flush interval', () => createLogShipper({ sink, flushIntervalMs: -1 }), /^options\.flushIntervalMs must be a non-negative number; got -1/],
    ['NaN queue budget', () => createLogShipper({ sink, maxQueuedBytes: Number.NaN }), /^options\.maxQueuedBytes must be a non-negative number; got NaN/],
    ['negative retry delay', () => createLogShipper({ sink, retryMaxMs: -5 }), /^options\.retryMaxMs must be a non-negative number/],
    ['event size below one code point', () => createLogShipper({ sink, maxEventMessageBytes: 3 }), /^options\.maxEventMessageBytes must be at least 4; got 3/],
    ['line pieces below one code point', () => new LineSplitter(() => {}, { maxLineBytes: 2 }), /^options\.maxLineBytes must be an integer >= 4; got 2/],
    ['fractional line size', () => new LineSplitter(() => {}, { maxLineBytes: 100.5 }), /^options\.maxLineBytes must be an integer/],
    ['split below one code point', () => splitUtf8('abc', 1), /^maxBytes must be at least 4/],
    ['file sink without a path', () => fileLogSink({ path: '' }), /^options\.path must be a file path/],
    ['unknown restart policy', () => startProcess({ name: 'x', command: 'true', onLine: () => {}, restart: 'sometimes' as RestartPolicy, log: () => {} }), /^options\.restart must be one of never, on-failure, always; got sometimes/],
  ])('%s', (_, make, message) => {
    let thrown: unknown
    try { make() } catch (err) { thrown = err }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect(thrown).toMatchObject({ name: 'ConfigError', code: 'METRICS_ERR_INVALID_OPTION' })
    expect((thrown as Error).message).toMatch(message)
  })
})
