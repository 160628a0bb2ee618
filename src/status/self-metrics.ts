/**
 * Optional: the sidecar publishes its own health to CloudWatch, beside the metrics it
 * aggregates, under a namespace of its own (by default `<namespace>/minutely`). Every
 * `intervalMs` it records into the same aggregator:
 *
 * - counters as the increase since the last tick (Sum per minute = the minute's total):
 *   SamplesAccepted, SamplesRejected (and one series per reason with a `Reason` dimension,
 *   only for reasons that occurred), DatumsPublished, RequestsSent, RequestsFailed,
 *   RequestsThrottled, RequestsRetried, DatumsDropped, IngestDatagramsDropped;
 * - gauges as one sample each (Average/Maximum over the minute): ActiveSeries,
 *   PublishQueueDatums, PublishQueueBytes, SpoolBytes, SpoolOldestAge, IngestQueueBatches,
 *   SecondsSinceLastPublish;
 * - each request's duration (PublishRequestLatency, Milliseconds) and each minute's publish
 *   delay (PublishDelay, Milliseconds), when the sink is a `timedSink`.
 *
 * These samples count in `samplesAccepted` like any other (a few dozen a tick). Timers come
 * from the aggregator's clock, so a `ManualClock` drives them in tests.
 */
import { hostname } from 'node:os'
import type { Aggregator } from '../core/aggregator.js'
import { checkNamespace } from '../dimensions/validate.js'
import { invalidOption } from '../errors.js'
import { poolStatsOf, type PoolSource } from './metrics.js'
import type { StandardUnit } from '../limits.js'
import type { PublishTiming } from './publish-timing.js'

export interface SelfMetricsOptions {
  aggregator: Aggregator
  /** The ingest pool, or a function returning it. */
  pool?: PoolSource
  timing?: PublishTiming
  /** @default `${aggregator.options.namespace}/minutely` */
  namespace?: string
  /** Dimensions of every self-metric. @default { Host: os.hostname() } */
  dimensions?: Record<string, string>
  /** @default 10000 */
  intervalMs?: number
}

export interface SelfMetrics {
  readonly namespace: string
  /** Records one tick now (the timer calls this). */
  tick (): void
  stop (): void
}

/** The default namespace of the self-metrics for an aggregator namespace. */
export function selfMetricsNamespace (namespace: string): string {
  const suffix = '/minutely'
  return (namespace.length + suffix.length > 255 ? namespace.slice(0, 255 - suffix.length) : namespace) + suffix
}

/** Starts recording the sidecar's own metrics into `aggregator`. Throws a ConfigError on a bad namespace. */
export function startSelfMetrics (o: SelfMetricsOptions): SelfMetrics {
  const agg = o.aggregator
  const namespace = o.namespace ?? selfMetricsNamespace(agg.options.namespace)
  const bad = checkNamespace(namespace)
  if (bad !== null) throw invalidOption(`self-metrics namespace: ${bad.message}`)
  const dims = o.dimensions ?? { Host: hostname().slice(0, 1024) || 'unknown' }
  const intervalMs = Math.max(1000, o.intervalMs ?? 10_000)
  const clock = agg.options.clock
  const last = new Map<string, number>()
  let stopped = false
  let timer: unknown

  const rec = (metric: string, value: number, unit: StandardUnit, extra?: Record<string, string>): void => {
    if (!Number.isFinite(value)) return
    agg.record(metric, value, extra === undefined ? dims : { ...dims, ...extra }, { unit, namespace })
  }
  const delta = (metric: string, total: number, extra?: Record<string, string>): void => {
    const key = extra === undefined ? metric : metric + '\u0000' + JSON.stringify(extra)
    const prev = last.get(key) ?? 0
    last.set(key, total)
    if (extra !== undefined && total === prev) return   // per-reason series only when something happened
    rec(metric, Math.max(0, total - prev), 'Count', extra)
  }

  const unsubscribe = o.timing?.onRequest(t => {
    if (stopped || agg.closed) return
    rec('PublishRequestLatency', t.durationMs, 'Milliseconds', { Outcome: t.ok ? 'ok' : 'failed' })
    if (t.delayMs !== undefined) rec('PublishDelay', t.delayMs, 'Milliseconds')
  })

  const tick = (): void => {
    if (stopped || agg.closed) return
    const st = agg.stats()
    delta('SamplesAccepted', st.samplesAccepted)
    delta('SamplesRejected', st.samplesRejected)
    for (const [reason, n] of Object.entries(st.rejectedByReason)) if (n > 0) delta('SamplesRejected', n, { Reason: reason })
    delta('DatumsPublished', st.datumsPublished)
    delta('RequestsSent', st.requestsSent)
    delta('RequestsFailed', st.requestsFailed)
    delta('RequestsThrottled', st.requestsThrottled)
    delta('RequestsRetried', st.requestsRetried)
    delta('DatumsDropped', st.datumsDropped)   // includes what the spool's cap dropped
    rec('ActiveSeries', st.activeSeries, 'Count')
    rec('PublishQueueDatums', st.datumsQueued, 'Count')
    rec('PublishQueueBytes', st.bytesQueued, 'Bytes')
    rec('SpoolBytes', st.spoolBytes, 'Bytes')
    rec('SpoolOldestAge', st.spoolOldestAgeMs, 'Milliseconds')
    if (st.lastPublishAt > 0) rec('SecondsSinceLastPublish', Math.max(0, clock.now() - st.lastPublishAt) / 1000, 'Seconds')
    const pool = poolStatsOf(o.pool)
    if (pool !== undefined) {
      rec('IngestQueueBatches', pool.queuedBatches, 'Count')
      rec('IngestQueueBytes', pool.queuedBytes, 'Bytes')
      delta('IngestDatagramsDropped', pool.datagramsDropped)
    }
  }

  const schedule = (): void => {
    timer = clock.setTimer(() => {
      if (stopped) return
      try { tick() } catch { /* self-metrics must never hurt the sidecar */ }
      schedule()
    }, intervalMs)
  }
  schedule()

  return {
    namespace,
    tick,
    stop () {
      stopped = true
      unsubscribe?.()
      if (timer !== undefined) clock.clearTimer(timer)
    },
  }
}
