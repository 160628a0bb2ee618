/**
 * Differential property: every way of recording — record() with a reused, a mutated or a
 * fresh dims object, with units, namespaces and weights in options (literal strings and
 * equal strings built at run time), series() handles — through minutes that seal and evict
 * idle series (a ManualClock) and past maxSeries, gives what a plain Map keyed by the
 * canonical series key gives: the same datums, the same open minutes in snapshot(), the
 * same stats. The engine's caches (the lookup trie and its memos, the handles' cached
 * histograms) may only make it faster, never different.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, type MetricDatum, type SeriesSummary } from '../../src/index.js'
import { encodeHistogram } from '../../src/encode/put-metric-data.js'
import { summarize } from '../../src/seal/summary.js'
import { Histogram } from '../../src/store/histogram.js'
import type { SeriesInfo } from '../../src/encode/datum.js'
import type { StandardUnit } from '../../src/limits.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const kMinute = 60_000
const kNamespace = 'Test'
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 300)

/** The reference: series by canonical key in a Map, histograms by (minute, key), nothing cached. */
class Model {
  readonly registry = new Map<string, { info: SeriesInfo, lastUsed: number, pinned: boolean }>()
  readonly overflowSeries = new Map<string, SeriesInfo>()
  readonly open = new Map<number, Map<string, { info: SeriesInfo, h: Histogram }>>()
  readonly datums: Array<MetricDatum & { Namespace: string }> = []
  accepted = 0
  rejected = 0
  overflowed = 0
  evicted = 0
  cur = T0
  constructor (readonly maxSeries: number, readonly idleMinutes: number) {}

  /** Resolves like the registry: the key's series, a new one, or the metric's overflow series. */
  resolve (metric: string, dims: Record<string, string> | undefined, unit: string | undefined, ns: string | undefined, pin: boolean): string {
    const entries = Object.entries(dims ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    const namespace = ns ?? kNamespace
    const u = (unit ?? 'None') as StandardUnit
    const key = JSON.stringify([namespace, metric, u, entries])
    const s = this.registry.get(key)
    if (s !== undefined) { if (pin) s.pinned = true; return key }
    if (this.registry.size >= this.maxSeries) {
      this.overflowed++
      const ok = 'overflow:' + JSON.stringify([namespace, metric, u])
      if (!this.overflowSeries.has(ok)) this.overflowSeries.set(ok, { namespace, metric, unit: u, dimensions: [{ Name: 'minutely_overflow', Value: 'true' }] })
      return ok
    }
    this.registry.set(key, { info: { namespace, metric, unit: u, dimensions: entries.map(([Name, Value]) => ({ Name, Value })) }, lastUsed: this.cur, pinned: pin })
    return key
  }

  record (key: string, value: number, count: number): void {
    if (Number.isNaN(value)) { this.rejected++; return }
    const s = this.registry.get(key)
    const info = s?.info ?? this.overflowSeries.get(key)!
    if (s !== undefined) s.lastUsed = this.cur
    let m = this.open.get(this.cur)
    if (m === undefined) { m = new Map(); this.open.set(this.cur, m) }
    let e = m.get(key)
    if (e === undefined) { e = { info, h: new Histogram(6) }; m.set(key, e) }
    e.h.add(value, count)
    this.accepted++
  }

  /** One minute passes: the minute that ended is sealed; if one was, idle series are evicted. */
  advance (): void {
    const ended = this.cur
    this.cur += kMinute
    if (!this.#seal(ended)) return
    const horizon = this.cur - this.idleMinutes * kMinute
    for (const [k, s] of this.registry) if (!s.pinned && s.lastUsed < horizon) { this.registry.delete(k); this.evicted++ }
  }

  close (): void { for (const p of [...this.open.keys()].sort((a, b) => a - b)) this.#seal(p) }

  #seal (p: number): boolean {
    const m = this.open.get(p)
    this.open.delete(p)
    if (m === undefined || m.size === 0) return false
    for (const { info, h } of m.values()) for (const d of encodeHistogram(info, p, h, 150)) this.datums.push({ ...d, Namespace: info.namespace })
    return true
  }

  snapshotOpen (): Array<{ periodStart: number, series: SeriesSummary[] }> {
    return [...this.open.keys()].sort((a, b) => a - b)
      .map(p => ({ periodStart: p, series: [...this.open.get(p)!.values()].map(e => summarize(e.info, e.h)) }))
  }
}

const kUnits = [undefined, 'Milliseconds', 'None', 'Count'] as const
type Opt = { unit?: StandardUnit, namespace?: string, count?: number } | undefined
const opts = fc.constantFrom<() => Opt>(
  () => undefined, () => undefined, () => undefined,
  () => ({ unit: 'Milliseconds' }),
  () => ({ unit: 'None' }),                                          // the default unit, spelled out: another path, the same series
  () => ({ unit: ['Milli', 'seconds'].join('') as StandardUnit }),   // equal, not the same string
  () => ({ namespace: 'Other' }),
  () => ({ unit: 'Count', namespace: 'Other' }),
  () => ({ count: 2 }),
  () => ({ unit: 'Milliseconds', count: 3 }),
)
const dimsArb = fc.dictionary(fc.constantFrom('Host', 'Zone', 'Model'), fc.constantFrom('a', 'b', 'c'), { maxKeys: 3 })

const op = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('record' as const), metric: fc.constantFrom('Lat', 'Lat', 'Err'), slot: fc.nat(2), how: fc.constantFrom('reuse', 'reuse', 'reuse', 'reuse', 'mutate', 'fresh', 'none'), dims: dimsArb, opt: opts, value: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: fc.constant(Number.NaN) }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('series' as const), metric: fc.constantFrom('Lat', 'Err'), dims: dimsArb, unit: fc.constantFrom(...kUnits) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('handle' as const), pick: fc.nat(20), value: fc.integer({ min: 0, max: 5 }) }) },
  // Idle series are evicted after a seal: a series that records every minute (Lat{Host=z}) makes one happen each
  // minute, and keeps the nodes above it, with their memos, alive while its neighbours are evicted.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 1, max: 4 }), tick: fc.boolean() }) },
)

const norm = (ds: Array<MetricDatum & { Namespace: string }>): string[] => ds.map(d => JSON.stringify(Object.entries(d).sort(([a], [b]) => a < b ? -1 : 1))).sort()
const bySeries = (a: SeriesSummary, b: SeriesSummary): number => {
  const ka = JSON.stringify([a.namespace, a.metric, a.unit, a.dimensions]); const kb = JSON.stringify([b.namespace, b.metric, b.unit, b.dimensions])
  return ka < kb ? -1 : ka > kb ? 1 : 0
}
const sortedOpen = (open: Array<{ periodStart: number, series: SeriesSummary[] }>) => open.map(m => ({ periodStart: m.periodStart, series: [...m.series].sort(bySeries) }))

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

/** Runs the ops on an aggregator and on the model; asserts they agree after every op and at the end. */
async function run (ops: Op[], maxSeries: number, idleMinutes: number): Promise<void> {
    const clock = new ManualClock(T0)
    const sink = inMemorySink({ maxBatches: 1e6 })
    const agg = createAggregator({ namespace: kNamespace, sink, clock, gracePeriodMs: 0, maxSeries, seriesIdleMinutes: idleMinutes, onWarning: () => {} })
    const model = new Model(maxSeries, idleMinutes)
    const slots: Array<Record<string, string>> = [{ Host: 'a' }, { Host: 'a', Zone: 'b' }, {}]
    const handles: Array<{ h: ReturnType<typeof agg.series>, key: string }> = []
    for (const o of ops) {
      if (o.kind === 'advance') {
        for (let i = 0; i < o.minutes; i++) {
          if (o.tick) { agg.record('Lat', 1, { Host: 'z' }); model.record(model.resolve('Lat', { Host: 'z' }, undefined, undefined, false), 1, 1) }
          clock.advance(kMinute); model.advance(); await agg.flush()
        }
      } else if (o.kind === 'series') {
        const key = model.resolve(o.metric, o.dims, o.unit, undefined, true)
        handles.push({ h: agg.series(o.metric, o.dims, { unit: o.unit }), key })
      } else if (o.kind === 'handle') {
        if (handles.length === 0) continue
        const { h, key } = handles[o.pick % handles.length]
        h.record(o.value)
        model.record(key, o.value, 1)
      } else {
        let d: Record<string, string> | undefined = slots[o.slot]
        if (o.how === 'mutate') { for (const k of Object.keys(d)) delete d[k]; Object.assign(d, o.dims) }
        if (o.how === 'fresh') d = { ...o.dims }
        if (o.how === 'none') d = undefined
        const opt = o.opt()
        // A bad value is rejected after its series is resolved (and registered, if new).
        model.record(model.resolve(o.metric, d, opt?.unit, opt?.namespace, false), o.value, opt?.count ?? 1)
        agg.record(o.metric, o.value, d, opt)
      }
      const st = agg.stats()
      expect({ accepted: st.samplesAccepted, rejected: st.samplesRejected, overflowed: st.samplesOverflowed, overflowSeries: st.overflowSeries, active: st.activeSeries, evicted: st.seriesEvicted })
        .toEqual({ accepted: model.accepted, rejected: model.rejected, overflowed: model.overflowed, overflowSeries: model.overflowSeries.size, active: model.registry.size + model.overflowSeries.size, evicted: model.evicted })
    }
    expect(sortedOpen(agg.snapshot().open)).toEqual(sortedOpen(model.snapshotOpen()))
    await agg.close()
    model.close()
    expect(norm(sink.datums())).toEqual(norm(model.datums))
}

describe('record() paths against a plain Map', () => {
  it('the same datums, open minutes and stats whatever path each sample takes', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 120 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 2 }), run), { numRuns: NUM_RUNS })
  })

  it('the eviction case that once split a series (a reused object memoized, then evicted)', async () => {
    const rec = (dims: Record<string, 'a' | 'b'>, slot: number, how: 'reuse' | 'fresh'): Op => ({ kind: 'record', metric: 'Lat', slot, how, dims, opt: () => undefined, value: 7 })
    const ops: Op[] = [
      rec({}, 0, 'reuse'), rec({}, 0, 'reuse'), rec({}, 0, 'reuse'),   // slot 0 is { Host: 'a' }: remembered
      { kind: 'advance', minutes: 4, tick: true },                       // evicted
      rec({ Host: 'b' }, 1, 'fresh'), rec({}, 0, 'reuse'), rec({ Host: 'a' }, 1, 'fresh'),
    ]
    await run(ops, 10, 1)
  })
})
