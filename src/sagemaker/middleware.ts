/**
 * Records the invocation metrics of HTTP requests: a `node:http` listener wrapper, an Express
 * middleware and a Fastify plugin. Express and Fastify are described by structural types, so
 * this module compiles and runs without either installed.
 *
 * Decisions, each with its reason:
 *
 * - **What is an invocation.** By default a request whose path is exactly `/invocations`
 *   (any query string, any method): that is the route SageMaker's InvokeEndpoint calls on a
 *   model container. `/ping` (the health check SageMaker polls) and
 *   `/execution-parameters` are not invocations, and neither is anything else; counting health
 *   checks would inflate Invocations and dilute the error rate. Pass `isInvocation` for
 *   servers whose predict route is elsewhere (`/predict`, `/v1/models/m:predict`).
 *   Any method counts: a `GET /invocations` was still aimed at the model, and its 405 is a
 *   4XX error the operator wants to see.
 * - **When a request ends.** At the response's `'finish'` (the last byte handed to the OS),
 *   with `res.statusCode`, which is SageMaker's "until it returns a response to the client".
 * - **Aborted requests** (`'close'` without `'finish'`: the peer went away before the response
 *   was complete) count as an invocation *and* a 5XX error by default. In front of a model
 *   container the peer is SageMaker's router (or a load balancer), and it drops a connection
 *   when its model timeout expires or it is failing itself; its client then gets a server
 *   error, and SageMaker counts one. The latencies are recorded too, up to the abort: a slow
 *   model that hit the timeout should show in ModelLatency's Maximum, not vanish from it.
 *   `abortedRequests: 'ignore'` drops such requests instead.
 *
 * The per-request context is reachable from handlers: {@link invocationContext}(req or res)
 * everywhere, `res.locals.minutely` in Express, `request.minutely` in Fastify.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { InvocationContext, InvocationMetrics } from './invocations.js'
import { describe } from './internal.js'
import { invalidOption } from '../errors.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/**
 * The property under which the context is attached to the request and response objects.
 * A registered symbol, so two copies of minutely in one process (a bundled and an installed
 * one) still find each other's contexts, and it never collides with a framework's own fields.
 */
export const kInvocationContext: unique symbol = Symbol.for('minutely.sagemaker.invocation')

/** The parts of a request the predicate reads. */
export interface RequestLike {
  /** The request target, e.g. `/invocations?x=1`. */
  url?: string
  /**
   * The target before any rewrite (Express routers strip their mount path from `url`;
   * Fastify rewrites too). Preferred over `url` when present.
   */
  originalUrl?: string
  /** The HTTP method. */
  method?: string
}

/** Decides whether a request is an invocation (see the module comment). */
export type InvocationPredicate = (req: RequestLike) => boolean

/**
 * The default predicate: the path (of `originalUrl`, else `url`) is exactly `/invocations`.
 * Allocates nothing. A custom predicate gets the framework's request object as is.
 */
export function isSageMakerInvocation (req: RequestLike): boolean {
  return pathIs(req.originalUrl ?? req.url, '/invocations')
}

/**
 * True when the path of `url` is exactly `path` (a query string may follow). Compares in
 * place rather than parsing a URL, so the per-request check builds no string.
 */
export function pathIs (url: string | undefined, path: string): boolean {
  if (url === undefined || !url.startsWith(path)) return false
  return url.length === path.length || url.charCodeAt(path.length) === 0x3f /* ? */
}

/** What to do with a request whose response never finished. */
export type AbortedRequests = 'count-as-5xx' | 'ignore'

/** Options of the middlewares. */
export interface MiddlewareOptions {
  /** Which requests are invocations. @default {@link isSageMakerInvocation} */
  isInvocation?: InvocationPredicate
  /** See the module comment. @default 'count-as-5xx' */
  abortedRequests?: AbortedRequests
}

const kMiddlewareOptionNames = optionNames<MiddlewareOptions>({ isInvocation: true, abortedRequests: true })

/** The parts of a response object the tracker uses (a `node:http` ServerResponse has them). */
export interface ResponseLike {
  /** The status sent (or to be sent). */
  statusCode: number
  /** True once the response was fully handed to the OS. */
  readonly writableFinished?: boolean
  /** Adds an event listener. */
  on (event: 'finish' | 'close', listener: () => void): unknown
}

type Tracked = ResponseLike & { [kInvocationContext]?: InvocationContext }

/**
 * Returns the invocation context attached to a request or response by one of the
 * middlewares, or `undefined` when the request is not an invocation.
 */
export function invocationContext (reqOrRes: object): InvocationContext | undefined {
  return (reqOrRes as { [kInvocationContext]?: InvocationContext })[kInvocationContext]
}

/**
 * The machinery the three adapters share: begins a context and records it when the response
 * finishes or closes. Its listeners are created once per middleware (not per request) and
 * read the context from the response, so tracking a request allocates no closure.
 */
export interface ResponseTracker {
  /** True when the request is an invocation. */
  readonly isInvocation: InvocationPredicate
  /** Begins a context, attaches it to `req` and `res`, and records it at finish/close. */
  track (req: object, res: ResponseLike): InvocationContext
}

/** Creates a {@link ResponseTracker}; validates the options (throws a `ConfigError`). */
export function createResponseTracker (metrics: InvocationMetrics, options: MiddlewareOptions = {}): ResponseTracker {
  if (typeof metrics?.begin !== 'function') throw invalidOption('metrics must come from createInvocationMetrics()')
  checkOptionNames(options, kMiddlewareOptionNames, 'the invocation metrics middleware')
  const isInvocation = options.isInvocation ?? isSageMakerInvocation
  if (typeof isInvocation !== 'function') throw invalidOption(`options.isInvocation must be a function (got ${describe(isInvocation)})`)
  const aborted = options.abortedRequests ?? 'count-as-5xx'
  if (aborted !== 'count-as-5xx' && aborted !== 'ignore') {
    throw invalidOption(`options.abortedRequests must be 'count-as-5xx' or 'ignore' (got ${describe(aborted)})`)
  }
  const countAborted = aborted === 'count-as-5xx'
  function onFinish (this: Tracked): void {
    this[kInvocationContext]?.end(this.statusCode)
  }
  function onClose (this: Tracked): void {
    const ctx = this[kInvocationContext]
    if (ctx === undefined || ctx.ended) return
    // 'close' after a completed write whose 'finish' we somehow missed still is a success.
    if (this.writableFinished === true) ctx.end(this.statusCode)
    else if (countAborted) ctx.abort()
  }
  return {
    isInvocation,
    track (req, res) {
      const ctx = metrics.begin()
      ;(req as { [kInvocationContext]?: InvocationContext })[kInvocationContext] = ctx
      ;(res as Tracked)[kInvocationContext] = ctx
      // `on` rather than `once`: `once` allocates a wrapper per call. The response object
      // lives for one request, so the listeners go with it.
      res.on('finish', onFinish)
      res.on('close', onClose)
      return ctx
    },
  }
}

/**
 * Wraps a `node:http` request listener: `http.createServer(withInvocationMetrics(metrics, handler))`.
 * Start timing as early as possible: this wrapper runs when the request head has been parsed,
 * before the body is read, so reading the body counts as overhead, as it does in SageMaker.
 */
export function withInvocationMetrics<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> (
  metrics: InvocationMetrics, listener: (req: Req, res: Res) => unknown, options?: MiddlewareOptions,
): (req: Req, res: Res) => void {
  if (typeof listener !== 'function') throw invalidOption(`listener must be a function (got ${describe(listener)})`)
  const tracker = createResponseTracker(metrics, options)
  return function minutelyInvocationListener (req: Req, res: Res): void {
    if (tracker.isInvocation(req)) tracker.track(req, res)
    void listener(req, res)
  }
}

/** The parts of an Express request the middleware reads. */
export interface ExpressRequestLike extends RequestLike {}

/** The parts of an Express response the middleware uses. */
export interface ExpressResponseLike extends ResponseLike {
  /** Per-request locals; the context is put at `locals.minutely`. */
  locals: Record<string, unknown>
}

/** An Express middleware function. */
export type ExpressMiddlewareLike = (req: ExpressRequestLike, res: ExpressResponseLike, next: (err?: unknown) => void) => void

/**
 * An Express middleware: `app.use(expressInvocationMetrics(metrics))`, registered before body
 * parsers so body parsing counts as overhead. It checks `originalUrl` (what the client asked
 * for), because a router mounted at a path rewrites `req.url`. Handlers reach the context as
 * `res.locals.minutely`.
 */
export function expressInvocationMetrics (metrics: InvocationMetrics, options?: MiddlewareOptions): ExpressMiddlewareLike {
  const tracker = createResponseTracker(metrics, options)
  return function minutelyInvocationMiddleware (req, res, next) {
    if (tracker.isInvocation(req)) res.locals.minutely = tracker.track(req, res)
    next()
  }
}

/** The parts of a Fastify request the plugin uses. */
export interface FastifyRequestLike extends RequestLike {
  /** The request URL. */
  url: string
  /** The method. */
  method: string
  /** The node:http request. */
  raw: object
  /** The context, set by the plugin for invocations (null otherwise). */
  minutely?: InvocationContext | null
}

/** The parts of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  /** The node:http response. */
  raw: ResponseLike
}

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  /** Declares a request property (keeps request objects one shape in V8). */
  decorateRequest (name: string, value: unknown): unknown
  /** True when a request decorator exists (the plugin registered twice). */
  hasRequestDecorator? (name: string): boolean
  /** Adds a hook. */
  addHook (name: 'onRequest', hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: (err?: Error) => void) => void): unknown
}

/** A Fastify plugin function, marked to skip encapsulation (as `fastify-plugin` does). */
export type FastifyPluginLike = ((instance: FastifyInstanceLike, opts: unknown, done: (err?: Error) => void) => void) & {
  [key: symbol]: unknown
}

/**
 * A Fastify plugin: `await app.register(fastifyInvocationMetrics(metrics))`. It sets
 * `Symbol.for('skip-override')` as `fastify-plugin` would, so its hook applies to the whole
 * application rather than only to routes registered inside the plugin. It tracks `reply.raw`
 * (the node:http response) in `onRequest`, the earliest hook, so the same finish/close rules
 * apply as for the other adapters. Handlers reach the context as `request.minutely`.
 */
export function fastifyInvocationMetrics (metrics: InvocationMetrics, options?: MiddlewareOptions): FastifyPluginLike {
  const tracker = createResponseTracker(metrics, options)
  const plugin = function minutelyInvocationPlugin (instance: FastifyInstanceLike, _opts: unknown, done: (err?: Error) => void): void {
    if (instance.hasRequestDecorator?.('minutely') !== true) instance.decorateRequest('minutely', null)
    instance.addHook('onRequest', (request, reply, next) => {
      if (tracker.isInvocation(request)) request.minutely = tracker.track(request.raw, reply.raw)
      next()
    })
    done()
  } as FastifyPluginLike
  plugin[Symbol.for('skip-override')] = true
  plugin[Symbol.for('fastify.display-name')] = 'minutely-sagemaker-invocations'
  plugin[Symbol.for('plugin-meta')] = { name: 'minutely-sagemaker-invocations', fastify: '>=4' }
  return plugin
}
