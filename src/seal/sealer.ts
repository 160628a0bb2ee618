/**
 * The sealer: turns minutes taken out of the minute store into datums and hands them to the
 * publishing queue, in slices, so that sealing 100k series never holds the event loop long.
 *
 * Sealing runs in slices of `kSealSlice` series or `kSealSliceMs`, whichever comes first,
 * yielding to the event loop between slices, and waits while the publish queue is over half
 * its budget (so that a burst of datums does not overflow a healthy queue) — for at most a
 * second a slice, so that an outage without a spool falls back to the queue's drop-oldest
 * policy instead of holding every minute in memory. Datums wait across slices until they
 * fill a request, so slicing costs no extra requests.
 */
import { batchDatums } from '../encode/batcher.js'
import type { DatumBatch, MetricDatum, SeriesInfo } from '../encode/datum.js'
import { encodeHistogram, type OnUnpublishable } from '../encode/put-metric-data.js'
import type { TakenMinute } from '../store/minute-store.js'
import type { Histogram } from '../store/histogram.js'
import { summarize, type MinuteSummary, type SeriesSummary } from './summary.js'

/** Series encoded per slice of a seal before yielding to the event loop… */
const kSealSlice = 2_000
/**
 * …or milliseconds spent (checked every 16 series), so that the event loop is never held much
 * longer than this. Sealing 100k series (bench/memory.mjs): the longest stretch the event
 * loop was held measured 8–10 ms this way, against 15–21 ms with 4 ms checked every 64 series
 * (the first slice runs cold code, and 64 series of it took ~10 ms) and eviction unsliced.
 */
export const kSealSliceMs = 2

/** Where sealed batches go: the publishing queue. */
export interface BatchQueue {
  enqueue (batches: DatumBatch[]): void
  readonly stats: { readonly bytesQueued: number }
  /** Resolves once at most `bytes` are queued, or after `timeoutMs`. */
  whenBelow (bytes: number, timeoutMs: number): Promise<void>
}

/**
 * Around each slice's hand-over, with a spool: `begin` before its batches are journaled, `end`
 * after, with the minute's map and the series the slice took out of it, so that the
 * checkpoint drops them in the same synchronous step that journaled them.
 */
export interface SliceJournal<K> {
  begin (): void
  end (histograms: Map<K, Histogram>, sealed: K[]): void
}

/** Where the sealer hands its batches and what it reports. */
export interface SealerOptions<K = unknown> {
  queue: BatchQueue
  /** The sink's request limits. */
  limits: { maxValuesPerDatum: number, maxDatumsPerBatch: number, maxBatchBytes: number }
  /** The queue's memory budget: a seal waits while more than half of it is in use (unless journaled). */
  maxQueuedBytes: number
  /**
   * A spool journals every batch: each slice then hands over everything it took, since what
   * leaves the minute store also leaves the checkpoint and must reach the journal at once.
   */
  journaled: boolean
  /** Whether summaries of the sealed minutes are wanted (they cost a pass over each histogram). */
  wantsSummary: () => boolean
  /** Told of a datum not sent because it holds a number CloudWatch refuses (the encoder's last guard). */
  onUnpublishable?: OnUnpublishable
  /** After each minute is handed over, with its summary when one was wanted. */
  onSealed: (summary: MinuteSummary | null) => void
  slices?: SliceJournal<K>
}

/** Seals minutes in order, one at a time, in slices; `K` is the series as the minute store keys it. */
export class Sealer<K extends SeriesInfo> {
  readonly #o: SealerOptions<K>
  readonly #jobs: Array<TakenMinute<K>> = []
  #after: (() => Promise<void>) | undefined
  #running = false
  #waiters: Array<() => void> = []
  /** Minutes sealed (each late delta counts as one). */
  sealed = 0

  constructor (o: SealerOptions<K>) { this.#o = o }

  /** Queues minutes for sealing, in order. */
  seal (minutes: ReadonlyArray<TakenMinute<K>>): void {
    for (const m of minutes) this.#jobs.push(m)
    if (this.#jobs.length > 0 && !this.#running) void this.#run()
  }

  /** Runs `task` once the minutes queued so far are sealed (one task waits at a time: a new one replaces it). */
  afterSeals (task: () => Promise<void>): void {
    this.#after = task
    if (!this.#running) void this.#run()
  }

  /** Minutes queued or being sealed: their histograms not yet handed over (the checkpoint keeps them). */
  get pending (): ReadonlyArray<TakenMinute<K>> { return this.#jobs }

  /** Resolves when every queued minute has been handed to the queue, and the task after them has run. */
  done (): Promise<void> {
    if (!this.#running && this.#jobs.length === 0 && this.#after === undefined) return Promise.resolve()
    return new Promise(resolve => { this.#waiters.push(resolve) })
  }

  async #run (): Promise<void> {
    this.#running = true
    try {
      for (;;) {
        const job = this.#jobs[0]
        if (job !== undefined) { await this.#sealOne(job); this.#jobs.shift(); continue }
        const after = this.#after
        if (after === undefined) break
        this.#after = undefined
        await after()
      }
    } finally {
      this.#running = false
      const w = this.#waiters
      this.#waiters = []
      for (const f of w) f()
    }
  }

  async #sealOne (job: TakenMinute<K>): Promise<void> {
    const { periodStart: p, late, histograms: remaining } = job
    const o = this.#o
    this.sealed++
    const report: SeriesSummary[] | null = o.wantsSummary() ? [] : null
    const byNs = new Map<string, MetricDatum[]>()
    while (remaining.size > 0) {
      let n = 0
      const sliceStart = performance.now()
      const taken: K[] | undefined = o.slices !== undefined ? [] : undefined
      for (const [s, h] of remaining) {
        if (n >= kSealSlice || ((n & 15) === 15 && performance.now() - sliceStart > kSealSliceMs)) break
        n++
        remaining.delete(s)
        taken?.push(s)
        if (h.count > 0) {
          let list = byNs.get(s.namespace)
          if (list === undefined) { list = []; byNs.set(s.namespace, list) }
          for (const d of encodeHistogram(s, p, h, o.limits.maxValuesPerDatum, o.onUnpublishable)) list.push(d)
          report?.push(summarize(s, h))
        }
        h.release()
      }
      const last = remaining.size === 0
      const batches: DatumBatch[] = []
      for (const [ns, datums] of byNs) {
        const bs = batchDatums(ns, datums, o.limits.maxDatumsPerBatch, o.limits.maxBatchBytes)
        // Keep the last, possibly partial, request for the next slice unless this was the
        // last slice, or the batches are journaled (see SealerOptions.journaled).
        const keep = last || o.journaled ? undefined : bs.pop()
        for (const b of bs) batches.push(b)
        if (keep === undefined) byNs.delete(ns)
        else byNs.set(ns, keep.datums)
      }
      // Journaling the batches and dropping their series from the checkpoint happen in one
      // synchronous step: nothing of the slice is sent (or its journal file removed) before both.
      o.slices?.begin()
      o.queue.enqueue(batches)
      o.slices?.end(remaining, taken!)
      if (!last) {
        if (!o.journaled && o.queue.stats.bytesQueued > o.maxQueuedBytes / 2) {
          await o.queue.whenBelow(o.maxQueuedBytes / 2, 1_000)
        } else {
          await new Promise<void>(resolve => { setImmediate(resolve) })
        }
      }
    }
    o.onSealed(report === null ? null : { periodStart: p, late, series: report })
  }
}
