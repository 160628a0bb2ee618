/**
 * A partial store: what a worker thread aggregates from one batch of datagrams or documents
 * before handing it to the engine. It is a {@link SampleReceiver}, so parsers write into it
 * directly; `drain()` packs every aggregate into one Float64Array that is moved, not copied,
 * to the main thread, where `Aggregator.mergePartial()` folds it into the minute store.
 *
 * Keys are nested Maps on the objects the parser hands over (metric string, dimensions
 * object, unit, namespace), never a string built per sample: parsers reuse one dimensions
 * object for a repeated tag string, so identity lookups hit.
 */
import type { RejectReason } from '../samples/reasons.js'
import type { SampleReceiver } from '../samples/receiver.js'
import { checkCount, checkMinuteTotal, checkTimestamp, checkValue, inRange, isOrdinaryProduct } from '../samples/checks.js'
import { kPeriodMs } from '../limits.js'
import { Histogram, kPackedLayout } from './histogram.js'

/** The description of one packed aggregate. */
export interface PartialEntry {
  metric: string
  unit: string | undefined
  namespace: string | undefined
  dimensions: Record<string, string> | undefined
  /** Period start (epoch ms), or -1 for "the period the batch was received in". */
  period: number
  /** Number of samples (not weighted) in the aggregate. */
  samples: number
}

/** What a worker returns for a batch. */
export interface PackedPartial {
  /** The packed layout's version ({@link kPackedLayout}): a thread on other code says so. */
  layout: number
  entries: PartialEntry[]
  data: Float64Array
  precisionBits: number
  rejected: Partial<Record<RejectReason, number>>
  /** The first message of each rejection reason in this batch. */
  messages: Partial<Record<RejectReason, string>>
}

interface Slot { entry: PartialEntry, agg: Histogram }

export class PartialStore implements SampleReceiver {
  readonly #p: number
  #byDims = new Map<object | undefined, Map<string, Slot[]>>()
  #slots: Slot[] = []
  #rejected: Partial<Record<RejectReason, number>> = {}
  #messages: Partial<Record<RejectReason, string>> = {}
  /** "now" for timestamp checks: set once per batch, not read per sample. */
  nowMs = Date.now()

  constructor (precisionBits: number) { this.#p = precisionBits }

  sample (metric: string, value: number, unit: string | undefined, dimensions: Record<string, string> | undefined,
    timestampMs: number, count: number, namespace?: string): void {
    // The checks allocate nothing when they pass (a worker takes millions of values a second).
    if (!inRange(value)) { this.#rejectWith(metric, checkValue(value)!); return }
    const badCount = checkCount(count)
    if (badCount !== null) { this.#rejectWith(metric, badCount); return }
    let period = -1
    if (timestampMs === timestampMs) {
      const bad = checkTimestamp(timestampMs, this.nowMs)
      if (bad !== null) { this.#rejectWith(metric, bad); return }
      period = timestampMs - (timestampMs % kPeriodMs)
    }
    if (!isOrdinaryProduct(value, count)) { this.#sampleLarge(metric, value, unit, dimensions, period, count, namespace); return }
    // Two lookups that hash nothing new: the dimensions object by identity (the parsers hand
    // the same object for a repeated tag string), then the metric string (the parsers' cached
    // names keep their hash); then a scan of the few slots left, comparing by `===`.
    let byMetric = this.#byDims.get(dimensions)
    if (byMetric === undefined) { byMetric = new Map(); this.#byDims.set(dimensions, byMetric) }
    let list = byMetric.get(metric)
    if (list === undefined) { list = []; byMetric.set(metric, list) }
    let slot: Slot | undefined
    for (let i = 0; i < list.length; i++) {
      const e = list[i].entry
      if (e.period === period && e.unit === unit && e.namespace === namespace) { slot = list[i]; break }
    }
    if (slot === undefined) {
      slot = { entry: { metric, unit, namespace, dimensions, period, samples: 0 }, agg: new Histogram(this.#p) }
      list.push(slot)
      this.#slots.push(slot)
    }
    slot.entry.samples++
    slot.agg.add(value, count)
  }

  /**
   * A sample whose |value × count| exceeds 2^300 (or is below 2^-360): checked on its own here,
   * and sent in an aggregate of its own, so that the engine, checking the minute's totals as it
   * merges, refuses this sample alone and never the batch's other samples of its series.
   */
  #sampleLarge (metric: string, value: number, unit: string | undefined, dimensions: Record<string, string> | undefined,
    period: number, count: number, namespace: string | undefined): void {
    const bad = checkMinuteTotal(value, count, 0)
    if (bad !== null) { this.#rejectWith(metric, bad); return }
    const slot: Slot = { entry: { metric, unit, namespace, dimensions, period, samples: 1 }, agg: new Histogram(this.#p) }
    slot.agg.add(value, count)
    this.#slots.push(slot)
  }

  #rejectWith (metric: string, r: { reason: RejectReason, message: string }): void {
    this.reject(r.reason, `${metric}: ${r.message}`)
  }

  reject (reason: RejectReason, message: string): void {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1
    this.#messages[reason] ??= message
  }

  /** Packs everything and empties the store. */
  drain (): PackedPartial {
    let n = 0
    for (const s of this.#slots) n += s.agg.packedLength()
    const data = new Float64Array(n)
    let off = 0
    for (const s of this.#slots) { off = s.agg.packInto(data, off); s.agg.release() }
    const out: PackedPartial = { layout: kPackedLayout, entries: this.#slots.map(s => s.entry), data, precisionBits: this.#p, rejected: this.#rejected, messages: this.#messages }
    this.#byDims = new Map()
    this.#slots = []
    this.#rejected = {}
    this.#messages = {}
    return out
  }
}
