/**
 * Worker-thread entry (piscina): parses one batch of datagrams or EMF lines into a
 * PartialStore and returns it packed. Stateless between tasks: a worker that dies loses at
 * most the batch it was working on, and the pool counts that batch.
 */
import { workerData } from 'node:worker_threads'
import { move, transferableSymbol, valueSymbol } from 'piscina'
import { PartialStore, type PackedPartial } from '../store/partial.js'
import { parseStatsd, type StatsdParseOptions } from './statsd.js'
import { parseEmf, type EmfParseOptions } from './emf.js'
import { kRecordHeaderBytes } from './records.js'

/** What the pool hands each worker at start. */
export interface IngestWorkerData {
  precisionBits: number
  statsd: StatsdParseOptions
  emf: EmfParseOptions
}

/** One task: records of `[u32 little-endian length][bytes]` (records.ts). */
export interface IngestTask {
  kind: 'statsd' | 'emf'
  buf: Uint8Array
  length: number
  nowMs: number
}

const wd = (workerData ?? {}) as Partial<IngestWorkerData>
// Options objects are reused across tasks: the parsers derive tables and caches per object.
const statsdOptions: StatsdParseOptions = wd.statsd ?? {}
const emfOptions: EmfParseOptions = wd.emf ?? {}
const store = new PartialStore(wd.precisionBits ?? 6)

/** What a task returns: the packed partial, and the batch buffer back for reuse. */
export interface IngestResult {
  partial: PackedPartial
  buf: Uint8Array
}

/**
 * Parses one batch. The result moves back to the main thread without copying the bulk: the
 * packed aggregates' Float64Array and the batch buffer (which the pool reuses) are transferred.
 */
export default function ingest (task: IngestTask): IngestResult {
  const partial = parse(task)
  const result: IngestResult = { partial, buf: task.buf }
  const transfer: ArrayBuffer[] = [task.buf.buffer as ArrayBuffer]
  if (partial.data.byteLength > 0) transfer.push(partial.data.buffer as ArrayBuffer)
  return move({ [transferableSymbol]: transfer, [valueSymbol]: result }) as unknown as IngestResult
}

function parse (task: IngestTask): PackedPartial {
  const { buf, length } = task
  store.nowMs = task.nowMs
  const view = new DataView(buf.buffer, buf.byteOffset, length)
  let off = 0
  while (off + kRecordHeaderBytes <= length) {
    const n = view.getUint32(off, true)
    off += kRecordHeaderBytes
    const rec = buf.subarray(off, off + n)
    off += n
    if (task.kind === 'statsd') parseStatsd(rec, store, statsdOptions)
    else parseEmf(rec, store, emfOptions)
  }
  return store.drain()
}
