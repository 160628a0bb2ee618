/**
 * The sidecar's own metrics in the Prometheus text exposition format (version 0.0.4), for
 * `GET /metrics`: what was accepted and rejected (by reason, and per listener where the
 * listener counts), series, queues between threads, the publish queue and spool, requests
 * sent / failed / throttled / retried, publish latency and the last successful publish.
 *
 * Everything is read from counters that already exist (`aggregator.stats()`, the ingest
 * pool's `stats`, the listeners' `stats`, a {@link PublishTiming}); rendering costs one pass
 * over them, never over the series.
 */
import type { Aggregator, AggregatorStats } from '../core/aggregator.js'
import type { IngestPoolStats } from '../ingest/pool.js'
import type { PublishTiming } from './publish-timing.js'
import { kVersion } from './version.js'

/**
 * Something with counters: a listener (`{ stats }`) or a function returning them. Counters named
 * `samplesAccepted` and `samplesRejected` become `minutely_listener_samples_total{listener, outcome}`;
 * the others `minutely_listener_events_total{listener, event}`.
 */
export type CounterSource = { readonly stats: Readonly<Record<string, number>> } | (() => Readonly<Record<string, number>>)

export type PoolSource = { readonly stats: IngestPoolStats } | (() => { readonly stats: IngestPoolStats } | undefined)
export type ListenerSources = Record<string, CounterSource | undefined | null>

/** Resolves a pool source (a function is called). */
export function poolStatsOf (p: PoolSource | undefined): IngestPoolStats | undefined {
  if (p === undefined) return undefined
  try { return (typeof p === 'function' ? p() : p)?.stats } catch { return undefined }
}

/** Resolves listener sources to their counters; listeners that are absent or throw are left out. */
export function listenerCounters (l: SelfMetricsSources['listeners']): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  if (l === undefined) return out
  let all: ListenerSources
  try { all = typeof l === 'function' ? l() : l } catch { return out }
  for (const [name, src] of Object.entries(all)) {
    if (src === undefined || src === null) continue
    try {
      const c = typeof src === 'function' ? src() : src.stats
      const nums: Record<string, number> = {}
      for (const [k, v] of Object.entries(c)) if (typeof v === 'number') nums[k] = v
      out[name] = nums
    } catch { /* a listener that cannot report is left out */ }
  }
  return out
}

/** Where the self-metrics come from. Only `aggregator` is required. */
export interface SelfMetricsSources {
  aggregator: Aggregator
  /**
   * The worker-thread ingest pool (StatsD/EMF parsing), for queue depths between threads; or a
   * function returning it, for a pool created after the HTTP listener.
   */
  pool?: PoolSource
  /**
   * Listeners by name (`statsd`, `emf`), or a function returning them: each counter of their
   * `stats` becomes `minutely_listener_events_total{listener, event}`.
   */
  listeners?: ListenerSources | (() => ListenerSources)
  /** Request durations and publish delay, from `timedSink()`. */
  timing?: PublishTiming
  /** Shown as `minutely_build_info` labels. */
  info?: { version?: string, namespace?: string, sink?: string }
  /** Process start, epoch ms. @default the process's start */
  startedAt?: number
}

export const kContentType = 'text/plain; version=0.0.4; charset=utf-8'

type Labels = Record<string, string> | undefined

function escapeLabel (v: string): string { return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') }
function escapeHelp (v: string): string { return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') }
function num (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}
/** A metric or label name as Prometheus allows it: [a-zA-Z_:][a-zA-Z0-9_:]* */
export function promName (s: string): string {
  const x = s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^a-zA-Z0-9_:]/g, '_').toLowerCase()
  return /^[a-zA-Z_:]/.test(x) ? x : '_' + x
}

/** Builds an exposition: one HELP and TYPE per family, then its samples. */
export class Exposition {
  readonly #lines: string[] = []

  family (name: string, type: 'counter' | 'gauge' | 'histogram' | 'untyped', help: string, samples: Array<[Labels, number]>): this {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
    for (const [labels, v] of samples) this.#lines.push(name + this.#labels(labels) + ' ' + num(v))
    return this
  }

  counter (name: string, help: string, v: number, labels?: Labels): this { return this.family(name, 'counter', help, [[labels, v]]) }
  gauge (name: string, help: string, v: number, labels?: Labels): this { return this.family(name, 'gauge', help, [[labels, v]]) }

  /** A histogram from upper bounds and cumulative counts (the last one is +Inf). */
  histogram (name: string, help: string, bounds: readonly number[], cumulative: readonly number[], sum: number, count: number): this {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`)
    for (let i = 0; i < bounds.length; i++) this.#lines.push(`${name}_bucket{le="${num(bounds[i])}"} ${num(cumulative[i])}`)
    this.#lines.push(`${name}_bucket{le="+Inf"} ${num(cumulative[bounds.length] ?? count)}`, `${name}_sum ${num(sum)}`, `${name}_count ${num(count)}`)
    return this
  }

  #labels (labels: Labels): string {
    if (labels === undefined) return ''
    const parts = Object.entries(labels).map(([k, v]) => `${promName(k)}="${escapeLabel(v)}"`)
    return parts.length === 0 ? '' : '{' + parts.join(',') + '}'
  }

  toString (): string { return this.#lines.join('\n') + '\n' }
}

const kProcessStart = Date.now() - process.uptime() * 1000

/** Renders the self-metrics. `stats` may be passed when the caller already read them. */
export function renderMetrics (src: SelfMetricsSources, stats: AggregatorStats = src.aggregator.stats()): string {
  const e = new Exposition()
  const st = stats
  const info = src.info ?? {}
  e.gauge('minutely_build_info', 'Always 1; the labels say what runs.', 1,
    { version: info.version ?? kVersion, namespace: info.namespace ?? src.aggregator.options.namespace, sink: info.sink ?? src.aggregator.sink.name })
  e.gauge('minutely_start_time_seconds', 'When the process started, epoch seconds.', Math.round((src.startedAt ?? kProcessStart) / 1000))

  // ---- ingest
  e.counter('minutely_samples_accepted_total', 'Samples recorded into a minute (all listeners and the library API).', st.samplesAccepted)
  e.family('minutely_samples_rejected_total', 'counter', 'Samples rejected, by reason (stable snake_case keys; see README).',
    Object.entries(st.rejectedByReason).sort(([a], [b]) => a < b ? -1 : 1).map(([reason, n]) => [{ reason }, n]))
  e.counter('minutely_samples_late_total', 'Samples for a minute already sealed, published as an extra datum that CloudWatch merges.', st.samplesLate)
  e.counter('minutely_samples_overflowed_total', 'Samples folded into an overflow series (minutely_overflow=true) because the series cap was reached.', st.samplesOverflowed)
  if (src.listeners !== undefined) {
    const events: Array<[Labels, number]> = []
    const samples: Array<[Labels, number]> = []
    for (const [listener, c] of Object.entries(listenerCounters(src.listeners))) {
      for (const [event, v] of Object.entries(c)) {
        if (event === 'samplesAccepted') samples.push([{ listener, outcome: 'accepted' }, v])
        else if (event === 'samplesRejected') samples.push([{ listener, outcome: 'rejected' }, v])
        else events.push([{ listener, event: promName(event) }, v])
      }
    }
    if (samples.length > 0) e.family('minutely_listener_samples_total', 'counter', 'Samples by listener and outcome (for listeners that count them: counters named samplesAccepted / samplesRejected).', samples)
    e.family('minutely_listener_events_total', 'counter', 'What each listener counted (datagrams, bytes, connections, oversized lines…), by listener and event.', events)
  }

  // ---- series and minutes
  e.gauge('minutely_series_active', 'Series currently known (overflow series included).', st.activeSeries)
  e.counter('minutely_series_evicted_total', 'Series forgotten after being idle for seriesIdleMinutes.', st.seriesEvicted)
  e.gauge('minutely_periods_open', 'Minutes not yet sealed.', st.openPeriods)
  e.counter('minutely_periods_sealed_total', 'Minutes (and late deltas) sealed and handed to the publisher.', st.periodsSealed)

  // ---- queues between threads
  const pool = poolStatsOf(src.pool)
  if (pool !== undefined) {
    e.gauge('minutely_ingest_queue_batches', 'Batches of datagrams waiting for or being parsed by an ingest worker thread.', pool.queuedBatches)
    e.gauge('minutely_ingest_queue_bytes', 'Bytes of those batches (past 64 MiB, datagrams are dropped and counted as overloaded).', pool.queuedBytes)
    e.gauge('minutely_ingest_threads', 'Ingest worker threads.', pool.threads)
    e.counter('minutely_ingest_datagrams_received_total', 'Datagrams (or EMF line chunks) handed to the ingest pool.', pool.datagramsReceived)
    e.counter('minutely_ingest_datagrams_dropped_total', 'Datagrams dropped because the queue to the worker threads was full.', pool.datagramsDropped)
    e.counter('minutely_ingest_batches_submitted_total', 'Batches handed to the worker threads.', pool.batchesSubmitted)
    e.counter('minutely_ingest_batches_failed_total', 'Batches lost because a worker thread failed.', pool.batchesFailed)
  }

  // ---- publish queue, requests, spool
  e.gauge('minutely_publish_queue_datums', 'Datums sealed and waiting to be published (in memory).', st.datumsQueued)
  e.gauge('minutely_publish_queue_bytes', 'Request bytes waiting to be published (in memory).', st.bytesQueued)
  e.gauge('minutely_publish_in_flight_requests', 'Requests being sent now.', st.inFlightRequests)
  e.gauge('minutely_publish_concurrency', 'Concurrent requests allowed now (halved on throttling, grown back on success).', st.concurrency)
  e.counter('minutely_requests_sent_total', 'Requests sent to the sink (PutMetricData calls, EMF writes).', st.requestsSent)
  e.counter('minutely_requests_succeeded_total', 'Requests the sink accepted.', st.requestsSucceeded)
  e.counter('minutely_requests_failed_total', 'Requests that failed (retried or not).', st.requestsFailed)
  e.counter('minutely_requests_throttled_total', 'Requests the service throttled.', st.requestsThrottled)
  e.counter('minutely_requests_retried_total', 'Requests sent again after a failure.', st.requestsRetried)
  e.counter('minutely_requests_unanswered_total', 'Requests that got no answer (timed out, reset): the service may have stored them, and their resend may count twice.', st.requestsUnanswered)
  e.counter('minutely_datums_published_total', 'Datums the sink accepted.', st.datumsPublished)
  e.counter('minutely_datums_failed_total', 'Datums the service rejected as invalid (isolated by splitting).', st.datumsFailed)
  e.counter('minutely_datums_dropped_total', 'Datums dropped: the queue or the spool went over its budget.', st.datumsDropped)
  e.gauge('minutely_spool_batches', 'Batches journaled on disk and not yet accepted by the sink.', st.spoolBatches)
  e.gauge('minutely_spool_bytes', 'Bytes in the disk spool.', st.spoolBytes)
  e.gauge('minutely_spool_oldest_age_seconds', 'Age of the oldest spooled batch (0 when empty).', st.spoolOldestAgeMs / 1000)
  e.counter('minutely_spool_dropped_datums_total', 'Datums dropped from the spool because it went over its size cap.', st.spoolDroppedDatums)
  e.counter('minutely_spool_write_errors_total', 'Failed writes to the spool.', st.spoolWriteErrors)
  e.gauge('minutely_spool_failing', '1 while the spool cannot protect the data (writes failing, or its lock taken by another process), else 0.', st.spoolFailure !== null ? 1 : 0)
  e.counter('minutely_spool_corrupt_files_total', 'Spool files found damaged, cut short or empty: reported, never sent.', st.spoolCorruptFiles)
  e.counter('minutely_spool_corrupt_datums_total', 'Datums lost in damaged spool batches (as their headers tell).', st.spoolCorruptDatums)
  e.counter('minutely_spool_corrupt_samples_total', 'Samples lost in damaged spool batches and checkpoints (as their headers tell).', st.spoolCorruptSamples)
  e.gauge('minutely_last_publish_timestamp_seconds', 'When the sink last accepted a request, epoch seconds (0: never).', st.lastPublishAt / 1000)
  const t = src.timing
  if (t !== undefined) {
    e.histogram('minutely_publish_request_duration_seconds', 'Duration of each request to the sink (one PutMetricData call or EMF write), failed ones included.',
      t.duration.bounds, t.duration.cumulative(), t.duration.sum, t.duration.count)
    e.histogram('minutely_publish_delay_seconds', 'From the end of a minute to the moment the sink accepted it (grace period, queueing, retries and the request).',
      t.delay.bounds, t.delay.cumulative(), t.delay.sum, t.delay.count)
  }

  // ---- the process
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  e.gauge('minutely_process_resident_memory_bytes', 'Resident set size.', mem.rss)
  e.gauge('minutely_process_heap_used_bytes', 'V8 heap in use.', mem.heapUsed)
  e.counter('minutely_process_cpu_seconds_total', 'User and system CPU time of the process (all threads).', (cpu.user + cpu.system) / 1e6)
  return e.toString()
}
