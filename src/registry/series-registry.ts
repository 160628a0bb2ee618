/**
 * The series registry: (namespace, metric, unit, dimensions) → one series, with the checks of
 * names, units and dimensions, the cardinality cap and its overflow series, and the
 * eviction of idle series. The canonical key is built here, once per new path: `record()`
 * reaches known series through the lookup trie in front of it, and handles hold theirs.
 */
import { canonicalDimensions, checkMetricName, checkNamespace, checkUnit } from '../dimensions/validate.js'
import type { Dimension, SeriesInfo } from '../encode/datum.js'
import type { StandardUnit } from '../limits.js'
import { isRejection, type Rejection } from '../samples/reasons.js'

/** A registered series. */
export interface Series extends SeriesInfo {
  readonly id: number
  /** The canonical key: namespace, metric, unit and the sorted dimensions. */
  readonly key: string
  /** Start of the latest minute that had a sample (epoch ms): what idle eviction goes by. */
  lastUsed: number
  /** Resolved through `series()`: a handle may hold it, so it is never evicted. */
  pinned: boolean
  /** The series new series of a metric fold into past `maxSeries`. */
  readonly overflow: boolean
}

/** The dimension of overflow series (`minutely_overflow=true`). */
export const kOverflowDimension = 'minutely_overflow'

/** What the registry needs of the aggregator's options. */
export interface SeriesRegistryOptions {
  /** Namespace of series that name none. */
  namespace: string
  /** Unit of series that name none. */
  defaultUnit: StandardUnit
  maxDimensions: number
  /** Most series registered at once; overflow series are not counted. */
  maxSeries: number
  /** Called for each resolution folded into an overflow series. */
  onOverflow: (metric: string) => void
}

/** Series by canonical key, capped, with overflow series and idle eviction. */
export class SeriesRegistry {
  readonly #o: SeriesRegistryOptions
  readonly #series = new Map<string, Series>()
  readonly #overflow = new Map<string, Series>()
  #nextId = 0
  /** Resolutions folded into an overflow series. */
  overflowed = 0
  /** Series forgotten for being idle. */
  evicted = 0

  constructor (o: SeriesRegistryOptions) { this.#o = o }

  /** Series registered (overflow series aside): what `maxSeries` caps. */
  get size (): number { return this.#series.size }
  /** Overflow series in use (one per metric that hit the cap). */
  get overflowSize (): number { return this.#overflow.size }

  /**
   * The series of these names and dimensions, registered now if new (its `lastUsed` is then
   * `periodStart`), or the reason they are invalid. Past the cap, a new series resolves to its
   * metric's overflow series.
   */
  resolve (metric: unknown, dims: Readonly<Record<string, unknown>> | undefined, unit: unknown, namespace: unknown, periodStart: number): Series | Rejection {
    const o = this.#o
    const badName = checkMetricName(metric)
    if (badName !== null) return badName
    if (unit !== undefined) { const b = checkUnit(unit); if (b !== null) return b }
    if (namespace !== undefined) { const b = checkNamespace(namespace); if (b !== null) return b }
    const canon = canonicalDimensions(dims, o.maxDimensions)
    if (isRejection(canon)) return canon
    const m = metric as string
    const ns = (namespace as string | undefined) ?? o.namespace
    const u = (unit as StandardUnit | undefined) ?? o.defaultUnit
    const key = JSON.stringify([ns, m, u, canon.map(d => [d.Name, d.Value])])
    const s = this.#series.get(key)
    if (s !== undefined) return s
    if (this.#series.size >= o.maxSeries) {
      this.overflowed++
      o.onOverflow(m)
      return this.#overflowSeries(ns, m, u, periodStart)
    }
    const created = this.#create(key, ns, m, u, canon, false, periodStart)
    this.#series.set(key, created)
    return created
  }

  #create (key: string, namespace: string, metric: string, unit: StandardUnit, dimensions: Dimension[], overflow: boolean, periodStart: number): Series {
    return { id: this.#nextId++, key, namespace, metric, unit, dimensions, lastUsed: periodStart, pinned: false, overflow }
  }

  #overflowSeries (ns: string, metric: string, unit: StandardUnit, periodStart: number): Series {
    const key = JSON.stringify([ns, metric, unit])
    let s = this.#overflow.get(key)
    if (s === undefined) {
      s = this.#create('overflow:' + key, ns, metric, unit, [{ Name: kOverflowDimension, Value: 'true' }], true, periodStart)
      this.#overflow.set(key, s)
    }
    return s
  }

  /**
   * Forgets every series neither pinned nor used since `horizon` (a period start), telling
   * `onEvict` of each. It walks every series, so it yields to the event loop every `sliceMs`
   * (checked every 256 series); each series is judged when it is reached, so one used
   * meanwhile is kept. Stops early once `stopped()` says so.
   */
  async evictIdle (horizon: number, onEvict: (s: Series) => void, sliceMs: number, stopped: () => boolean): Promise<void> {
    let n = 0
    let sliceStart = performance.now()
    for (const [key, s] of this.#series) {
      if ((++n & 255) === 0 && performance.now() - sliceStart > sliceMs) {
        await new Promise<void>(resolve => { setImmediate(resolve) })
        if (stopped()) return
        sliceStart = performance.now()
      }
      if (s.pinned || s.lastUsed >= horizon) continue
      this.#series.delete(key)
      this.evicted++
      onEvict(s)
    }
  }
}
