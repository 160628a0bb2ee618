import { describe, expect, it } from 'vitest'
import type { DatumBatch, SeriesInfo } from '../../../src/encode/datum.js'
import { Sealer, type BatchQueue } from '../../../src/seal/sealer.js'
import type { MinuteSummary } from '../../../src/seal/summary.js'
import { Histogram } from '../../../src/store/histogram.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const limits = { maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 983_616 }

/** A queue that keeps what it is given, with a budget it reports as used. */
function queue (): BatchQueue & { batches: DatumBatch[], stats: { bytesQueued: number } } {
  const q = { batches: [] as DatumBatch[], stats: { bytesQueued: 0 }, enqueue (bs: DatumBatch[]) { q.batches.push(...bs) }, whenBelow: async () => {} }
  return q
}

function minute (n: number, ns = 'S'): Map<SeriesInfo, Histogram> {
  const m = new Map<SeriesInfo, Histogram>()
  for (let i = 0; i < n; i++) {
    const h = new Histogram(6)
    h.add(i + 1, 1); h.add(2 * (i + 1), 2)
    m.set({ namespace: ns, metric: 'Lat', unit: 'Milliseconds', dimensions: [{ Name: 'Host', Value: `h${i}` }] }, h)
  }
  return m
}

describe('Sealer', () => {
  it('hands every series of a minute to the queue, in as few requests as fit, with a summary when wanted', async () => {
    const q = queue()
    const summaries: Array<MinuteSummary | null> = []
    const sealer = new Sealer<SeriesInfo>({ queue: q, limits, maxQueuedBytes: 64 << 20, journaled: false, wantsSummary: () => true, onSealed: s => summaries.push(s) })
    sealer.seal([{ periodStart: T0, late: false, histograms: minute(5_000) }])
    await sealer.done()
    const datums = q.batches.flatMap(b => b.datums)
    expect(datums).toHaveLength(5_000)
    expect(q.batches).toHaveLength(5)   // 1000 datums a request, across the slices
    expect(datums.reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(15_000)
    expect(sealer.sealed).toBe(1)
    expect(summaries).toHaveLength(1)
    expect(summaries[0]).toMatchObject({ periodStart: T0, late: false })
    expect(summaries[0]!.series).toHaveLength(5_000)
    expect(sealer.pending).toHaveLength(0)
  })

  it('journaled: each slice hands over everything it took (nothing waits outside the checkpoint)', async () => {
    const q = queue()
    let slices = 0
    const counting: BatchQueue = { stats: q.stats, whenBelow: q.whenBelow, enqueue: bs => { slices++; q.enqueue(bs) } }
    const sealer = new Sealer<SeriesInfo>({ queue: counting, limits, maxQueuedBytes: 64 << 20, journaled: true, wantsSummary: () => false, onSealed: () => {} })
    sealer.seal([{ periodStart: T0, late: false, histograms: minute(5_000) }])
    await sealer.done()
    expect(slices).toBeGreaterThan(1)
    expect(q.batches.flatMap(b => b.datums)).toHaveLength(5_000)
  })

  it('runs the task queued after the seals once they are done, and done() waits for it', async () => {
    const q = queue()
    const order: string[] = []
    const sealer = new Sealer<SeriesInfo>({ queue: q, limits, maxQueuedBytes: 64 << 20, journaled: false, wantsSummary: () => false, onSealed: () => { order.push('sealed') } })
    sealer.seal([{ periodStart: T0, late: false, histograms: minute(10) }, { periodStart: T0, late: true, histograms: minute(3) }])
    sealer.afterSeals(async () => { order.push('after'); await new Promise(resolve => setImmediate(resolve)); order.push('after done') })
    await sealer.done()
    expect(order).toEqual(['sealed', 'sealed', 'after', 'after done'])
    expect(sealer.sealed).toBe(2)
  })

  it('waits while the queue is over half its budget, without a journal', async () => {
    const q = queue()
    let waits = 0
    q.stats.bytesQueued = 40
    q.whenBelow = async () => { waits++; q.stats.bytesQueued = 0 }
    const sealer = new Sealer<SeriesInfo>({ queue: q, limits, maxQueuedBytes: 64, journaled: false, wantsSummary: () => false, onSealed: () => {} })
    sealer.seal([{ periodStart: T0, late: false, histograms: minute(5_000) }])
    await sealer.done()
    expect(waits).toBe(1)
    expect(q.batches.flatMap(b => b.datums)).toHaveLength(5_000)
  })
})
