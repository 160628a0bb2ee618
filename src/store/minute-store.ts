/**
 * The minute store: (minute start, series) → histogram, for every minute not yet sealed, and
 * beside it the deltas of minutes already sealed (late samples, published as extra datums
 * that CloudWatch merges). Keyed by whatever identifies a series upstream (`K`); the store
 * knows nothing of names or dimensions.
 *
 * The open minute — the one the engine records into now — is never taken for sealing while
 * it is open: a handle's cached histogram of it stays the one this store holds.
 */
import { kPeriodMs } from '../limits.js'
import { Histogram } from './histogram.js'

/** One minute taken out for sealing. */
export interface TakenMinute<K> {
  periodStart: number
  /** A delta for a minute sealed before. */
  late: boolean
  histograms: Map<K, Histogram>
}

/** Open minutes and late deltas: (minute start, key) → histogram. */
export class MinuteStore<K> {
  readonly precisionBits: number
  /** Minute start → series → histogram, for minutes not yet sealed. */
  readonly open = new Map<number, Map<K, Histogram>>()
  /** The same, for deltas of minutes already sealed. */
  readonly late = new Map<number, Map<K, Histogram>>()
  /** Every minute starting at or before this one has been sealed. */
  #sealedThrough = -Infinity

  constructor (precisionBits: number) { this.precisionBits = precisionBits }

  /** Whether a sample of minute `p` is a late delta (its minute was sealed; `current` is the open minute). */
  isLate (p: number, current: number): boolean { return p <= this.#sealedThrough && p !== current }

  /** The histogram of `key` in minute `p`, created if missing, among the open minutes or the late deltas. */
  histogram (p: number, key: K, late: boolean): Histogram {
    const store = late ? this.late : this.open
    let m = store.get(p)
    if (m === undefined) { m = new Map(); store.set(p, m) }
    let h = m.get(key)
    if (h === undefined) { h = new Histogram(this.precisionBits); m.set(key, h) }
    return h
  }

  /** Minutes not yet sealed that hold at least one histogram. */
  get openMinutes (): number {
    let n = 0
    for (const m of this.open.values()) if (m.size > 0) n++
    return n
  }

  /** Open minutes, oldest first (a copy: the store may change while it is walked). */
  openStarts (): number[] { return [...this.open.keys()].sort((a, b) => a - b) }

  /**
   * Takes out, oldest first, every minute that ended at or before `through` (except the open
   * minute `current`), then every late delta; from now on samples of those minutes are deltas.
   */
  takeDue (through: number, current: number): Array<TakenMinute<K>> {
    const sealedUpTo = through - (((through % kPeriodMs) + kPeriodMs) % kPeriodMs)
    if (sealedUpTo > this.#sealedThrough && sealedUpTo < current) this.#sealedThrough = sealedUpTo
    const due = this.openStarts().filter(p => p <= through && p !== current)
    return [...this.#take(due, false), ...this.#take([...this.late.keys()].sort((a, b) => a - b), true)]
  }

  /** Takes out everything, the open minute too (closing). */
  takeAll (): Array<TakenMinute<K>> {
    return [...this.#take(this.openStarts(), false), ...this.#take([...this.late.keys()].sort((a, b) => a - b), true)]
  }

  #take (starts: number[], late: boolean): Array<TakenMinute<K>> {
    const store = late ? this.late : this.open
    const out: Array<TakenMinute<K>> = []
    for (const p of starts) {
      const m = store.get(p)
      store.delete(p)
      if (m !== undefined && m.size > 0) out.push({ periodStart: p, late, histograms: m })
    }
    return out
  }
}
