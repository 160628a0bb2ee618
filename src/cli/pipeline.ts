/**
 * `minutely pipeline`: a SageMaker inference pipeline in front of real model containers.
 *
 *   minutely pipeline --port 8080 --container http://127.0.0.1:9001 --container http://127.0.0.1:9002 \
 *     [--container-name NAME ...] --endpoint-name E [--variant-name V] [--instance-count N] \
 *     [sink, instance-metric and log flags] [-- cmd args [-- cmd args ...]]
 *
 * It serves `POST /invocations` and `GET /ping` like a SageMaker container. The request body
 * goes to the first container's `/invocations`, its response body (and content type) to the
 * next, and the last response returns to the caller with its status and content type. It
 * records the endpoint invocation metrics of the seed (Invocations, Invocation4XXErrors,
 * Invocation5XXErrors, InvocationsPerInstance, ModelLatency, OverheadLatency, and
 * ContainerLatency per container) with `EndpointName, VariantName` (+ `ContainerName`).
 *
 * Decisions, each with its reason:
 *
 * - **Errors end the chain.** A container that answers 4xx or 5xx ends it: the caller gets
 *   that status, body and content type (the model's verdict, as SageMaker reports the
 *   container's status in Invocation4XX/5XXErrors), plus `x-minutely-container: <name>`.
 *   A container that cannot be reached (refused, reset, closed before answering) gives
 *   **502**; one that does not answer within `--container-timeout-ms` gives **504**; a status
 *   that is neither 2xx, 4xx nor 5xx gives 502. Errors made by the proxy carry a JSON body
 *   `{"error": code, "container": name, "message": …}`. A body over `--max-body-bytes` gets
 *   413 and a method other than POST 405 (both counted as 4XX: the client erred). A caller
 *   that goes away mid-chain cancels the container call and counts as a 5XX (the middleware's
 *   rule for aborted requests).
 * - **Timing.** ContainerLatency is each call, from sending the request to having read the
 *   whole response, failed calls included (up to the failure or the timeout), so a slow or
 *   dead container shows in its Maximum. ModelLatency is their sum; OverheadLatency the
 *   request's total time in the proxy (from its head being parsed to the response being
 *   written) minus ModelLatency.
 * - **Timeouts.** `--container-timeout-ms` (default 60 s, SageMaker's model timeout) bounds
 *   each container call as a whole. `/ping` gives each container `--ping-timeout-ms`
 *   (default 2 s, what SageMaker allows a container to answer a ping).
 * - **`/ping` is 200 only when every container's `/ping` answers 200** (within the ping
 *   timeout) and every process the proxy runs is alive; otherwise 503. The body is JSON with
 *   each container's state, so a failing health check says which container failed. A
 *   pipeline cannot serve while any of its containers is down, so a partial 200 would only
 *   route traffic to certain 502s.
 * - **Keep-alive** to the containers; a call that fails on a reused idle socket before any
 *   response (the container closed it) is retried once on a new connection, as Node's docs
 *   recommend for `req.reusedSocket`.
 * - **Shutdown** like the sidecar: SIGTERM/SIGINT stops accepting requests, lets those in
 *   flight finish, stops the model server processes (SIGTERM, SIGKILL after
 *   `--stop-timeout-ms`), then delivers their last log lines and seals and publishes every
 *   metric within `--close-timeout-ms`; exit 0, or 1 when something could not be delivered.
 *   A second signal exits at once.
 * - **A model server that ends** (exits, is killed, or cannot be started) ends the proxy, as
 *   a container entrypoint would: it is logged at error level, `/ping` answers 503, everything
 *   is published, and the proxy exits with that server's status (128 + signal when killed,
 *   127 when the program was not found). `--restart-model-servers` restarts it with backoff
 *   instead (`/ping` is 503 while it is down).
 * - **Start-up checks.** With a CloudWatch sink (metrics or logs), the region and credentials
 *   are resolved before the proxy listens; when either is missing it exits 2 with a line that
 *   says what to set.
 *
 * Commands after `--` (one group per container, in order, groups separated by `--`) are run
 * and their stdout/stderr shipped to CloudWatch Logs; see `src/logs/`. An empty group
 * (`-- a -- -- c`) or fewer groups than containers leave those containers to run elsewhere.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Aggregator, CloseResult } from '../core/aggregator.js'
import type { Clock } from '../core/clock.js'
import { ConfigError, MetricsError, invalidOption as invalid, type MetricsErrorCode, type SinkError } from '../errors.js'
import { startContainerLogs, kLogSettings, checkLogSettings, logSinkFromSettings, modelServerEndLine, type ContainerLogs } from './container-logs.js'
import type { LogShipperStats } from '../logs/shipper.js'
import type { LogSink } from '../logs/sink.js'
import { createInvocationMetrics, type InvocationMetrics } from '../sagemaker/invocations.js'
import { invocationContext, pathIs, withInvocationMetrics } from '../sagemaker/middleware.js'
import { kDefaultInvocationNamespace, resolveContainerNames } from '../sagemaker/presets.js'
import type { InstanceMetrics } from '../sagemaker/collectors/instance.js'
import type { MetricSink } from '../sinks/sink.js'
import { helpText, kSettings, parseCommandLine, resolveSettings, setting, uniqueFlags, unknownVariables, type CamelCase, type SettingsOf, type TypedSetting } from './config.js'
import { kVersion } from '../status/version.js'
import { kInstanceSettings, startInstanceMetricsFromSettings } from './instance-settings.js'
import { aggregatorFromSettings, checkSinks, publishErrorLine, sinkFromSettings } from './sidecar.js'

/** The sidecar settings the pipeline shares: where metrics go and how the engine aggregates. */
export const kSharedSinkFlags = [
  'sink', 'namespace', 'region', 'cloudwatch-endpoint', 'no-compression', 'max-dimensions', 'max-series',
  'grace-ms', 'precision-bits', 'close-timeout-ms', 'max-queued-bytes', 'spool-dir', 'spool-max-bytes', 'checkpoint-interval-ms',
] as const

/** SageMaker's InvokeEndpoint payload limit: 6 MB. */
export const kDefaultMaxPayloadBytes = 6 * 1024 * 1024

/** The sidecar's setting of a flag (its key is the flag's camelCase). */
type SidecarSetting<F extends string> = Extract<(typeof kSettings)[number], TypedSetting<CamelCase<F>, unknown>>

/** The sidecar's setting of `flag`, with another help line (and default) for the pipeline; none when the sidecar has no such flag. */
function reuse<const F extends string> (flag: F, overrides: { help?: string, default?: string | number | boolean } = {}): Array<SidecarSetting<F>> {
  return kSettings.filter((x): x is SidecarSetting<F> => x.flag === flag).map(x => ({ ...x, ...overrides }))
}

/** Every setting of `minutely pipeline`: its own, then the sidecar's sink settings, instance metrics, logs. */
export const kPipelineSettings = uniqueFlags([
  setting({ flag: 'port', env: 'MINUTELY_PORT', type: 'integer', min: 0, max: 65535, default: 8080, help: 'port serving POST /invocations and GET /ping (0: any free port)' }),
  ...reuse('bind', { help: 'address the proxy binds (0.0.0.0 to serve other hosts, as a SageMaker container does)' }),
  setting({ flag: 'container', env: 'MINUTELY_CONTAINERS', type: 'list', help: 'base URL of a pipeline container (http://host:port), in pipeline order; repeat the flag' }),
  setting({ flag: 'container-name', env: 'MINUTELY_CONTAINER_NAMES', type: 'list', help: 'name of the container at the same position; missing, empty or "-": container-N' }),
  setting({ flag: 'instance-count', env: 'MINUTELY_INSTANCE_COUNT', type: 'integer', default: 1, help: 'active instances of the variant: InvocationsPerInstance records 1/N a request' }),
  setting({ flag: 'container-timeout-ms', env: 'MINUTELY_CONTAINER_TIMEOUT_MS', type: 'integer', default: 60_000, help: 'a container call (request to whole response) that takes longer fails with 504' }),
  setting({ flag: 'ping-timeout-ms', env: 'MINUTELY_PING_TIMEOUT_MS', type: 'integer', default: 2000, help: 'how long each container\'s /ping may take' }),
  ...reuse('max-body-bytes', { default: kDefaultMaxPayloadBytes, help: 'largest request (413 above) and container response (502 above) body' }),
  ...kSharedSinkFlags.flatMap(f => reuse(f, f === 'namespace'
    ? { default: kDefaultInvocationNamespace, help: 'CloudWatch namespace of the invocation metrics (must not start with AWS/)' }
    : {})),
  ...kInstanceSettings,
  ...kLogSettings,
  // A JSON file of any of these settings keyed by flag name, when the sidecar's table has it.
  ...reuse('config'),
])

/** The resolved settings of `minutely pipeline`, typed from {@link kPipelineSettings}. */
export type PipelineSettings = SettingsOf<typeof kPipelineSettings>

/** Splits argv at the first `--`: options before it, then command groups separated by `--`. */
export function splitCommandGroups (argv: readonly string[]): { options: string[], commands: string[][] } {
  const at = argv.indexOf('--')
  if (at < 0) return { options: [...argv], commands: [] }
  const commands: string[][] = [[]]
  for (const a of argv.slice(at + 1)) {
    if (a === '--') commands.push([])
    else commands[commands.length - 1].push(a)
  }
  return { options: argv.slice(0, at), commands }
}

/** One pipeline container. */
export interface PipelineContainer {
  readonly name: string
  readonly url: string
  /** The command the proxy runs for it, if any. */
  readonly command: readonly string[] | undefined
}

/** Dependencies of {@link startPipeline} (tests inject sinks and a clock). */
export interface PipelineDeps {
  /** Overrides the metric sink chosen by `--sink`. */
  sink?: MetricSink
  /** Overrides the log sink chosen by `--log-sink`. */
  logSink?: LogSink
  clock?: Clock
  /** Where the proxy says what it does. @default stderr */
  log?: (line: string) => void
  env?: NodeJS.ProcessEnv
}

/** What `close()` resolves to. */
export interface PipelineCloseResult {
  metrics: CloseResult
  logs: { eventsUnsent: number, stats: LogShipperStats | undefined }
}

/** A running pipeline proxy. */
export interface Pipeline {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly settings: PipelineSettings
  readonly aggregator: Aggregator
  readonly metrics: InvocationMetrics
  readonly containers: readonly PipelineContainer[]
  readonly logs: ContainerLogs | undefined
  readonly instance: InstanceMetrics | undefined
  /** Stops serving, stops the processes, delivers logs and metrics. Idempotent. */
  close (): Promise<PipelineCloseResult>
}

/** Resolves the containers from the settings and command groups; throws a ConfigError naming the flag. */
export function resolveContainers (s: Pick<PipelineSettings, 'container' | 'containerName'>, commands: readonly string[][] = []): PipelineContainer[] {
  const urls = s.container
  if (urls.length === 0) throw invalid('--container is required: the base URL of each pipeline container, in order (repeat the flag)')
  const given = s.containerName
  if (given.length > urls.length) throw invalid(`--container-name was given ${given.length} times for ${urls.length} --container`)
  if (commands.length > urls.length) throw invalid(`${commands.length} commands after -- for ${urls.length} --container: give at most one command group per container`)
  let names: string[]
  try {
    names = resolveContainerNames(urls.map((_, i) => given[i] === '-' ? undefined : given[i]))
  } catch (err) {
    throw invalid(`--container-name: ${(err as Error).message.replace(/^containers\[(\d+)\]/, (_, i: string) => `the name of container ${Number(i) + 1}`)}`)
  }
  return urls.map((raw, i) => {
    let u: URL
    try { u = new URL(raw) } catch { throw invalid(`--container ${JSON.stringify(raw)} is not a URL (expected http://host:port)`) }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`--container ${JSON.stringify(raw)} must be an http:// or https:// URL`)
    const cmd = commands[i]
    return { name: names[i], url: u.href.replace(/\/+$/, ''), command: cmd !== undefined && cmd.length > 0 ? cmd : undefined }
  })
}

/** A container call ran past `--container-timeout-ms` (or a ping past `--ping-timeout-ms`): 504. */
class ContainerTimeout extends MetricsError {
  override name = 'ContainerTimeout'
  constructor () { super('the container did not answer in time', 'METRICS_ERR_TIMEOUT') }
}

/** The caller went away mid-request: the container call is cancelled, nothing is answered. */
class CallerGone extends MetricsError {
  override name = 'CallerGone'
  constructor () { super('the caller closed the connection', 'METRICS_ERR_CLOSED') }
}

/** A request (413) or a container's response (502) over `--max-body-bytes`. */
class ResponseTooLarge extends MetricsError {
  override name = 'ResponseTooLarge'
  constructor () { super('the body is larger than --max-body-bytes', 'METRICS_ERR_TOO_LARGE') }
}

/** Whether `err` is a minutely error with `code` (matched on the code, not the class). */
function hasCode (err: unknown, code: MetricsErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}

interface ContainerResponse { status: number, contentType: string | undefined, customAttributes: string | undefined, body: Buffer }

const kRetryableSocketErrors = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])

/** Reads a request body up to `max` bytes; rejects with ResponseTooLarge past it. */
function readBody (req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > max) { reject(new ResponseTooLarge()); return }
    const chunks: Buffer[] = []
    let n = 0
    req.on('data', (c: Buffer) => {
      n += c.length
      if (n > max) { reject(new ResponseTooLarge()); req.removeAllListeners('data'); req.resume(); return }
      chunks.push(c)
    })
    req.on('end', () => { resolve(Buffer.concat(chunks, n)) })
    req.on('error', reject)
    req.on('aborted', () => { reject(new CallerGone()) })
  })
}

function header (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

/** Starts the proxy (and the processes after `--`). Throws a ConfigError for bad settings. */
export async function startPipeline (s: PipelineSettings, commands: readonly string[][] = [], deps: PipelineDeps = {}): Promise<Pipeline> {
  const log = deps.log ?? ((line: string) => { process.stderr.write(line + '\n') })
  const containers = resolveContainers(s, commands)
  const timeoutMs = s.containerTimeoutMs
  const pingTimeoutMs = s.pingTimeoutMs
  const maxBody = s.maxBodyBytes
  if (!(timeoutMs >= 1)) throw invalid(`--container-timeout-ms must be at least 1; got ${String(timeoutMs)}`)
  if (!(pingTimeoutMs >= 1)) throw invalid(`--ping-timeout-ms must be at least 1; got ${String(pingTimeoutMs)}`)
  if (!(s.instanceCount >= 1)) throw invalid(`--instance-count must be at least 1; got ${String(s.instanceCount)}`)
  const runs = containers.some(c => c.command !== undefined)
  if (runs) checkLogSettings(s)

  const sink = deps.sink ?? sinkFromSettings(s)
  const logSink = runs ? deps.logSink ?? logSinkFromSettings(s) : undefined
  // Region and credentials are resolved before the proxy listens: a mistake ends start-up (exit 2).
  await checkSinks([sink, logSink], kPipelineSettings, log, deps.env)
  const aggregator = aggregatorFromSettings(s, sink, deps.clock, log, kPipelineSettings)
  aggregator.on('error', (e: SinkError) => { log(publishErrorLine(e)) })

  let metrics: InvocationMetrics
  let instance: InstanceMetrics | undefined
  let logs: ContainerLogs | undefined
  try {
    try {
      metrics = createInvocationMetrics({
        recorder: aggregator,
        endpointName: s.endpointName,
        variantName: s.variantName,
        instanceCount: s.instanceCount,
        namespace: s.namespace,
        containers: containers.map(c => c.name),
        env: deps.env,
      })
    } catch (err) {
      if (err instanceof ConfigError) {
        throw invalid(err.message.replace(/options\.endpointName is required: pass it, or set/, '--endpoint-name is required: pass it, or set')
          .replace('options.endpointName', '--endpoint-name').replace('options.variantName', '--variant-name').replace('options.namespace', '--namespace'))
      }
      throw err
    }
    instance = startInstanceMetricsFromSettings(s, aggregator, log)
    logs = startContainerLogs(s, containers.map(c => ({ name: c.name, command: c.command })), { logSink, log, env: deps.env })
  } catch (err) {
    instance?.stop()
    await aggregator.close()
    throw err
  }

  const agent = new http.Agent({ keepAlive: true })
  const tlsAgent = new https.Agent({ keepAlive: true })
  const procByName = new Map((logs?.processes ?? []).map(p => [p.name, p]))

  /** One call into a container, retried once when a reused keep-alive socket turns out dead. */
  function call (url: string, method: 'POST' | 'GET', body: Buffer | undefined, headers: OutgoingHttpHeaders,
    limitMs: number, signal: AbortSignal | undefined, maxBytes: number): Promise<ContainerResponse> {
    const deadline = Date.now() + limitMs
    const once = (retry: boolean): Promise<ContainerResponse> => new Promise<ContainerResponse>((resolve, reject) => {
      const isTls = url.startsWith('https:')
      const req = (isTls ? https : http).request(url, { method, headers, agent: isTls ? tlsAgent : agent })
      let gotResponse = false
      // Why we gave up, when we did. The request is destroyed WITHOUT an error: a keep-alive
      // socket may already be back in the agent's pool (a complete response in one packet),
      // where an error event has no listener. We settle with the cause ourselves.
      let cause: Error | undefined
      let response: IncomingMessage | undefined
      let settled = false
      const done = (): boolean => {
        if (settled) return false
        settled = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        return true
      }
      const fail = (e: Error): void => { if (done()) reject(cause ?? e) }
      const giveUp = (e: Error): void => {
        if (cause !== undefined) return
        cause = e
        fail(e)
        response?.destroy()
        req.destroy()
      }
      const timer = setTimeout(() => { giveUp(new ContainerTimeout()) }, Math.max(1, deadline - Date.now()))
      const onAbort = (): void => { giveUp(new CallerGone()) }
      signal?.addEventListener('abort', onAbort, { once: true })
      req.on('response', (res) => {
        gotResponse = true
        response = res
        const chunks: Buffer[] = []
        let n = 0
        res.on('data', (c: Buffer) => {
          n += c.length
          if (cause !== undefined) return
          if (n > maxBytes) { giveUp(new ResponseTooLarge()); return }
          chunks.push(c)
        })
        res.on('end', () => {
          if (cause !== undefined) { fail(cause); return }
          if (!done()) return
          resolve({
            status: res.statusCode ?? 502,
            contentType: header(res.headers['content-type']),
            customAttributes: header(res.headers['x-amzn-sagemaker-custom-attributes']),
            body: Buffer.concat(chunks, n),
          })
        })
        res.on('error', fail)
        res.on('aborted', () => { fail(Object.assign(new Error('the container closed the connection mid-response'), { code: 'ECONNRESET' })) })
      })
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (cause === undefined && retry && !gotResponse && req.reusedSocket && e.code !== undefined && kRetryableSocketErrors.has(e.code) && Date.now() < deadline) {
          if (!done()) return
          once(false).then(resolve, reject)
          return
        }
        fail(e)
      })
      if (signal?.aborted === true) { giveUp(new CallerGone()); return }
      req.end(body)
    })
    return once(true)
  }

  function send (res: ServerResponse, status: number, body: Buffer | string, contentType: string | undefined, extra: OutgoingHttpHeaders = {}): void {
    if (res.headersSent || res.destroyed) return
    const headers: OutgoingHttpHeaders = { ...extra, 'content-length': Buffer.byteLength(body) }
    if (contentType !== undefined) headers['content-type'] = contentType
    res.writeHead(status, headers)
    res.end(body)
  }

  function sendError (res: ServerResponse, status: number, error: string, container: string | undefined, message: string, extra: OutgoingHttpHeaders = {}): void {
    const doc: Record<string, string> = { error }
    if (container !== undefined) doc.container = container
    doc.message = message
    send(res, status, JSON.stringify(doc), 'application/json', container !== undefined ? { ...extra, 'x-minutely-container': container } : extra)
  }

  let inFlight = 0
  let drained: (() => void) | undefined

  async function invoke (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = invocationContext(req)!
    let body: Buffer
    try {
      body = await readBody(req, maxBody)
    } catch (err) {
      if (hasCode(err, 'METRICS_ERR_TOO_LARGE')) {
        sendError(res, 413, 'payload_too_large', undefined, `the request body is larger than ${maxBody} bytes (--max-body-bytes)`, { connection: 'close' })
      }
      return
    }
    let contentType = header(req.headers['content-type'])
    const accept = header(req.headers.accept)
    const custom = header(req.headers['x-amzn-sagemaker-custom-attributes'])
    const gone = new AbortController()
    res.on('close', () => { if (!res.writableFinished) gone.abort() })
    let last: ContainerResponse | undefined
    for (const c of containers) {
      const headers: OutgoingHttpHeaders = { 'content-length': body.length }
      if (contentType !== undefined) headers['content-type'] = contentType
      if (accept !== undefined) headers.accept = accept
      if (custom !== undefined) headers['x-amzn-sagemaker-custom-attributes'] = custom
      const timer = ctx.container(c.name)
      try {
        last = await call(c.url + '/invocations', 'POST', body, headers, timeoutMs, gone.signal, maxBody)
      } catch (err) {
        timer.end()
        if (gone.signal.aborted || hasCode(err, 'METRICS_ERR_CLOSED')) return
        if (hasCode(err, 'METRICS_ERR_TIMEOUT')) {
          sendError(res, 504, 'container_timeout', c.name, `${c.name} did not answer within ${timeoutMs} ms (--container-timeout-ms)`)
        } else if (hasCode(err, 'METRICS_ERR_TOO_LARGE')) {
          sendError(res, 502, 'container_response_too_large', c.name, `${c.name} answered more than ${maxBody} bytes (--max-body-bytes)`)
        } else {
          const e = err as NodeJS.ErrnoException
          sendError(res, 502, 'container_unreachable', c.name, `${c.name} at ${c.url} could not be reached: ${e.code ?? e.name}: ${e.message}`)
        }
        return
      }
      timer.end()
      if (last.status >= 200 && last.status < 300) {
        body = last.body
        contentType = last.contentType
        continue
      }
      if (last.status >= 400 && last.status < 600) {
        send(res, last.status, last.body, last.contentType, { 'x-minutely-container': c.name })
      } else {
        sendError(res, 502, 'container_bad_status', c.name, `${c.name} answered HTTP ${last.status}, which a model container must not`)
      }
      return
    }
    const extra: OutgoingHttpHeaders = last?.customAttributes !== undefined ? { 'x-amzn-sagemaker-custom-attributes': last.customAttributes } : {}
    send(res, last?.status ?? 200, body, contentType, extra)
  }

  async function ping (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const states = await Promise.all(containers.map(async (c) => {
      const p = procByName.get(c.name)
      if (p !== undefined && !p.running) {
        const x = p.lastExit
        return { name: c.name, healthy: false, state: x === undefined ? 'starting' : `process exited (${x.signal ?? `code ${String(x.code)}`})` }
      }
      try {
        const r = await call(c.url + '/ping', 'GET', undefined, {}, pingTimeoutMs, undefined, 64 * 1024)
        return { name: c.name, healthy: r.status === 200, state: `HTTP ${r.status}` }
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        return { name: c.name, healthy: false, state: hasCode(err, 'METRICS_ERR_TIMEOUT') ? `no answer within ${pingTimeoutMs} ms` : `unreachable (${e.code ?? e.message})` }
      }
    }))
    const healthy = states.every(x => x.healthy)
    const doc = JSON.stringify({ status: healthy ? 'healthy' : 'unhealthy', containers: states })
    if (req.method === 'HEAD') { res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(); return }
    send(res, healthy ? 200 : 503, doc, 'application/json')
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (pathIs(req.url, '/invocations')) {
      if (req.method !== 'POST') {
        req.resume()
        sendError(res, 405, 'method_not_allowed', undefined, `${String(req.method)} /invocations: use POST`, { allow: 'POST' })
        return
      }
      inFlight++
      try {
        await invoke(req, res)
      } finally {
        if (--inFlight === 0) drained?.()
      }
      return
    }
    req.resume()
    if (pathIs(req.url, '/ping')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') { sendError(res, 405, 'method_not_allowed', undefined, 'use GET /ping', { allow: 'GET, HEAD' }); return }
      await ping(req, res)
      return
    }
    sendError(res, 404, 'not_found', undefined, `${String(req.method)} ${String(req.url)}: this proxy serves POST /invocations and GET /ping`)
  }

  const server = http.createServer(withInvocationMetrics(metrics, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`proxy: ${String((err as Error)?.stack ?? err)}`)
      if (!res.headersSent) sendError(res, 500, 'proxy_error', undefined, 'the proxy failed on this request')
      else res.destroy()
    })
  }))
  const host = s.bind
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(s.port, host, () => { server.off('error', reject); resolve() })
    })
  } catch (err) {
    instance?.stop()
    await Promise.all([logs?.stop(1000), aggregator.close()])
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE') throw invalid(`port ${String(s.port)} on ${host} is in use: pass --port with a free port (0 picks one)`)
    throw err
  }
  const port = (server.address() as AddressInfo).port
  const closeTimeoutMs = s.closeTimeoutMs

  let closing: Promise<PipelineCloseResult> | undefined
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    settings: s,
    aggregator,
    metrics,
    containers,
    logs,
    instance,
    close () {
      closing ??= (async () => {
        const serverClosed = new Promise<void>(resolve => { server.close(() => { resolve() }) })
        server.closeIdleConnections()
        if (inFlight > 0) {
          let t: NodeJS.Timeout | undefined
          await Promise.race([
            new Promise<void>(resolve => { drained = resolve }),
            new Promise<void>(resolve => { t = setTimeout(resolve, closeTimeoutMs) }),
          ])
          clearTimeout(t)
        }
        server.closeAllConnections()
        await serverClosed
        instance?.stop()
        const [logsResult, metricsResult] = await Promise.all([
          logs?.stop(closeTimeoutMs) ?? Promise.resolve({ eventsUnsent: 0, stats: undefined }),
          aggregator.close(),
        ])
        agent.destroy()
        tlsAgent.destroy()
        return { metrics: metricsResult, logs: logsResult }
      })()
      return closing
    },
  }
}

const kSummary = `usage: minutely pipeline --container URL [--container URL ...] [--container-name NAME ...]
                         --endpoint-name E [--variant-name V] [--instance-count N] [options]
                         [-- cmd args [-- cmd args ...]]

Serves POST /invocations and GET /ping like a SageMaker container in front of an inference
pipeline: the request goes through each container's /invocations in order, and the endpoint
invocation metrics (Invocations, Invocation4XXErrors, Invocation5XXErrors,
InvocationsPerInstance, ModelLatency, OverheadLatency, ContainerLatency) are published each
minute. Commands after -- (one per container, separated by --) are run, and their stdout and
stderr shipped to CloudWatch Logs: group /aws/sagemaker/Endpoints/<endpoint>, stream
<variant>/<instance-id>/<container>.`

/**
 * The `minutely pipeline` command: parses, starts, and shuts down on SIGTERM/SIGINT.
 * `knownVariables`: the MINUTELY_* variables other commands read, not warned about.
 */
export async function runPipelineCli (argv: readonly string[], log: (line: string) => void, knownVariables: Iterable<string> = []): Promise<void> {
  const { options, commands } = splitCommandGroups(argv)
  const flags = parseCommandLine('pipeline', kPipelineSettings, options)
  if (flags.version === true) {
    process.stdout.write(`${kVersion !== '' ? kVersion : 'unknown'}\n`)
    return
  }
  if (flags.help === true) {
    process.stdout.write(helpText('pipeline', kSummary, kPipelineSettings).replace(/^usage: minutely pipeline \[options\]\n\n/, '') + '\n')
    return
  }
  const settings = resolveSettings(kPipelineSettings, flags, process.env)
  for (const w of unknownVariables('pipeline', kPipelineSettings, process.env, knownVariables)) log(`warning: ${w}`)
  // Signals first (a SIGTERM during start-up is honoured once started), then the ready line:
  // a supervisor that signals on "listening" gets a clean shutdown.
  let p: Pipeline | undefined
  let stopping: string | undefined
  let closing = false
  /** The status to exit with when a model server ended (its own), instead of 0/1. */
  let status: number | undefined
  const stop = (signal: string): void => {
    if (closing) { log(`${signal} again: exiting without waiting`); process.exit(130) }
    stopping = signal
    if (p === undefined) return // still starting: stopped as soon as it is up
    closing = true
    const pipeline = p
    log(`${signal}: draining requests, stopping model servers, publishing everything (deadline ${String(settings.closeTimeoutMs)} ms)`)
    pipeline.close().then(r => {
      const st = pipeline.aggregator.stats()
      const ls = r.logs.stats
      log(`closed: ${st.samplesAccepted} samples accepted, ${st.samplesRejected} rejected, ${st.datumsPublished} datums published in ${st.requestsSucceeded} requests` +
        (ls !== undefined ? `; ${ls.eventsSent} log events sent in ${ls.requestsSent} requests` : '') +
        (r.metrics.datumsPending > 0 ? `; ${r.metrics.datumsPending} datums could NOT be published within --close-timeout-ms (${String(settings.closeTimeoutMs)} ms)` : '') +
        (r.logs.eventsUnsent > 0 ? `; ${r.logs.eventsUnsent} log events could NOT be delivered` : ''))
      const lost = r.metrics.datumsPending > 0 || r.logs.eventsUnsent > 0
      process.exit(status !== undefined && status !== 0 ? status : lost ? 1 : 0)
    }, (err: unknown) => { log(`close failed: ${String(err)}`); process.exit(status !== undefined && status !== 0 ? status : 1) })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  p = await startPipeline(settings, commands, { log })
  log(`minutely pipeline: listening on ${p.url} (POST /invocations, GET /ping) · ${p.containers.map(c => `${c.name}=${c.url}`).join(' → ')} · ` +
    `endpoint ${p.metrics.dimensions.EndpointName}/${p.metrics.dimensions.VariantName} · sink ${String(settings.sink)} · namespace ${p.metrics.namespace}`)
  if (stopping !== undefined) stop(stopping)
  // Like a container entrypoint: a model server that ends for good ends the proxy, with its status.
  void p.logs?.ended.then(e => {
    if (closing) return
    status = e.exitCode
    log(modelServerEndLine(e))
    stop(`model server ${e.name} ended`)
  })
}
