/**
 * A crash at any point of a sliced seal: the checkpoint and the journal agree, so the next
 * start publishes every series of the minute exactly once (no duplicates, nothing lost).
 */
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, SinkError, type MetricSink } from '../../../src/index.js'
import { decodeHeader, kRecordHeaderBytes } from '../../../src/publish/spool-record.js'
import { decodeDelta } from '../../../src/store/checkpoint.js'
import { crash } from '../../helpers/spool-crash.js'

/**
 * A copy of a spool directory as it stands, owner-only like the spool itself (cpSync does not keep a
 * directory's mode on every Node version, and the spool refuses a directory others can read).
 */
function copySpool (from: string, to: string): void {
  cpSync(from, to, { recursive: true })
  chmodSync(to, 0o700)
}

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const kSeries = 5_000
const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
function tmp (): string { const d = mkdtempSync(join(tmpdir(), 'minutely-seal-crash-')); dirs.push(d); return d }

function downSink (): MetricSink {
  return { name: 'down', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 983_616, async send () { throw new SinkError('connect ECONNREFUSED', { retryable: true }) } }
}

const batchFiles = (dir: string): string[] => readdirSync(dir).filter(f => f.endsWith('.batch'))

/** The log's records: where each starts, and what it says. */
function logRecords (dir: string): Array<{ at: number, slice: number, set: number, drop: number }> {
  let buf: Buffer
  try { buf = readFileSync(join(dir, 'checkpoint.log')) } catch { return [] }
  const out: Array<{ at: number, slice: number, set: number, drop: number }> = []
  for (let off = 0; off < buf.length;) {
    const h = decodeHeader(buf.subarray(off))
    if (typeof h === 'string') throw new Error(h)
    const d = decodeDelta(buf.subarray(off + kRecordHeaderBytes, off + kRecordHeaderBytes + h.bodyLength))
    out.push({ at: off, slice: d.slice, set: d.set.length, drop: d.drop.length })
    off += kRecordHeaderBytes + h.bodyLength
  }
  return out
}

/** The slice tag of a batch file. */
function sliceOf (dir: string, name: string): number {
  const body = readFileSync(join(dir, name)).subarray(kRecordHeaderBytes)
  return (JSON.parse(body.toString('utf8')) as { slice?: number }).slice ?? -1
}

/** Restarts on `dir` with a healthy sink; returns SampleCount per series (and how many datums each got). */
async function restart (dir: string): Promise<Map<string, { datums: number, samples: number }>> {
  crash(dir)
  const sink = inMemorySink()
  const b = createAggregator({ namespace: 'S', sink, clock: new ManualClock(T0 + 10 * 60_000), spoolDir: dir, onWarning: () => {} })
  await b.close()
  const per = new Map<string, { datums: number, samples: number }>()
  for (const d of sink.datums()) {
    const k = `${d.MetricName}/${d.Dimensions?.map(x => x.Value).join(',') ?? ''}@${d.Timestamp.getTime()}`
    const e = per.get(k) ?? { datums: 0, samples: 0 }
    e.datums++; e.samples += d.StatisticValues.SampleCount
    per.set(k, e)
  }
  return per
}

describe('a crash during a sliced seal', () => {
  it('after every slice k, and inside it (its batches journaled, the checkpoint not yet told): each series published exactly once', async () => {
    const base = tmp()
    const dir = join(base, 'live')
    const clock = new ManualClock(T0)
    const a = createAggregator({ namespace: 'S', sink: downSink(), clock, spoolDir: dir, checkpointIntervalMs: 1000, onWarning: () => {} })
    for (let i = 0; i < kSeries; i++) { a.record('Lat', i, { Host: `h${i}` }); a.record('Lat', i + 1, { Host: `h${i}` }) }
    // The minute ends, and its seal starts (the first slice runs in this call): a crash now,
    // and after each later slice, is a copy of the directory as it stands.
    clock.advance(65_000)
    const states: string[] = []
    let last = -1
    for (let step = 0; step < 200; step++) {
      const n = batchFiles(dir).length
      if (n !== last) {
        const copy = join(base, `after-${states.length}`)
        copySpool(dir, copy)
        states.push(copy)
        last = n
      }
      if (n > 0 && a.stats().openPeriods === 0 && step > 20) break
      await new Promise<void>(resolve => { setImmediate(resolve) })
    }
    // A slice whose batches are journaled but whose record in the checkpoint's log is not
    // written yet (the record is appended after the batches), and one cut after its first batch.
    const inside: string[] = []
    for (const s of states) {
      const recs = logRecords(s)
      const r = recs[recs.length - 1]
      if (r === undefined || r.drop === 0 || r.set !== 0) continue
      const mine = batchFiles(s).filter(f => sliceOf(s, f) === r.slice).sort((x, y) => Number(x.split('-')[2].split('.')[0]) - Number(y.split('-')[2].split('.')[0]))
      if (mine.length === 0) continue
      const unrecorded = `${s}-unrecorded`
      copySpool(s, unrecorded)
      truncateSync(join(unrecorded, 'checkpoint.log'), r.at)
      inside.push(unrecorded)
      if (mine.length > 1) {
        const cut = `${s}-cut`
        copySpool(unrecorded, cut)
        for (const f of mine.slice(1)) unlinkSync(join(cut, f))
        inside.push(cut)
      }
    }
    const counts = states.map(s => batchFiles(s).length)
    console.log(`seal of ${kSeries} series: crash states after each slice hold ${counts.join(', ')} batch files; ${inside.length} more inside a slice`)
    expect(states.length).toBeGreaterThanOrEqual(3)   // the seal ran in several slices
    expect(inside.length).toBeGreaterThanOrEqual(states.length - 1)
    for (const s of [...states, ...inside]) {
      const per = await restart(s)
      const wrong = [...per.values()].filter(e => e.datums !== 1 || e.samples !== 2).length
      expect({ state: s.slice(base.length), series: per.size, wrong }).toEqual({ state: s.slice(base.length), series: kSeries, wrong: 0 })
    }
    crash(dir)
  }, 120_000)
})
