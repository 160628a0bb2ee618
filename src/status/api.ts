/**
 * The document behind the status page (`GET /api/status`): the pipeline's counters and, for
 * the open minute(s) and the last sealed ones, each series with count, sum, min, max, p50,
 * p90, p99 and its histogram re-binned on a log scale (4 bins per power of two, ~19% wide),
 * filtered by metric and dimension text and capped per minute.
 */
import type { Aggregator, AggregatorStats, SealedPeriod, SealedSeries, Snapshot } from '../core/aggregator.js'
import { listenerCounters, poolStatsOf, type SelfMetricsSources } from './metrics.js'
import type { PublishTimingSnapshot } from './publish-timing.js'
import { healthOf, type Health } from './health.js'

/** Bins per power of two in the page's histograms. */
export const kBinsPerOctave = 4

/** What the page shows about the process: free-form, every value is escaped by the page. */
export interface StatusInfo {
  version?: string
  namespace?: string
  sink?: string
  /** What listens where, e.g. `{ 'HTTP ingest': 'http://127.0.0.1:8126/v1/samples', StatsD: 'udp://127.0.0.1:8125' }`. */
  endpoints?: Record<string, string>
}

export interface StatusQuery {
  /** Case-insensitive substring of the metric name (or `namespace/metric`). */
  metric?: string
  /** Case-insensitive substring of the dimensions as `Name=Value Name2=Value2`. */
  dim?: string
  /** Most series per minute. */
  limit?: number
}

/** A histogram re-binned for the page: `z` zeros, `n` negatives, `b` [bin, count] with bin k = [2^(k/4), 2^((k+1)/4)). */
export interface PageHistogram { z: number, n: number, b: Array<[number, number]> }

/** A series as the page gets it: the engine's summary numbers, with its key, dimensions as pairs and a page histogram. */
export interface StatusSeries extends Pick<SealedSeries, 'namespace' | 'metric' | 'count' | 'sum' | 'min' | 'max' | 'p50' | 'p90' | 'p99'> {
  key: string
  unit: string
  dims: Array<[string, string]>
  hist: PageHistogram
}

export interface StatusMinute {
  start: number
  state: 'open' | 'sealed'
  late: boolean
  /** Series in the minute, matching or not. */
  total: number
  /** Series that match the filter (`series` holds at most `limit` of them). */
  matched: number
  /** Samples in the minute (sum of counts, all series). */
  samples: number
  series: StatusSeries[]
}

export interface StatusDoc {
  v: 1
  /** Increments with each document served. */
  seq: number
  /** The engine's clock, epoch ms: ages on the page are relative to it. */
  now: number
  startedAt: number
  info: StatusInfo
  /** What `/healthz` answers: what needs a person (publishing blocked, a model server down). */
  health: Health
  ingest: {
    accepted: number
    rejected: number
    rejectedByReason: Record<string, number>
    late: number
    overflowed: number
    activeSeries: number
    evicted: number
    openPeriods: number
    periodsSealed: number
    pool: { queuedBatches: number, queuedBytes: number, threads: number, datagramsReceived: number, datagramsDropped: number, batchesFailed: number } | null
    listeners: Record<string, Record<string, number>>
  }
  publish: {
    datumsPublished: number
    datumsQueued: number
    bytesQueued: number
    inFlight: number
    concurrency: number
    requestsSent: number
    requestsSucceeded: number
    requestsFailed: number
    requestsThrottled: number
    requestsRetried: number
    datumsFailed: number
    datumsDropped: number
    lastPublishAt: number
    lastError: string | null
    /** The permanent failure that blocks publishing (kept and retried at the ceiling), or null. */
    blockedBy: string | null
    spool: { batches: number, bytes: number, oldestAgeMs: number, droppedDatums: number, writeErrors: number, corruptFiles: number, corruptDatums: number, corruptSamples: number, failure: string | null }
    latency: PublishTimingSnapshot | null
  }
  /** `samplesAccepted` when the minutes below were computed (they may be cached briefly). */
  snapshotAccepted: number
  minutes: StatusMinute[]
}

/** The key the page puts on a series' row (`data-key`): the tests find rows by it. */
export function seriesKey (s: { namespace: string, metric: string, unit: string, dimensions: ReadonlyArray<{ Name: string, Value: string }> }): string {
  return JSON.stringify([s.namespace, s.metric, s.unit, s.dimensions.map(d => [d.Name, d.Value])])
}

/** Re-bins `[value, count]` buckets on the page's log scale. */
export function rebin (buckets: ReadonlyArray<readonly [number, number]>): PageHistogram {
  const out: PageHistogram = { z: 0, n: 0, b: [] }
  const m = new Map<number, number>()
  for (const [v, c] of buckets) {
    if (v === 0) { out.z += c; continue }
    if (v < 0) { out.n += c; continue }
    const k = Math.floor(Math.log2(v) * kBinsPerOctave)
    m.set(k, (m.get(k) ?? 0) + c)
  }
  out.b = [...m.entries()].sort((a, b) => a[0] - b[0])
  return out
}

function dimsText (s: SealedSeries): string { return s.dimensions.map(d => `${d.Name}=${d.Value}`).join(' ') }

function compare (a: SealedSeries, b: SealedSeries): number {
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1
  if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1
  const x = dimsText(a); const y = dimsText(b)
  return x < y ? -1 : x > y ? 1 : 0
}

function minuteOf (p: SealedPeriod, state: 'open' | 'sealed', q: Required<StatusQuery>): StatusMinute {
  const metric = q.metric.toLowerCase()
  const dim = q.dim.toLowerCase()
  const matching: SealedSeries[] = []
  let samples = 0
  for (const s of p.series) {
    samples += s.count
    if (metric !== '' && !s.metric.toLowerCase().includes(metric) && !(s.namespace + '/' + s.metric).toLowerCase().includes(metric)) continue
    if (dim !== '' && !dimsText(s).toLowerCase().includes(dim)) continue
    matching.push(s)
  }
  matching.sort(compare)
  return {
    start: p.periodStart,
    state,
    late: p.late,
    total: p.series.length,
    matched: matching.length,
    samples,
    series: matching.slice(0, q.limit).map(s => ({
      key: seriesKey(s),
      namespace: s.namespace,
      metric: s.metric,
      unit: s.unit,
      dims: s.dimensions.map(d => [d.Name, d.Value] as [string, string]),
      count: s.count,
      sum: s.sum,
      min: s.min,
      max: s.max,
      p50: s.p50,
      p90: s.p90,
      p99: s.p99,
      hist: rebin(s.buckets),
    })),
  }
}

/** Options of {@link StatusBuilder}. */
export interface StatusBuilderOptions extends SelfMetricsSources {
  info?: StatusInfo
  minSnapshotIntervalMs?: number
  defaultLimit?: number
  /** The health to show. @default the aggregator's (publishing blocked or not) */
  health?: () => Health
}

/** Builds status documents; caches the (costly) snapshot for `minSnapshotIntervalMs`. */
export class StatusBuilder {
  #seq = 0
  #snap: Snapshot | undefined
  #snapAccepted = -1
  #snapAt = -Infinity
  #snapKey = ''
  readonly #o: StatusBuilderOptions
  readonly #startedAt: number

  constructor (o: StatusBuilderOptions) {
    this.#o = o
    this.#startedAt = o.startedAt ?? o.aggregator.options.clock.now()
  }

  get aggregator (): Aggregator { return this.#o.aggregator }

  /**
   * The snapshot, recomputed when something changed and the last one is older than
   * `minSnapshotIntervalMs` (default 1000): several open pages cost one snapshot a second.
   */
  #snapshot (st: AggregatorStats): Snapshot {
    const agg = this.#o.aggregator
    const key = `${st.samplesAccepted}/${st.periodsSealed}/${Math.floor(agg.options.clock.now() / 60_000)}`
    const now = performance.now()
    if (this.#snap === undefined || (key !== this.#snapKey && now - this.#snapAt >= (this.#o.minSnapshotIntervalMs ?? 1000))) {
      this.#snap = agg.snapshot()
      this.#snapKey = key
      this.#snapAt = now
      this.#snapAccepted = st.samplesAccepted
    }
    return this.#snap
  }

  build (query: StatusQuery = {}): StatusDoc {
    const o = this.#o
    const st = o.aggregator.stats()
    const snap = this.#snapshot(st)
    const limit = Math.max(1, Math.min(5000, Math.floor(query.limit ?? o.defaultLimit ?? 500) || 500))
    const q: Required<StatusQuery> = { metric: (query.metric ?? '').trim(), dim: (query.dim ?? '').trim(), limit }
    const minutes: StatusMinute[] = []
    for (const p of [...snap.open].sort((a, b) => b.periodStart - a.periodStart)) minutes.push(minuteOf(p, 'open', q))
    for (const p of [...snap.sealed].reverse()) minutes.push(minuteOf(p, 'sealed', q))
    const pool = poolStatsOf(o.pool)
    const listeners = listenerCounters(o.listeners)
    const rejectedByReason: Record<string, number> = {}
    for (const [r, n] of Object.entries(st.rejectedByReason)) if (n > 0) rejectedByReason[r] = n
    return {
      v: 1,
      seq: ++this.#seq,
      now: o.aggregator.options.clock.now(),
      startedAt: this.#startedAt,
      info: {
        namespace: o.aggregator.options.namespace,
        sink: o.aggregator.sink.name,
        ...o.info,
      },
      health: o.health?.() ?? healthOf({ aggregator: o.aggregator }),
      ingest: {
        accepted: st.samplesAccepted,
        rejected: st.samplesRejected,
        rejectedByReason,
        late: st.samplesLate,
        overflowed: st.samplesOverflowed,
        activeSeries: st.activeSeries,
        evicted: st.seriesEvicted,
        openPeriods: st.openPeriods,
        periodsSealed: st.periodsSealed,
        pool: pool === undefined ? null : { queuedBatches: pool.queuedBatches, queuedBytes: pool.queuedBytes, threads: pool.threads, datagramsReceived: pool.datagramsReceived, datagramsDropped: pool.datagramsDropped, batchesFailed: pool.batchesFailed },
        listeners,
      },
      publish: {
        datumsPublished: st.datumsPublished,
        datumsQueued: st.datumsQueued,
        bytesQueued: st.bytesQueued,
        inFlight: st.inFlightRequests,
        concurrency: st.concurrency,
        requestsSent: st.requestsSent,
        requestsSucceeded: st.requestsSucceeded,
        requestsFailed: st.requestsFailed,
        requestsThrottled: st.requestsThrottled,
        requestsRetried: st.requestsRetried,
        datumsFailed: st.datumsFailed,
        datumsDropped: st.datumsDropped,
        lastPublishAt: st.lastPublishAt,
        lastError: st.lastError,
        blockedBy: st.blockedBy,
        spool: { batches: st.spoolBatches, bytes: st.spoolBytes, oldestAgeMs: st.spoolOldestAgeMs, droppedDatums: st.spoolDroppedDatums, writeErrors: st.spoolWriteErrors, corruptFiles: st.spoolCorruptFiles, corruptDatums: st.spoolCorruptDatums, corruptSamples: st.spoolCorruptSamples, failure: st.spoolFailure },
        latency: o.timing?.snapshot() ?? null,
      },
      snapshotAccepted: this.#snapAccepted,
      minutes,
    }
  }
}
