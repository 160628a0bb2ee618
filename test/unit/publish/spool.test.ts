import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, SinkError, type MetricSink } from '../../../src/index.js'
import { decodeHeader, encodeHeader, kRecordHeaderBytes } from '../../../src/publish/spool-record.js'
import { crash } from '../../helpers/spool-crash.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
function tmp (): string { const d = mkdtempSync(join(tmpdir(), 'minutely-spool-')); dirs.push(d); return join(d, 'spool') }

/** A sink that is down: every request fails as a network error would. */
function downSink (): MetricSink & { calls: number } {
  const s = { name: 'down', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 983_616, calls: 0,
    async send () { s.calls++; throw new SinkError('connect ECONNREFUSED', { retryable: true }) } }
  return s
}

const sumOf = (sink: ReturnType<typeof inMemorySink>, metric: string): number =>
  sink.datums().filter(d => d.MetricName === metric).reduce((a, d) => a + d.StatisticValues.SampleCount, 0)

describe('spool', () => {
  it('journals sealed batches before sending; a later start replays what was not accepted', async () => {
    const dir = tmp()
    const clock = new ManualClock(T0)
    const a1 = createAggregator({ namespace: 'S', sink: downSink(), clock, spoolDir: dir, closeTimeoutMs: 50, onWarning: () => {} })
    for (let i = 0; i < 100; i++) a1.record('Lat', i, { Host: 'h' })
    const r = await a1.close()
    expect(r.spooledBatches).toBe(1)
    expect(r.datumsPending).toBe(1)
    expect(readdirSync(dir).filter(f => f.endsWith('.batch'))).toHaveLength(1)

    const sink = inMemorySink()
    const warnings: string[] = []
    const a2 = createAggregator({ namespace: 'S', sink, clock: new ManualClock(T0 + 120_000), spoolDir: dir, onWarning: m => warnings.push(m) })
    await a2.flush()
    expect(sumOf(sink, 'Lat')).toBe(100)
    expect(sink.datums()[0].Timestamp.getTime()).toBe(T0)
    expect(warnings.join('\n')).toMatch(/replaying 1 batches/)
    await a2.close()
    expect(readdirSync(dir).filter(f => f.endsWith('.batch'))).toHaveLength(0)
  })

  it('restores open minutes from the checkpoint after a crash (no close)', async () => {
    const dir = tmp()
    const clock = new ManualClock(T0)
    const crashed = createAggregator({ namespace: 'S', sink: inMemorySink(), clock, spoolDir: dir, checkpointIntervalMs: 1000, onWarning: () => {} })
    const h = crashed.series('Lat')
    for (let i = 0; i < 50; i++) h.record(i)
    clock.advance(1000)                 // checkpoint written
    for (let i = 0; i < 7; i++) h.record(i)   // after the last checkpoint: lost in a crash
    crash(dir)   // the process dies here: no close()

    const sink = inMemorySink()
    const a2 = createAggregator({ namespace: 'S', sink, clock: new ManualClock(T0 + 2000), spoolDir: dir, onWarning: () => {} })
    await a2.close()
    expect(sumOf(sink, 'Lat')).toBe(50)
  })

  it('does not restore a minute twice once it was sealed and journaled', async () => {
    const dir = tmp()
    const clock = new ManualClock(T0)
    const a1 = createAggregator({ namespace: 'S', sink: downSink(), clock, spoolDir: dir, gracePeriodMs: 1000, checkpointIntervalMs: 1000, onWarning: () => {} })
    a1.record('Lat', 5)
    clock.advance(61_000)               // sealed, journaled, checkpoint rewritten without it; sink down
    crash(dir)
    const sink = inMemorySink()
    const a2 = createAggregator({ namespace: 'S', sink, clock: new ManualClock(T0 + 120_000), spoolDir: dir, onWarning: () => {} })
    await a2.close()
    expect(sumOf(sink, 'Lat')).toBe(1)
  })

  it('spills to disk past the memory budget and replays in order', async () => {
    const dir = tmp()
    const clock = new ManualClock(T0)
    const sink = downSink()
    const agg = createAggregator({ namespace: 'S', sink, clock, spoolDir: dir, maxQueuedBytes: 1_048_576, gracePeriodMs: 0, retryBaseMs: 1000, closeTimeoutMs: 50, onWarning: () => {} })
    // ~2,000 series × a few hundred bytes a datum, over several minutes: several MB of batches
    for (let m = 0; m < 5; m++) {
      for (let i = 0; i < 2000; i++) agg.record('Lat', i, { Host: `host-${i}`, Zone: 'z'.repeat(100) })
      clock.advance(60_000)
    }
    await agg.flush()   // sealing runs in slices: wait until every minute is handed over
    const st = agg.stats()
    expect(st.bytesQueued).toBeLessThanOrEqual(1_048_576 + 1_000_000)
    expect(st.spoolBatches).toBeGreaterThan(4)
    expect(st.datumsDropped).toBe(0)
    const r = await Promise.race([agg.close(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('close hung')), 20_000))])
    expect(r.spooledBatches).toBe(st.spoolBatches)

    const out = inMemorySink()
    const a2 = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 600_000), spoolDir: dir, onWarning: () => {} })
    await a2.close()
    expect(sumOf(out, 'Lat')).toBe(5 * 2000)
    const stamps = out.datums().map(d => d.Timestamp.getTime())
    expect(stamps).toEqual([...stamps].sort((x, y) => x - y))   // oldest minute first
  })

  it('drops the oldest batches past the spool cap, counted and reported', async () => {
    const dir = tmp()
    const clock = new ManualClock(T0)
    const errors: SinkError[] = []
    const agg = createAggregator({ namespace: 'S', sink: downSink(), clock, spoolDir: dir, spoolMaxBytes: 1_048_576, maxQueuedBytes: 1_048_576, gracePeriodMs: 0, retryBaseMs: 60_000, retryMaxMs: 60_000, closeTimeoutMs: 50, onWarning: () => {} })
    agg.on('error', e => errors.push(e))
    for (let m = 0; m < 6; m++) {
      for (let i = 0; i < 2000; i++) agg.record('Lat', i, { Host: `host-${i}`, Zone: 'z'.repeat(100) })
      clock.advance(60_000)
    }
    await agg.flush()
    const st = agg.stats()
    expect(st.spoolBytes).toBeLessThanOrEqual(1_048_576 + 1_000_000)
    expect(st.spoolDroppedDatums).toBeGreaterThan(0)
    expect(st.datumsDropped).toBe(st.spoolDroppedDatums)
    expect(errors.some(e => /spool over its cap/.test(e.message))).toBe(true)
    await agg.close()
  })

  it('creates the spool owner-only', async () => {
    const dir = tmp()
    const agg = createAggregator({ namespace: 'S', sink: downSink(), clock: new ManualClock(T0), spoolDir: dir, closeTimeoutMs: 10, onWarning: () => {} })
    agg.record('Lat', 1)
    await agg.close()
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600)
  })

  describe('a checkpoint left by another version', () => {
    /** Crashes an aggregator after its checkpoint of 50 samples (Sum 1225); returns the spool. */
    function crashedAt (precisionBits: number): string {
      const dir = tmp()
      const clock = new ManualClock(T0)
      const crashed = createAggregator({ namespace: 'S', sink: inMemorySink(), clock, spoolDir: dir, precisionBits, checkpointIntervalMs: 1000, onWarning: () => {} })
      const h = crashed.series('Lat')
      for (let i = 0; i < 50; i++) h.record(i)
      clock.advance(1000)
      crash(dir)
      return dir
    }
    /**
     * Rewrites the checkpoint's JSON header (the packed histograms after it stay as they are),
     * inside the spool's record envelope, which is sealed again so that only the inner format differs.
     */
    function rewriteHeader (dir: string, edit: (h: Record<string, unknown>) => void): void {
      const file = join(dir, 'checkpoint')
      const raw = readFileSync(file)
      const env = decodeHeader(raw)
      if (typeof env === 'string') throw new Error(`checkpoint envelope: ${env}`)
      const buf = raw.subarray(kRecordHeaderBytes)
      const len = buf.readUInt32LE(0)
      const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, unknown>
      const data = buf.subarray(8 + Math.ceil(len / 8) * 8)
      edit(header)
      const h = Buffer.from(JSON.stringify(header))
      const head = Buffer.alloc(8 + Math.ceil(h.length / 8) * 8)
      head.writeUInt32LE(h.length, 0)
      h.copy(head, 8)
      const body = Buffer.concat([head, data])
      writeFileSync(file, Buffer.concat([encodeHeader('C', body, env.items, env.samples, env.writtenAt), body]))
    }
    function restart (dir: string, precisionBits = 6) {
      const sink = inMemorySink()
      const warnings: string[] = []
      const agg = createAggregator({ namespace: 'S', sink, clock: new ManualClock(T0 + 2000), spoolDir: dir, precisionBits, onWarning: m => warnings.push(m) })
      return { sink, warnings, agg }
    }

    it('another precision: read, rebucketed, with a warning naming both; the exact statistics survive', async () => {
      const { sink, warnings, agg } = restart(crashedAt(8), 6)
      await agg.close()
      expect(warnings.join('\n')).toMatch(/precisionBits 8 \(this aggregator uses 6\)/)
      const ds = sink.datums()
      expect(ds.map(d => d.StatisticValues)).toEqual([{ SampleCount: 50, Sum: 1225, Minimum: 0, Maximum: 49 }])
    })

    it('another packed layout: not misread, a warning names both versions', async () => {
      const dir = crashedAt(6)
      rewriteHeader(dir, h => { h.layout = 99 })
      const { sink, warnings, agg } = restart(dir)
      await agg.close()
      expect(warnings.join('\n')).toMatch(/layout version 99; this version reads layout version 1/)
      expect(sumOf(sink, 'Lat')).toBe(0)
    })

    it('format 1 (no layout field, the same layout) is read, and said to be format 1', async () => {
      const dir = crashedAt(6)
      rewriteHeader(dir, h => { h.v = 1; delete h.layout })
      const { sink, warnings, agg } = restart(dir)
      await agg.close()
      expect(warnings.join('\n')).toMatch(/format 1 \(this version writes format 3\)/)
      expect(sumOf(sink, 'Lat')).toBe(50)
    })

    it('format 2 (no ids, no deltas) is read, and said to be format 2', async () => {
      const dir = crashedAt(6)
      rewriteHeader(dir, h => { h.v = 2 })
      const { sink, warnings, agg } = restart(dir)
      await agg.close()
      expect(warnings.join('\n')).toMatch(/format 2 \(this version writes format 3\)/)
      expect(sumOf(sink, 'Lat')).toBe(50)
    })

    it('an unknown format is ignored with a warning naming it', async () => {
      const dir = crashedAt(6)
      rewriteHeader(dir, h => { h.v = 4 })
      const { sink, warnings, agg } = restart(dir)
      await agg.close()
      expect(warnings.join('\n')).toMatch(/format 4; this version reads formats 1 to 3/)
      expect(sumOf(sink, 'Lat')).toBe(0)
    })
  })
})
