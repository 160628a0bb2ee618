/**
 * One base class, stable codes. Match on `err.code`, not `instanceof`: classes do not
 * survive `postMessage`, so errors cross threads as `{ code, message }` and are rehydrated
 * with {@link fromWire}.
 */
export type MetricsErrorCode =
  | 'METRICS_ERR_INVALID_OPTION'
  | 'METRICS_ERR_UNKNOWN_OPTION'
  | 'METRICS_ERR_INVALID_NAME'
  | 'METRICS_ERR_DIMENSION'
  | 'METRICS_ERR_INVALID_UNIT'
  | 'METRICS_ERR_SINK'
  /** A warning: the disk spool cannot be written, lost its lock, or holds a damaged file (data at risk or lost). */
  | 'METRICS_ERR_SPOOL'
  | 'METRICS_ERR_QUEUE_FULL'
  | 'METRICS_ERR_CLOSED'
  | 'METRICS_ERR_TIMEOUT'
  /** A body over its limit (the pipeline proxy's --max-body-bytes). */
  | 'METRICS_ERR_TOO_LARGE'
  | 'METRICS_ERR_PARSE'
  | 'METRICS_ERR_INVALID_SAMPLE'

/** The base class of every error minutely throws or emits. */
export class MetricsError extends Error {
  override name = 'MetricsError'
  readonly code: MetricsErrorCode
  constructor (message: string, code: MetricsErrorCode, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** A configuration error: thrown synchronously by `createAggregator()`, `series()` and the CLI. */
export class ConfigError extends MetricsError {
  override name = 'ConfigError'
}

/**
 * The error of a bad option, flag, variable or setting, wherever it is checked (the library's
 * options, the CLI's settings, the SageMaker layer, the log shipper): a {@link ConfigError}
 * with code `METRICS_ERR_INVALID_OPTION`. The message names the option and what to change.
 */
export function invalidOption (message: string, options?: ErrorOptions): ConfigError {
  return new ConfigError(message, 'METRICS_ERR_INVALID_OPTION', options)
}

/**
 * A sink could not publish. `retryable` says whether the same request may succeed later
 * (throttling, 5xx, network); `datums` is how many datums the failed request carried.
 */
export class SinkError extends MetricsError {
  override name = 'SinkError'
  readonly retryable: boolean
  /** The service asked us to slow down (HTTP 429, `Throttling`). */
  readonly throttled: boolean
  /**
   * Every request will fail like this until a person changes something: access denied,
   * unknown or expired credentials, no region, an endpoint whose host does not exist. The
   * data is kept (it is `retryable`) and retried at the backoff ceiling, not the transient
   * cadence, and the publisher reports itself blocked until a request succeeds.
   */
  readonly permanent: boolean
  /**
   * The request may have been applied: it was sent, and no answer came (a timeout, a connection
   * reset or closed after the body left). Sending it again may count its datums twice, so the
   * publisher sends one request at a time, each a single datum, until one succeeds.
   */
  readonly outcomeUnknown: boolean
  readonly datums: number
  constructor (message: string, opts: { retryable: boolean, throttled?: boolean, permanent?: boolean, outcomeUnknown?: boolean, datums?: number, cause?: unknown }) {
    super(message, 'METRICS_ERR_SINK', { cause: opts.cause })
    this.retryable = opts.retryable
    this.throttled = opts.throttled ?? false
    this.permanent = opts.permanent ?? false
    this.outcomeUnknown = opts.outcomeUnknown ?? false
    this.datums = opts.datums ?? 0
  }
}

/** What an error looks like on the wire between threads. */
export interface WireError { code: MetricsErrorCode, message: string }

/** Turns a `{ code, message }` received from another thread back into a {@link MetricsError}. */
export function fromWire (e: WireError): MetricsError {
  return new MetricsError(e.message, e.code)
}
