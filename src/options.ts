/**
 * Options of `createAggregator()`, their defaults, and the one normaliser the library, the
 * CLI flags and the environment all go through. Messages name the option and what to change.
 */
import { ConfigError } from './errors.js'
import { checkNamespace } from './dimensions/validate.js'
import { kCloudWatchMaxDimensions, kDefaultMaxDimensions, isStandardUnit, kStandardUnits, type StandardUnit } from './limits.js'
import { kDefaultPrecisionBits, kMaxPrecisionBits, kMinPrecisionBits } from './store/histogram.js'
import type { MetricSink } from './sinks/sink.js'
import type { Clock } from './core/clock.js'
import { systemClock } from './core/clock.js'
import type { WarningListener } from './core/warn.js'

export interface AggregatorOptions {
  /** CloudWatch namespace of every series that does not name its own. Required; must not start with `AWS/`. */
  namespace: string
  /** Where sealed minutes go. @default cloudWatchSink() with the standard AWS chain */
  sink?: MetricSink
  /** Most dimensions a series may have. @default 10 (the SageMaker limit); at most 30 (CloudWatch's) */
  maxDimensions?: number
  /** Unit of series that name none. @default 'None' */
  defaultUnit?: StandardUnit
  /** How long after a minute ends it is sealed and published, so that stragglers still land in it. @default 5000 */
  gracePeriodMs?: number
  /**
   * Histogram precision: 2^p sub-buckets an octave. Published percentiles are within
   * 2^-p / (2 + 2^-p) of the exact ones: 6 → 0.78%, 7 → 0.39%. More bits, more buckets
   * (memory and datums). @default 6
   */
  precisionBits?: number
  /**
   * Most distinct series alive at once. Past it, samples of new series are folded into one
   * overflow series per metric (dimension `minutely.overflow=true`) and counted under
   * `cardinality_limit`. @default 20000
   */
  maxSeries?: number
  /** Minutes a series may stay unused before it is forgotten (its handle keeps working). @default 10 */
  seriesIdleMinutes?: number
  /** Concurrent requests to the sink. Halved on throttling, grown back on success. @default 4 */
  maxConcurrentRequests?: number
  /** Memory budget of the publish queue, in bytes. @default 67108864 (64 MiB) */
  maxQueuedBytes?: number
  /** First retry delay; doubles each attempt, with full jitter. @default 500 */
  retryBaseMs?: number
  /** Longest retry delay. @default 30000 */
  retryMaxMs?: number
  /** How long `close()` may spend publishing. @default 10000 */
  closeTimeoutMs?: number
  /** At most one warning per reason per this many milliseconds. @default 60000 */
  warningIntervalMs?: number
  /** Receives warnings. @default process.emitWarning */
  onWarning?: WarningListener
  /**
   * Directory of the disk spool: sealed batches are journaled there before they are sent
   * (and replayed at the next start if the process dies), the queue spills there past
   * `maxQueuedBytes`, and open minutes are checkpointed there every `checkpointIntervalMs`.
   * Created owner-only. @default none (memory only)
   */
  spoolDir?: string
  /** Most bytes the spool may hold; past it the oldest batches are dropped and counted. @default 1073741824 (1 GiB) */
  spoolMaxBytes?: number
  /** How often open minutes are checkpointed to the spool: the most a SIGKILL can lose. @default 1000 */
  checkpointIntervalMs?: number
  /** Time source. @default the system clock */
  clock?: Clock
  /** Random source for jitter (tests). @default Math.random */
  random?: () => number
}

export interface ResolvedOptions {
  namespace: string
  sink: MetricSink | undefined
  maxDimensions: number
  defaultUnit: StandardUnit
  gracePeriodMs: number
  precisionBits: number
  maxSeries: number
  seriesIdleMinutes: number
  maxConcurrentRequests: number
  maxQueuedBytes: number
  retryBaseMs: number
  retryMaxMs: number
  closeTimeoutMs: number
  warningIntervalMs: number
  onWarning: WarningListener | undefined
  spoolDir: string | undefined
  spoolMaxBytes: number
  checkpointIntervalMs: number
  clock: Clock
  random: () => number
}

export const kDefaults = Object.freeze({
  maxDimensions: kDefaultMaxDimensions,
  defaultUnit: 'None' as StandardUnit,
  gracePeriodMs: 5_000,
  precisionBits: kDefaultPrecisionBits,
  maxSeries: 20_000,
  seriesIdleMinutes: 10,
  maxConcurrentRequests: 4,
  maxQueuedBytes: 64 * 1024 * 1024,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  closeTimeoutMs: 10_000,
  warningIntervalMs: 60_000,
  spoolMaxBytes: 1024 * 1024 * 1024,
  checkpointIntervalMs: 1_000,
})

function bad (path: string, what: string, got: unknown): never {
  throw new ConfigError(`options.${path} ${what}; got ${JSON.stringify(got) ?? String(got)}`, 'METRICS_ERR_INVALID_OPTION')
}

function int (o: Record<string, unknown>, key: string, def: number, min: number, max: number): number {
  const v = o[key]
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(key, `must be an integer from ${min} to ${max}`, v)
  return v
}

function spoolDir (d: unknown): string | undefined {
  if (d === undefined) return undefined
  if (typeof d !== 'string' || d.trim() === '') bad('spoolDir', 'must be a directory path', d)
  return d
}

/** Checks and fills options; throws a {@link ConfigError} naming the first bad one. */
export function normalizeOptions (options: AggregatorOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('createAggregator(options) needs an options object with at least { namespace }', 'METRICS_ERR_INVALID_OPTION')
  }
  const o = options as unknown as Record<string, unknown>
  const nsBad = checkNamespace(options.namespace)
  if (nsBad !== null) throw new ConfigError(`options.namespace: ${nsBad.message}`, 'METRICS_ERR_INVALID_OPTION')
  const defaultUnit = options.defaultUnit ?? kDefaults.defaultUnit
  if (!isStandardUnit(defaultUnit)) bad('defaultUnit', `must be one of ${kStandardUnits.join(', ')}`, defaultUnit)
  const sink = options.sink
  if (sink !== undefined && (sink === null || typeof sink.send !== 'function')) bad('sink', 'must be a sink (an object with send(batch))', typeof sink)
  for (const k of ['onWarning', 'random'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'function') bad(k, 'must be a function', typeof options[k])
  }
  const clock = options.clock ?? systemClock
  if (typeof clock.now !== 'function' || typeof clock.setTimer !== 'function') bad('clock', 'must implement now(), setTimer() and clearTimer()', typeof clock)
  const retryBaseMs = int(o, 'retryBaseMs', kDefaults.retryBaseMs, 1, 3_600_000)
  const retryMaxMs = int(o, 'retryMaxMs', kDefaults.retryMaxMs, 1, 3_600_000)
  if (retryMaxMs < retryBaseMs) bad('retryMaxMs', `must be at least retryBaseMs (${retryBaseMs})`, retryMaxMs)
  return {
    namespace: options.namespace,
    sink,
    maxDimensions: int(o, 'maxDimensions', kDefaults.maxDimensions, 0, kCloudWatchMaxDimensions),
    defaultUnit,
    gracePeriodMs: int(o, 'gracePeriodMs', kDefaults.gracePeriodMs, 0, 10 * 60_000),
    precisionBits: int(o, 'precisionBits', kDefaults.precisionBits, kMinPrecisionBits, kMaxPrecisionBits),
    maxSeries: int(o, 'maxSeries', kDefaults.maxSeries, 1, 10_000_000),
    seriesIdleMinutes: int(o, 'seriesIdleMinutes', kDefaults.seriesIdleMinutes, 1, 24 * 60),
    maxConcurrentRequests: int(o, 'maxConcurrentRequests', kDefaults.maxConcurrentRequests, 1, 64),
    maxQueuedBytes: int(o, 'maxQueuedBytes', kDefaults.maxQueuedBytes, 1_048_576, 2 ** 40),
    retryBaseMs,
    retryMaxMs,
    closeTimeoutMs: int(o, 'closeTimeoutMs', kDefaults.closeTimeoutMs, 0, 3_600_000),
    warningIntervalMs: int(o, 'warningIntervalMs', kDefaults.warningIntervalMs, 0, 3_600_000),
    onWarning: options.onWarning,
    spoolDir: spoolDir(options.spoolDir),
    spoolMaxBytes: int(o, 'spoolMaxBytes', kDefaults.spoolMaxBytes, 1_048_576, 2 ** 50),
    checkpointIntervalMs: int(o, 'checkpointIntervalMs', kDefaults.checkpointIntervalMs, 100, 3_600_000),
    clock,
    random: options.random ?? Math.random,
  }
}
