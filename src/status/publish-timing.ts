/**
 * Publish latency, measured around the sink: `timedSink(sink)` returns a sink that behaves
 * exactly like the one it wraps (same name, limits, extra properties, errors) and times each
 * `send()`. The aggregator's `stats()` counts requests but does not time them; wrapping the
 * sink is how the sidecar gets the latency without touching the engine.
 *
 * Two measures:
 * - request duration: how long one `send()` (one PutMetricData request, or one EMF write) took,
 *   as a Prometheus histogram and a ring of recent durations (for p50/p99 on the status page);
 * - publish delay: from the end of a batch's newest minute to the moment the sink accepted it
 *   (grace period + queueing + retries + the request itself): how stale CloudWatch is.
 */
import { performance } from 'node:perf_hooks'
import type { DatumBatch } from '../encode/datum.js'
import type { MetricSink } from '../sinks/sink.js'

/** Upper bounds of the request-duration histogram, in seconds (Prometheus `le`). */
export const kDurationBucketsS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
/** Upper bounds of the publish-delay histogram, in seconds. */
export const kDelayBucketsS = [1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]

/** A cumulative histogram with fixed upper bounds (Prometheus style). */
export class FixedHistogram {
  readonly bounds: readonly number[]
  /** counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: number[]
  sum = 0
  count = 0
  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe (v: number): void {
    let i = 0
    while (i < this.bounds.length && v > this.bounds[i]) i++
    this.counts[i]++
    this.sum += v
    this.count++
  }

  /** Cumulative counts per bound, then +Inf. */
  cumulative (): number[] {
    const out: number[] = []
    let c = 0
    for (const n of this.counts) { c += n; out.push(c) }
    return out
  }
}

/** One timed request, as `onRequest` listeners see it. */
export interface RequestTiming {
  ok: boolean
  durationMs: number
  /** From the end of the batch's newest minute to now (only when ok). */
  delayMs: number | undefined
  datums: number
  bytes: number
  /** When the request ended, on the clock given to `timedSink` (epoch ms). */
  at: number
}

export interface PublishTimingSnapshot {
  requests: number
  failures: number
  /** Recent request durations, ms: p50, p99, max over the last `recent` requests. */
  recent: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  lastMs: number
  lastDelayMs: number
  /** When a request last failed (epoch ms, NaN: never), and the error's message. */
  lastFailureAt: number
  lastFailure: string | null
}

/** The measurements of a timed sink. */
export class PublishTiming {
  readonly duration = new FixedHistogram(kDurationBucketsS)
  readonly delay = new FixedHistogram(kDelayBucketsS)
  requests = 0
  failures = 0
  lastMs = NaN
  lastDelayMs = NaN
  lastFailureAt = NaN
  lastFailure: string | null = null
  readonly #ring: Float64Array
  #ringLen = 0
  #ringPos = 0
  readonly #listeners = new Set<(t: RequestTiming) => void>()

  constructor (ringSize = 512) { this.#ring = new Float64Array(ringSize) }

  /** Calls `fn` after each request; returns a function that unsubscribes. */
  onRequest (fn: (t: RequestTiming) => void): () => void {
    this.#listeners.add(fn)
    return () => { this.#listeners.delete(fn) }
  }

  /** @internal */
  record (t: RequestTiming): void {
    this.requests++
    if (!t.ok) { this.failures++; this.lastFailureAt = t.at }
    this.lastMs = t.durationMs
    this.duration.observe(t.durationMs / 1000)
    this.#ring[this.#ringPos] = t.durationMs
    this.#ringPos = (this.#ringPos + 1) % this.#ring.length
    if (this.#ringLen < this.#ring.length) this.#ringLen++
    if (t.ok && t.delayMs !== undefined) {
      this.lastDelayMs = t.delayMs
      this.delay.observe(t.delayMs / 1000)
    }
    for (const fn of this.#listeners) { try { fn(t) } catch { /* a listener must not break publishing */ } }
  }

  snapshot (): PublishTimingSnapshot {
    const xs = Array.from(this.#ring.subarray(0, this.#ringLen)).sort((a, b) => a - b)
    const q = (p: number): number => xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]
    return {
      requests: this.requests,
      failures: this.failures,
      recent: xs.length,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      maxMs: xs.length === 0 ? NaN : xs[xs.length - 1],
      lastMs: this.lastMs,
      lastDelayMs: this.lastDelayMs,
      lastFailureAt: this.lastFailureAt,
      lastFailure: this.lastFailure,
    }
  }
}

function newestMinuteEnd (batch: DatumBatch): number {
  let t = -Infinity
  for (const d of batch.datums) {
    const ms = d.Timestamp instanceof Date ? d.Timestamp.getTime() : Number(d.Timestamp)
    if (ms > t) t = ms
  }
  return t + 60_000
}

/**
 * Wraps a sink so that each `send()` is timed. Everything else (name, limits, `close`, and any
 * extra property such as an in-memory sink's `batches`) is the wrapped sink's own.
 * @param now the clock for the publish delay (the aggregator's: `aggregator.options.clock.now`)
 */
export function timedSink<S extends MetricSink> (sink: S, now: () => number = Date.now, timing = new PublishTiming()): S & { readonly timing: PublishTiming } {
  const send = async (batch: DatumBatch): Promise<void> => {
    const t0 = performance.now()
    try {
      await sink.send(batch)
    } catch (err) {
      timing.lastFailure = String((err as Error)?.message ?? err)
      timing.record({ ok: false, durationMs: performance.now() - t0, delayMs: undefined, datums: batch.datums.length, bytes: batch.bytes, at: now() })
      throw err
    }
    const end = newestMinuteEnd(batch)
    const at = now()
    timing.record({ ok: true, durationMs: performance.now() - t0, delayMs: Number.isFinite(end) ? Math.max(0, at - end) : undefined, datums: batch.datums.length, bytes: batch.bytes, at })
  }
  return new Proxy(sink, {
    get (target, prop) {
      if (prop === 'send') return send
      if (prop === 'timing') return timing
      const v: unknown = Reflect.get(target, prop, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
    has (target, prop) { return prop === 'timing' || Reflect.has(target, prop) },
  }) as S & { readonly timing: PublishTiming }
}
