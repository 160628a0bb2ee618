/**
 * Requests whose outcome is unknown (sent, never answered): while nothing else is answered
 * either, the publisher sends one request at a time, each a single datum, each another datum,
 * with the usual backoff, until one succeeds; the journal keeps every datum exactly once
 * through the cutting. A lost answer while the service answers others is resent whole.
 *
 * The sink is a real MetricSink whose requests stay open until the test answers or times them
 * out, as a hung service's would.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, SinkError, type DatumBatch, type MetricSink } from '../../../src/index.js'
import { crash } from '../../helpers/spool-crash.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

interface Open { batch: DatumBatch, answer: () => void, timeOut: () => void }

/** A sink whose requests wait for the test: `answer()` or `timeOut()` each. */
function heldSink (maxDatumsPerBatch: number): MetricSink & { open: Open[], sent: DatumBatch[], accepted: DatumBatch[], peak: number } {
  const s = {
    name: 'held',
    maxValuesPerDatum: 150,
    maxDatumsPerBatch,
    maxBatchBytes: 1_000_000,
    open: [] as Open[],
    sent: [] as DatumBatch[],
    accepted: [] as DatumBatch[],
    peak: 0,
    async send (batch: DatumBatch): Promise<void> {
      s.sent.push(batch)
      await new Promise<void>((resolve, reject) => {
        const o: Open = {
          batch,
          answer: () => { s.open.splice(s.open.indexOf(o), 1); s.accepted.push(batch); resolve() },
          timeOut: () => { s.open.splice(s.open.indexOf(o), 1); reject(new SinkError(`${batch.datums.length} datums: no answer`, { retryable: true, outcomeUnknown: true, datums: batch.datums.length })) },
        }
        s.open.push(o)
        s.peak = Math.max(s.peak, s.open.length)
      })
    },
  }
  return s
}

const tick = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve)) }
const names = (batches: DatumBatch[]): string[] => batches.flatMap(b => b.datums.map(d => d.Dimensions[0].Value))

describe('an unknown outcome', () => {
  it('while nothing is answered: one probe at a time, one datum each, another each time; all published once after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-unanswered-')); dirs.push(dir)
    const clock = new ManualClock(T0)
    const sink = heldSink(20)
    const agg = createAggregator({ namespace: 'U', sink, clock, gracePeriodMs: 0, retryBaseMs: 100, retryMaxMs: 1_000, random: () => 0.5, maxConcurrentRequests: 4, spoolDir: join(dir, 'spool'), onWarning: () => {} })
    agg.on('error', () => {})
    for (let i = 0; i < 50; i++) agg.record('M', i, { Host: `h${String(i).padStart(2, '0')}` })
    clock.advance(60_000)
    await tick()
    expect(sink.open).toHaveLength(3)   // the minute, at once
    expect(sink.open.reduce((n, o) => n + o.batch.datums.length, 0)).toBe(50)
    for (const o of [...sink.open]) o.timeOut()
    await tick()
    expect(agg.stats().requestsUnanswered).toBe(3)
    expect(agg.stats().datumsQueued).toBe(50)

    const probes: string[] = []
    for (let k = 0; k < 5; k++) {
      const before = sink.sent.length
      for (let i = 0; i < 200 && sink.sent.length === before; i++) { clock.advance(50); await tick() }
      expect(sink.open).toHaveLength(1)
      expect(sink.open[0].batch.datums).toHaveLength(1)
      probes.push(names([sink.open[0].batch])[0])
      sink.open[0].timeOut()
      await tick()
    }
    expect(new Set(probes).size).toBe(5)   // each probe another datum
    expect(sink.peak).toBe(3)
    let st = agg.stats()
    expect(st.requestsUnanswered).toBe(8)
    expect(st.datumsQueued).toBe(50)
    expect(st.spoolBatches).toBeGreaterThan(0)

    // The service answers again: the next probe succeeds, then the rest goes at full concurrency.
    for (let i = 0; i < 200 && sink.open.length === 0; i++) { clock.advance(50); await tick() }
    expect(sink.open).toHaveLength(1)
    sink.open[0].answer()
    await tick()
    for (let i = 0; i < 100 && agg.stats().datumsQueued > 0; i++) {
      expect(sink.open.length).toBeGreaterThan(0)
      for (const o of [...sink.open]) o.answer()
      await tick()
      clock.advance(1)
    }
    expect(sink.peak).toBeGreaterThan(1)
    st = agg.stats()
    expect(st.datumsQueued).toBe(0)
    expect(st.bytesQueued).toBe(0)
    expect(st.datumsPublished).toBe(50)
    expect(st.spoolBatches).toBe(0)
    expect(names(sink.accepted).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `h${String(i).padStart(2, '0')}`))
    await agg.close()
  })

  it('a crash while probing: the journal holds every datum exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-unanswered-')); dirs.push(dir)
    const clock = new ManualClock(T0)
    const sink = heldSink(20)
    const a1 = createAggregator({ namespace: 'U', sink, clock, gracePeriodMs: 0, retryBaseMs: 100, retryMaxMs: 1_000, random: () => 0.5, spoolDir: join(dir, 'spool'), onWarning: () => {} })
    a1.on('error', () => {})
    for (let i = 0; i < 30; i++) a1.record('M', i, { Host: `h${String(i).padStart(2, '0')}` })
    clock.advance(60_000)
    await tick()
    for (const o of [...sink.open]) o.timeOut()
    await tick()
    for (let k = 0; k < 3; k++) {
      const before = sink.sent.length
      for (let i = 0; i < 200 && sink.sent.length === before; i++) { clock.advance(50); await tick() }
      sink.open[0].timeOut()
      await tick()
    }
    // a1 dies here (never closed); the next start replays the spool.
    crash(join(dir, 'spool'))
    const mem = inMemorySink()
    const a2 = createAggregator({ namespace: 'U', sink: mem, clock: new ManualClock(T0 + 120_000), spoolDir: join(dir, 'spool'), onWarning: () => {} })
    await a2.close()
    expect(names(mem.batches).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `h${String(i).padStart(2, '0')}`))
  })

  it('a lost answer while the service answers the others is resent whole', async () => {
    const clock = new ManualClock(T0)
    const sink = heldSink(20)
    const agg = createAggregator({ namespace: 'U', sink, clock, gracePeriodMs: 0, retryBaseMs: 100, retryMaxMs: 1_000, random: () => 0.5, onWarning: () => {} })
    agg.on('error', () => {})
    for (let i = 0; i < 40; i++) agg.record('M', i, { Host: `h${i}` })
    clock.advance(60_000)
    await tick()
    expect(sink.open).toHaveLength(2)
    const [lost, fine] = sink.open
    fine.answer()
    await tick()
    lost.timeOut()
    await tick()
    expect(agg.stats().requestsUnanswered).toBe(1)
    for (let i = 0; i < 200 && sink.open.length === 0; i++) { clock.advance(50); await tick() }
    expect(sink.open).toHaveLength(1)
    expect(sink.open[0].batch).toBe(lost.batch)
    sink.open[0].answer()
    await tick()
    expect(agg.stats().datumsPublished).toBe(40)
    await agg.close()
  })
})
