/**
 * The minute store's unit of work: one minute's histograms, by series, taken out for sealing.
 */
import type { Histogram } from './histogram.js'

/** One minute taken out for sealing. */
export interface TakenMinute<K> {
  periodStart: number
  /** A delta for a minute sealed before. */
  late: boolean
  histograms: Map<K, Histogram>
}
