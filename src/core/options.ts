/**
 * Options of `createAggregator()`, their defaults ({@link kDefaults}) and bounds
 * ({@link kBounds}), and the one normaliser the library, the CLI flags and the environment all
 * go through. The CLI's flags take their defaults and bounds from these tables. Messages name
 * the option and what to change.
 */
import { invalidOption } from '../errors.js'
import { checkNamespace } from '../dimensions/validate.js'
import { kCloudWatchMaxDimensions, kDefaultMaxDimensions, isStandardUnit, kStandardUnits, type StandardUnit } from '../limits.js'
import { kDefaultPrecisionBits, kMaxPrecisionBits, kMinPrecisionBits } from '../store/histogram.js'
import type { MetricSink } from '../sinks/sink.js'
import type { Clock } from './clock.js'
import { systemClock } from './clock.js'
import type { WarningListener } from './warn.js'
import { checkOptionNames, optionNames } from '../option-names.js'

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
   * One process at a time (a second one gets a ConfigError naming the holder). Created 0700
   * when missing; an existing directory must be this user's and owner-only (it is never
   * chmodded). Files are checksummed: a damaged one is reported, counted and never sent.
   * @default none (memory only)
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

/** The integer options: each has a default in {@link kDefaults} and bounds in {@link kBounds}. */
export type IntegerOption = Exclude<keyof typeof kDefaults, 'defaultUnit'>

/** The inclusive range of an integer option. */
export interface Bounds { readonly min: number, readonly max: number }

/**
 * The range of each integer option. {@link normalizeOptions} enforces it, and the CLI's flags
 * take their defaults and bounds from here, so that no limit is written twice.
 */
export const kBounds: { readonly [K in IntegerOption]: Bounds } = Object.freeze({
  maxDimensions: { min: 0, max: kCloudWatchMaxDimensions },
  gracePeriodMs: { min: 0, max: 10 * 60_000 },
  precisionBits: { min: kMinPrecisionBits, max: kMaxPrecisionBits },
  maxSeries: { min: 1, max: 10_000_000 },
  seriesIdleMinutes: { min: 1, max: 24 * 60 },
  maxConcurrentRequests: { min: 1, max: 64 },
  maxQueuedBytes: { min: 1_048_576, max: 2 ** 40 },
  retryBaseMs: { min: 1, max: 3_600_000 },
  retryMaxMs: { min: 1, max: 3_600_000 },
  closeTimeoutMs: { min: 0, max: 3_600_000 },
  warningIntervalMs: { min: 0, max: 3_600_000 },
  spoolMaxBytes: { min: 1_048_576, max: 2 ** 50 },
  checkpointIntervalMs: { min: 100, max: 3_600_000 },
})

/** The options {@link normalizeOptions} knows; any other name is refused as a typo. */
export const kAggregatorOptionNames = optionNames<AggregatorOptions>({
  namespace: true, sink: true, maxDimensions: true, defaultUnit: true, gracePeriodMs: true, precisionBits: true,
  maxSeries: true, seriesIdleMinutes: true, maxConcurrentRequests: true, maxQueuedBytes: true, retryBaseMs: true,
  retryMaxMs: true, closeTimeoutMs: true, warningIntervalMs: true, onWarning: true, spoolDir: true, spoolMaxBytes: true,
  checkpointIntervalMs: true, clock: true, random: true,
})

function bad (path: string, what: string, got: unknown): never {
  throw invalidOption(`options.${path} ${what}; got ${JSON.stringify(got) ?? String(got)}`)
}

/** An integer option: its default when absent, else checked against its bounds. */
function int (o: Record<string, unknown>, key: IntegerOption): number {
  const v = o[key]
  if (v === undefined) return kDefaults[key]
  const { min, max } = kBounds[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(key, `must be an integer from ${min} to ${max}`, v)
  return v
}

function spoolDir (d: unknown): string | undefined {
  if (d === undefined) return undefined
  if (typeof d !== 'string' || d.trim() === '') bad('spoolDir', 'must be a directory path', d)
  return d
}

/** Checks and fills options; throws a {@link ConfigError} naming the first bad one (or unknown one: a typo). */
export function normalizeOptions (options: AggregatorOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidOption('createAggregator(options) needs an options object with at least { namespace }')
  }
  checkOptionNames(options, kAggregatorOptionNames, 'createAggregator')
  const o = options as unknown as Record<string, unknown>
  const nsBad = checkNamespace(options.namespace)
  if (nsBad !== null) throw invalidOption(`options.namespace: ${nsBad.message}`)
  const defaultUnit = options.defaultUnit ?? kDefaults.defaultUnit
  if (!isStandardUnit(defaultUnit)) bad('defaultUnit', `must be one of ${kStandardUnits.join(', ')}`, defaultUnit)
  const sink = options.sink
  if (sink !== undefined && (sink === null || typeof sink.send !== 'function')) bad('sink', 'must be a sink (an object with send(batch))', typeof sink)
  for (const k of ['onWarning', 'random'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'function') bad(k, 'must be a function', typeof options[k])
  }
  const clock = options.clock ?? systemClock
  if (typeof clock.now !== 'function' || typeof clock.setTimer !== 'function') bad('clock', 'must implement now(), setTimer() and clearTimer()', typeof clock)
  const retryBaseMs = int(o, 'retryBaseMs')
  const retryMaxMs = int(o, 'retryMaxMs')
  if (retryMaxMs < retryBaseMs) bad('retryMaxMs', `must be at least retryBaseMs (${retryBaseMs})`, retryMaxMs)
  return {
    namespace: options.namespace,
    sink,
    maxDimensions: int(o, 'maxDimensions'),
    defaultUnit,
    gracePeriodMs: int(o, 'gracePeriodMs'),
    precisionBits: int(o, 'precisionBits'),
    maxSeries: int(o, 'maxSeries'),
    seriesIdleMinutes: int(o, 'seriesIdleMinutes'),
    maxConcurrentRequests: int(o, 'maxConcurrentRequests'),
    maxQueuedBytes: int(o, 'maxQueuedBytes'),
    retryBaseMs,
    retryMaxMs,
    closeTimeoutMs: int(o, 'closeTimeoutMs'),
    warningIntervalMs: int(o, 'warningIntervalMs'),
    onWarning: options.onWarning,
    spoolDir: spoolDir(options.spoolDir),
    spoolMaxBytes: int(o, 'spoolMaxBytes'),
    checkpointIntervalMs: int(o, 'checkpointIntervalMs'),
    clock,
    random: options.random ?? Math.random,
  }
}
