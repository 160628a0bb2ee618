/**
 * The endpoint invocation metrics, measured inside a Node.js model server:
 * Invocations, Invocation4XXErrors, Invocation5XXErrors, InvocationsPerInstance, ModelLatency,
 * OverheadLatency and ContainerLatency, with the dimensions `EndpointName, VariantName`
 * (+ `ContainerName` for ContainerLatency), as SageMaker publishes them.
 *
 * What SageMaker measures from outside the container we measure from inside the server:
 * a request's total time runs from when the server starts handling it to when its response
 * is finished; ModelLatency is the time spent in the model (the pipeline's containers, or
 * what the handler reports); OverheadLatency is the rest.
 *
 * Per request, the hot path builds no strings and looks nothing up by dimensions: every
 * series is resolved once, here, through `recorder.series()`.
 */
import { describe } from './internal.js'
import { invalidOption } from '../errors.js'
import { requireIdentity, resolveIdentity } from './env.js'
import {
  kDefaultInvocationNamespace, kDimensionContainerName, kDimensionEndpointName, kDimensionVariantName,
  kInvocationMetricUnits, namePart, resolveContainerNames, validateNamespace, type InvocationMetricName,
} from './presets.js'
import type { MetricRecorder, SeriesHandleLike } from './recorder.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/** A clock in microseconds (fractions allowed); only differences are used. */
export type MicrosecondClock = () => number

/**
 * The default clock: `performance.now()` in µs. It is monotonic (an NTP step cannot make a
 * latency negative) and has sub-microsecond resolution in Node, where `Date.now()` has 1 ms,
 * too coarse for a ModelLatency of a few hundred µs.
 */
export const kMicrosecondNow: MicrosecondClock = () => performance.now() * 1000

/**
 * What ModelLatency is for a request in which nothing was timed (no container, no explicit
 * `modelLatency()`):
 * - `'total'`: the whole request time, and OverheadLatency 0. Right when this server *is* the
 *   model container (a single-model server): SageMaker's ModelLatency is the time its
 *   container took, and the overhead is added by SageMaker's front end, which we do not see.
 * - `'omit'`: record neither latency for such requests.
 */
export type UntimedModelLatency = 'total' | 'omit'

/** Options of {@link createInvocationMetrics}. */
export interface InvocationMetricsOptions {
  /** Where samples go. */
  recorder: MetricRecorder
  /** EndpointName dimension. Else `MINUTELY_ENDPOINT_NAME`; required. */
  endpointName?: string
  /** VariantName dimension. Else `MINUTELY_VARIANT_NAME`, else `AllTraffic`. */
  variantName?: string
  /**
   * Active instances of the variant: InvocationsPerInstance records `1 / instanceCount` per
   * request. Change it with {@link InvocationMetrics.setInstanceCount} when scaling.
   * @default 1
   */
  instanceCount?: number
  /**
   * Namespace of the invocation metrics. Must not start with `AWS/` (reserved by CloudWatch).
   * @default 'minutely/SageMaker' ({@link kDefaultInvocationNamespace})
   */
  namespace?: string
  /**
   * The pipeline's containers in order; unnamed ones (`undefined`) become `container-N`.
   * Their ContainerLatency series are resolved up front; other names still work, resolved on
   * first use.
   */
  containers?: ReadonlyArray<string | undefined>
  /** See {@link UntimedModelLatency}. @default 'total' */
  untimedModelLatency?: UntimedModelLatency
  /** The clock, in µs (tests inject one). @default performance.now() × 1000 */
  nowUs?: MicrosecondClock
  /** The environment to read names from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>
}

const kInvocationMetricsOptionNames = optionNames<InvocationMetricsOptions>({
  recorder: true, endpointName: true, variantName: true, instanceCount: true, namespace: true, containers: true,
  untimedModelLatency: true, nowUs: true, env: true,
})

/** Times one call into a container. */
export interface ContainerTimer {
  /** Stops the timer, records ContainerLatency and returns it in µs. Later calls return the same value and record nothing. */
  end (): number
}

/** One request in flight. Obtain it from {@link InvocationMetrics.begin}. */
export interface InvocationContext {
  /** When the request began, on the metrics' clock (µs). */
  readonly startUs: number
  /** True once `end()` or `abort()` has recorded the request. */
  readonly ended: boolean
  /**
   * Starts timing a call into the named pipeline container. Its ContainerLatency is recorded
   * when the timer ends, and its time counts towards ModelLatency.
   */
  container (name: string): ContainerTimer
  /**
   * Times `fn` as a call into the named container. When `fn` returns a promise (a thenable),
   * the timer stops when it settles, and that promise's outcome is returned.
   */
  time<T> (containerName: string, fn: () => T): T
  /** Records a container's latency measured elsewhere (e.g. reported by the container). */
  containerLatency (name: string, microseconds: number): void
  /**
   * Sets ModelLatency explicitly (µs), for single-model servers that know the model's share
   * of the request; overrides the sum of container latencies.
   */
  modelLatency (microseconds: number): void
  /** Records the request with its HTTP status. Idempotent: only the first end/abort counts. */
  end (statusCode: number): void
  /**
   * Records a request whose response never finished (the client or the upstream gave up):
   * counted as an invocation and as a 5XX error. Idempotent with `end()`.
   */
  abort (): void
}

/** The invocation metrics of one endpoint variant. */
export interface InvocationMetrics {
  /** The namespace recorded into. */
  readonly namespace: string
  /** The `{ EndpointName, VariantName }` dimensions of every metric. */
  readonly dimensions: Readonly<Record<string, string>>
  /** The current instance count. */
  readonly instanceCount: number
  /** Starts one request. */
  begin (): InvocationContext
  /** Changes the instance count that InvocationsPerInstance divides by (autoscaling). */
  setInstanceCount (instanceCount: number): void
}

/**
 * Creates the invocation metrics of one endpoint variant. Throws a `ConfigError` naming the
 * bad option. Latencies are recorded in microseconds as doubles, unrounded.
 *
 * Recorded at `end(statusCode)`, each as one sample: Invocations 1; Invocation4XXErrors and
 * Invocation5XXErrors 0 or 1 (so their Sum counts errors and their Average is the error rate);
 * InvocationsPerInstance `1 / instanceCount`; ModelLatency; OverheadLatency =
 * max(0, total − ModelLatency). ContainerLatency is recorded as each container call ends.
 */
export function createInvocationMetrics (options: InvocationMetricsOptions): InvocationMetrics {
  if (typeof options !== 'object' || options === null) throw invalidOption(`options must be an object (got ${describe(options)})`)
  checkOptionNames(options, kInvocationMetricsOptionNames, 'createInvocationMetrics')
  const { recorder } = options
  if (typeof recorder?.series !== 'function') throw invalidOption('options.recorder must have a series() method')
  const id = resolveIdentity({ endpointName: options.endpointName, variantName: options.variantName, env: options.env })
  const endpointName = namePart(requireIdentity(id.endpointName, 'endpointName'), 'options.endpointName')
  const variantName = namePart(id.variantName.value, 'options.variantName')
  const namespace = validateNamespace(options.namespace ?? kDefaultInvocationNamespace, 'options.namespace')
  const untimed = options.untimedModelLatency ?? 'total'
  if (untimed !== 'total' && untimed !== 'omit') {
    throw invalidOption(`options.untimedModelLatency must be 'total' or 'omit' (got ${describe(untimed)})`)
  }
  const nowUs = options.nowUs ?? kMicrosecondNow
  if (typeof nowUs !== 'function') throw invalidOption(`options.nowUs must be a function (got ${describe(nowUs)})`)

  const dimensions = Object.freeze({ [kDimensionEndpointName]: endpointName, [kDimensionVariantName]: variantName })
  const handle = (metric: InvocationMetricName, dims: Readonly<Record<string, string>> = dimensions): SeriesHandleLike =>
    recorder.series(metric, dims, { unit: kInvocationMetricUnits[metric], namespace })
  const h: Handles = {
    invocations: handle('Invocations'),
    err4xx: handle('Invocation4XXErrors'),
    err5xx: handle('Invocation5XXErrors'),
    perInstance: handle('InvocationsPerInstance'),
    model: handle('ModelLatency'),
    overhead: handle('OverheadLatency'),
    container: new Map(),
    containerHandle (name: string): SeriesHandleLike {
      let s = this.container.get(name)
      if (s === undefined) {
        // First use of a name not declared up front: validate and resolve once, then cached.
        s = handle('ContainerLatency', Object.freeze({ ...dimensions, [kDimensionContainerName]: namePart(name, 'containerName') }))
        this.container.set(name, s)
      }
      return s
    },
    instanceCount: 1,
    perInstanceValue: 1,
    untimedTotal: untimed === 'total',
  }
  if (options.containers !== undefined) {
    for (const name of resolveContainerNames(options.containers)) h.containerHandle(name)
  }

  const metrics: InvocationMetrics = {
    namespace,
    dimensions,
    get instanceCount () { return h.instanceCount },
    begin: () => new Context(h, nowUs),
    setInstanceCount (n: number) {
      if (!(Number.isSafeInteger(n) && n >= 1)) throw invalidOption(`instanceCount must be an integer >= 1 (got ${describe(n)})`)
      h.instanceCount = n
      h.perInstanceValue = 1 / n
    },
  }
  metrics.setInstanceCount(options.instanceCount ?? 1)
  return metrics
}

/** The resolved series and settings a {@link Context} records through. */
interface Handles {
  readonly invocations: SeriesHandleLike
  readonly err4xx: SeriesHandleLike
  readonly err5xx: SeriesHandleLike
  readonly perInstance: SeriesHandleLike
  readonly model: SeriesHandleLike
  readonly overhead: SeriesHandleLike
  readonly container: Map<string, SeriesHandleLike>
  containerHandle (name: string): SeriesHandleLike
  instanceCount: number
  perInstanceValue: number
  readonly untimedTotal: boolean
}

/**
 * One request. A class rather than an object literal of closures: one allocation with a
 * stable shape per request, and the methods live on the prototype.
 */
class Context implements InvocationContext {
  readonly startUs: number
  #h: Handles
  #now: MicrosecondClock
  #containerUs = 0
  #timed = false
  #modelUs = -1
  #ended = false

  constructor (h: Handles, now: MicrosecondClock) {
    this.#h = h
    this.#now = now
    this.startUs = now()
  }

  get ended (): boolean { return this.#ended }

  container (name: string): ContainerTimer {
    const series = this.#h.containerHandle(name)
    const start = this.#now()
    let us = -1
    return {
      end: () => {
        if (us < 0) {
          us = Math.max(0, this.#now() - start)
          this.#addContainer(series, us)
        }
        return us
      },
    }
  }

  time<T> (containerName: string, fn: () => T): T {
    const timer = this.container(containerName)
    let out: T
    try {
      out = fn()
    } catch (err) {
      timer.end()
      throw err
    }
    if (out !== null && typeof out === 'object' && typeof (out as { then?: unknown }).then === 'function') {
      return (out as unknown as PromiseLike<unknown>).then(
        (v) => { timer.end(); return v },
        (e: unknown) => { timer.end(); throw e },
      ) as unknown as T
    }
    timer.end()
    return out
  }

  containerLatency (name: string, microseconds: number): void {
    if (!(microseconds >= 0 && Number.isFinite(microseconds))) return // never throw on the request path
    this.#addContainer(this.#h.containerHandle(name), microseconds)
  }

  modelLatency (microseconds: number): void {
    if (!(microseconds >= 0 && Number.isFinite(microseconds))) return
    this.#modelUs = microseconds
  }

  end (statusCode: number): void {
    if (this.#ended) return
    this.#finish(statusCode >= 400 && statusCode < 500 ? 1 : 0, statusCode >= 500 && statusCode < 600 ? 1 : 0)
  }

  abort (): void {
    if (this.#ended) return
    this.#finish(0, 1)
  }

  #addContainer (series: SeriesHandleLike, us: number): void {
    series.record(us)
    // A container call that ends after the response (fire-and-forget) still gets its
    // ContainerLatency, but can no longer change the request's ModelLatency.
    if (!this.#ended) {
      this.#containerUs += us
      this.#timed = true
    }
  }

  #finish (is4xx: number, is5xx: number): void {
    this.#ended = true
    const h = this.#h
    const total = Math.max(0, this.#now() - this.startUs)
    h.invocations.record(1)
    h.err4xx.record(is4xx)
    h.err5xx.record(is5xx)
    h.perInstance.record(h.perInstanceValue)
    // ModelLatency: explicit value, else the containers' sum (pipeline containers run one
    // after another, so their sum is the model's share), else the untimed rule.
    const model = this.#modelUs >= 0 ? this.#modelUs : this.#timed ? this.#containerUs : h.untimedTotal ? total : -1
    if (model < 0) return
    h.model.record(model)
    h.overhead.record(total > model ? total - model : 0)
  }
}
