/**
 * The sidecar: the engine plus its listeners, as one object the CLI (and tests) start and stop.
 */
import { createAggregator, type Aggregator, type CloseResult } from '../core/aggregator.js'
import { availableParallelism } from 'node:os'
import { invalidOption } from '../errors.js'
import { startHttpListener, type HttpListener } from '../listeners/http.js'
import { cloudWatchSink } from '../sinks/cloudwatch.js'
import { emfSink } from '../sinks/emf.js'
import { inMemorySink } from '../sinks/in-memory.js'
import type { MetricSink } from '../sinks/sink.js'
import type { Clock } from '../core/clock.js'
import { IngestPool, kSidecarBatchBytes } from '../ingest/pool.js'
import { startStatsdListener, type StatsdListener } from '../listeners/statsd.js'
import { startEmfListener, type EmfListener } from '../listeners/emf-agent.js'
import { kSettings, flagError, flagText, setting, uniqueFlags, type EngineSettings, type Setting, type SettingsOf, type SinkSettings } from './config.js'
import { readFileSync } from 'node:fs'
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { systemClock } from '../core/clock.js'
import { timedSink } from '../status/publish-timing.js'
import { statusRoutes } from '../status/routes.js'
import { startSelfMetrics, type SelfMetrics } from '../status/self-metrics.js'
import { kInstanceSettings, startInstanceMetricsFromSettings } from './instance-settings.js'
import type { InstanceMetrics } from '../sagemaker/collectors/instance.js'
import { kLogSettings, logSinkFromSettings, startContainerLogs, type ContainerLogs } from './container-logs.js'
import type { LogSink } from '../logs/sink.js'
import { resolveContainerNames } from '../sagemaker/presets.js'
import { healthOf, type Health } from '../status/health.js'
import type { SinkError } from '../errors.js'
import { kMinSecretLength } from './logger.js'

export interface SidecarDeps {
  /** Overrides the sink chosen by `--sink`. */
  sink?: MetricSink
  /** Overrides the log sink chosen by `--log-sink` (for the model servers' lines). */
  logSink?: LogSink
  clock?: Clock
  /** Where the sidecar writes what it does (one line each). @default stderr */
  log?: (line: string) => void
  /** Model server commands to run (the groups after `--`), one per container. */
  commands?: readonly string[][]
  /**
   * Read the StatsD and EMF UDP sockets on threads of their own (false: on the event loop, as
   * the ingest benchmark does to compare the two). @default true
   */
  receiveThreads?: boolean
}

export interface Sidecar {
  readonly aggregator: Aggregator
  readonly http: HttpListener
  /** The StatsD listener (UDP, and the Unix datagram socket), unless `--statsd-port off` and no `--statsd-socket`. */
  readonly statsd: StatsdListener | undefined
  /** The EMF agent listener (TCP and UDP), unless `--emf-port off`. */
  readonly emf: EmfListener | undefined
  /** The worker threads that parse what the StatsD and EMF listeners receive. */
  readonly pool: IngestPool | undefined
  /** Where each listener and page is, for the first screen (filled as they start). */
  readonly endpoints: Record<string, string>
  /** The model server processes it runs, if any. */
  readonly logs: ContainerLogs | undefined
  readonly settings: Settings
  /** What `/healthz` answers now: ok, or what needs a person (publishing blocked, a model server down). */
  health (): Health
  /**
   * Stops the listeners, lets the workers finish what was received, then seals and publishes
   * everything within the close timeout.
   */
  close (): Promise<CloseResult>
}

/**
 * The engine the settings describe (the sidecar's and the pipeline proxy's): sink, limits,
 * spool; warnings go to `log`. A bad setting throws a ConfigError naming its flag.
 */
export function aggregatorFromSettings (s: EngineSettings, sink: MetricSink, clock: Clock | undefined, log: (line: string) => void, table: readonly Setting[]): Aggregator {
  try {
    return createAggregator({
      namespace: s.namespace,
      sink,
      maxDimensions: s.maxDimensions,
      maxSeries: s.maxSeries,
      gracePeriodMs: s.graceMs,
      precisionBits: s.precisionBits,
      closeTimeoutMs: s.closeTimeoutMs,
      maxQueuedBytes: s.maxQueuedBytes,
      ...(s.spoolDir !== undefined && s.spoolDir !== '' ? { spoolDir: s.spoolDir } : {}),
      spoolMaxBytes: s.spoolMaxBytes,
      checkpointIntervalMs: s.checkpointIntervalMs,
      clock,
      onWarning: (message, code) => {
        // close() out of time: the command's closing line says so, naming its flags.
        if (code === 'METRICS_ERR_TIMEOUT') return
        // The spool failing or found damaged: data is at risk or lost, and only a person can fix it.
        log(`${code === 'METRICS_ERR_SPOOL' ? 'error' : 'warning'}: ${flagText(message, table)}`)
      },
    })
  } catch (err) {
    throw flagError(err, table)
  }
}

/**
 * Every setting of `minutely sidecar` (and `demo`): the engine, listeners, spool, status page
 * and logs; instance metrics; the model server processes it may run (`-- cmd args`, one group
 * per container) and where their output goes.
 */
export const kSidecarSettings = uniqueFlags([
  ...kSettings,
  ...kInstanceSettings,
  setting({ flag: 'container-name', env: 'MINUTELY_CONTAINER_NAMES', type: 'list', help: 'name of the model server run by each command group after --, in order (log stream [variant]/[instance-id]/[name]); missing: container-N, or none for a single server' }),
  ...kLogSettings,
])

/** The resolved settings of `minutely sidecar` (and `demo`), typed from {@link kSidecarSettings}. */
export type Settings = SettingsOf<typeof kSidecarSettings>

/**
 * The bearer token of `--auth-token` / `--auth-token-file`, or undefined. A token shorter than
 * the log's scrubber can tell from ordinary words is refused: it could not be kept out of the log.
 */
export function authToken (s: Partial<Pick<Settings, 'authToken' | 'authTokenFile'>>): string | undefined {
  let token: string | undefined
  let from = '--auth-token'
  if (typeof s.authToken === 'string' && s.authToken !== '') token = s.authToken
  else if (typeof s.authTokenFile === 'string' && s.authTokenFile !== '') {
    let text: string
    try { text = readFileSync(s.authTokenFile, 'utf8') } catch (err) {
      throw invalidOption(`--auth-token-file ${s.authTokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    token = text.split(/\r?\n/)[0].trim()
    from = `the token in --auth-token-file ${s.authTokenFile}`
    if (token === '') throw invalidOption(`--auth-token-file ${s.authTokenFile} is empty`)
  }
  if (token !== undefined && token.length < kMinSecretLength) {
    throw invalidOption(`${from} must be at least ${kMinSecretLength} characters (a long random value, e.g. from openssl rand -hex 32)`)
  }
  return token
}

/**
 * A constant-time check of `authorization: Bearer <token>`; the scheme is case-insensitive
 * (RFC 7235 §2.1), and one or more spaces may follow it.
 */
function bearerCheck (token: string): (req: IncomingMessage) => boolean {
  const want = Buffer.from(token)
  return (req) => {
    const h = req.headers.authorization
    const m = typeof h === 'string' ? /^bearer +(\S+) *$/i.exec(h) : null
    if (m === null) return false
    const got = Buffer.from(m[1])
    return got.length === want.length && timingSafeEqual(got, want)
  }
}

/** Worker threads for `--ingest-threads 0`: one per core beyond the first (the event loop's), 1..4. */
export function defaultIngestThreads (cores: number): number {
  return Math.max(1, Math.min(4, cores - 1))
}

/**
 * Builds the sink named by `--sink`. Only the flags given reach the AWS SDK (`--region`,
 * `--cloudwatch-endpoint`, `--no-compression`); the SDK's chain decides the rest.
 */
export function sinkFromSettings (s: SinkSettings): MetricSink {
  switch (s.sink) {
    case 'cloudwatch':
      return cloudWatchSink({
        ...(typeof s.region === 'string' && s.region !== '' ? { region: s.region } : {}),
        ...(typeof s.cloudwatchEndpoint === 'string' && s.cloudwatchEndpoint !== '' ? { endpoint: s.cloudwatchEndpoint } : {}),
        ...(typeof s.noCompression === 'boolean' ? { disableRequestCompression: s.noCompression } : {}),
      })
    case 'emf': return emfSink()
    case 'memory': return inMemorySink({ maxBatches: 1000 })
    default: throw invalidOption(`--sink must be cloudwatch, emf or memory; got ${JSON.stringify(s.sink)}`)
  }
}

const kLoopback = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * Before the sidecar or the pipeline reports ready: each sink that needs it resolves what it
 * cannot send without (CloudWatch: region and credentials), so that a mistake ends start-up
 * with a ConfigError (exit 2) that says what to set, instead of failing every publish. Also
 * says, once, which AWS settings minutely overrides on purpose.
 */
export async function checkSinks (sinks: ReadonlyArray<MetricSink | LogSink | undefined>, table: Setting[], log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const aws = sinks.filter((x): x is MetricSink | LogSink => x?.check !== undefined)
  try {
    await Promise.all(aws.map(async x => await x.check!()))
  } catch (err) {
    throw flagError(err, table)
  }
  const ignored = ['AWS_MAX_ATTEMPTS', 'AWS_RETRY_MODE'].filter(v => (env[v] ?? '') !== '')
  if (aws.length > 0 && ignored.length > 0) {
    log(`warning: ${ignored.join(' and ')} ${ignored.length > 1 ? 'are' : 'is'} not used: the AWS SDK makes one attempt per request, and minutely retries failed requests itself (with backoff, in order, counted)`)
  }
}

/** The sidecar's and the pipeline's line for a failed publish: at error level when only a person can fix it. */
export function publishErrorLine (e: SinkError): string {
  return e.permanent === true ? `error: publish: ${e.message}` : `publish: ${e.message}`
}

/** Starts the engine and the HTTP listener. */
export async function startSidecar (s: Settings, deps: SidecarDeps = {}): Promise<Sidecar> {
  const log = deps.log ?? ((line: string) => { process.stderr.write(line + '\n') })
  const token = authToken(s)
  const clock = deps.clock ?? systemClock
  const commands = deps.commands ?? []
  const metricSink = deps.sink ?? sinkFromSettings(s)
  const logSink = commands.length > 0 ? deps.logSink ?? logSinkFromSettings(s) : undefined
  // Region and credentials are resolved now: a mistake is said at start-up, not at each publish.
  await checkSinks([metricSink, logSink], kSidecarSettings, log)
  // Every request is timed for the status page and /metrics (publish latency, last failure).
  const sink = timedSink(metricSink, () => clock.now())
  const aggregator = aggregatorFromSettings(s, sink, deps.clock, log, kSidecarSettings)
  aggregator.on('error', (e: SinkError) => { log(publishErrorLine(e)) })
  let logs: ContainerLogs | undefined
  const health = (): Health => healthOf({ aggregator, logs: () => logs })
  const host = s.bind
  const hostUrl = host.includes(':') ? `[${host}]` : host
  if (!kLoopback.has(host)) log(`warning: listeners bind ${host}, not loopback: anything that can reach this address can send samples${token === undefined ? ' (no --auth-token set)' : ''}`)
  // Filled as listeners start; read by the status page at each request.
  const endpoints: Record<string, string> = {}
  let pool: IngestPool | undefined
  let statsd: StatsdListener | undefined
  let emf: EmfListener | undefined
  const routes = s.noStatusPage === true
    ? undefined
    : statusRoutes({ aggregator, timing: sink.timing, pool: () => pool, listeners: () => ({ statsd, emf, http }), info: { endpoints, namespace: s.namespace, sink: s.sink }, health })
  let http: HttpListener
  try {
    http = await startHttpListener({
      aggregator,
      port: s.httpPort,
      host,
      maxBodyBytes: s.maxBodyBytes,
      routes,
      authorize: token !== undefined ? bearerCheck(token) : undefined,
      maxConnections: s.httpMaxConnections,
      renameOptions: (m) => flagText(m, kSidecarSettings),
      health,
    })
  } catch (err) {
    await aggregator.close()
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE') throw invalidOption(`HTTP port ${String(s.httpPort)} on ${host} is in use: pass --http-port with a free port (0 picks one)`, { cause: err })
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EINVAL') throw invalidOption(`--bind ${host}: cannot listen there (${e.code})`, { cause: err })
    throw err
  }
  endpoints['HTTP ingest'] = `http://${hostUrl}:${http.port}/v1/samples`
  if (routes !== undefined) {
    endpoints['status page'] = `http://${hostUrl}:${http.port}/`
    endpoints.metrics = `http://${hostUrl}:${http.port}/metrics`
  }
  // StatsD and EMF: datagrams and lines go to worker threads, which parse and pre-aggregate.
  const statsdPort = typeof s.statsdPort === 'number' ? s.statsdPort : undefined
  const statsdSocket = typeof s.statsdSocket === 'string' && s.statsdSocket !== '' ? s.statsdSocket : undefined
  const emfPort = typeof s.emfPort === 'number' ? s.emfPort : undefined
  if (statsdPort !== undefined || statsdSocket !== undefined || emfPort !== undefined) {
    const at = (port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`
    const threads = s.ingestThreads > 0 ? s.ingestThreads : defaultIngestThreads(availableParallelism())
    pool = new IngestPool({ aggregator, threads, batchBytes: kSidecarBatchBytes, statsd: { units: s.statsdUnits } })
    const recvBufferBytes = s.udpRecvBufferBytes > 0 ? s.udpRecvBufferBytes : undefined
    const maxDatagramBytes = s.maxDatagramBytes > 0 ? s.maxDatagramBytes : undefined
    try {
      if (statsdPort !== undefined || statsdSocket !== undefined) {
        statsd = await startStatsdListener({ aggregator, pool, host, port: statsdPort, socketPath: statsdSocket, recvBufferBytes, maxDatagramBytes, receiveThread: deps.receiveThreads, log })
        log(`statsd: listening on ${[statsd.port !== undefined ? `udp://${at(statsd.port)}` : '', statsd.socketPath !== undefined ? `unixgram://${statsd.socketPath}` : ''].filter(x => x !== '').join(' and ')}` +
          (statsd.recvBufferBytes !== undefined ? ` (receive buffer ${(statsd.recvBufferBytes / (process.platform === 'linux' ? 2 : 1) / 2 ** 20).toFixed(1)} MiB)` : '') + `, ${threads} ingest thread${threads > 1 ? 's' : ''}`)
      }
      if (emfPort !== undefined) {
        emf = await startEmfListener({ aggregator, pool, host, port: emfPort, recvBufferBytes, maxDatagramBytes, receiveThread: deps.receiveThreads, log, maxConnections: s.emfMaxConnections, idleTimeoutMs: s.emfIdleTimeoutMs })
        log(`emf: agent endpoint on tcp://${at(emf.port)} and udp://${at(emf.port)}`)
      }
      if (statsd?.port !== undefined) endpoints.StatsD = `udp://${at(statsd.port)}`
      if (emf !== undefined) endpoints['EMF agent'] = `tcp+udp://${at(emf.port)}`
    } catch (err) {
      await statsd?.close(0)
      await http.close()
      await pool.close()
      await aggregator.close()
      throw err
    }
  }
  // Instance metrics, the model servers it runs (and their logs), its own metrics.
  let instance: InstanceMetrics | undefined
  let self: SelfMetrics | undefined
  try {
    instance = startInstanceMetricsFromSettings(s, aggregator, log)
    if (commands.length > 0) {
      const given = s.containerName
      if (given.length > commands.length) throw invalidOption(`--container-name was given ${given.length} times for ${commands.length} commands after --`)
      // One unnamed server: stream [variant]/[instance-id]; several: container-1, container-2…
      const names = commands.length === 1 && given.length === 0 ? [undefined] : resolveContainerNames(commands.map((_, i) => given[i]))
      logs = startContainerLogs(s, commands.map((command, i) => ({ name: names[i], command })), { log, logSink })
    }
    if (s.selfMetrics) {
      const ns = s.selfMetricsNamespace !== undefined && s.selfMetricsNamespace !== '' ? s.selfMetricsNamespace : undefined
      self = startSelfMetrics({ aggregator, pool: () => pool, timing: sink.timing, namespace: ns })
    }
  } catch (err) {
    instance?.stop()
    await logs?.stop(1000)
    await Promise.all([http.close(), statsd?.close(), emf?.close()])
    await pool?.close()
    await aggregator.close()
    throw flagError(err, kSidecarSettings)
  }
  let closing: Promise<CloseResult> | undefined
  return {
    aggregator,
    http,
    statsd,
    emf,
    pool,
    endpoints,
    logs,
    settings: s,
    health,
    close () {
      closing ??= (async () => {
        // The model servers first (their last lines are shipped), and the collectors; then the
        // listeners (what is in the kernel's buffers is still read), then the workers finish
        // every batch and the engine merges it; then the engine seals and publishes.
        self?.stop()
        instance?.stop()
        const stopped = logs?.stop(s.closeTimeoutMs)
        await Promise.all([http.close(), statsd?.close(), emf?.close()])
        await pool?.close()
        const r = await aggregator.close()
        const l = await stopped
        if (l !== undefined && l.eventsUnsent > 0) log(`logs: ${l.eventsUnsent} log events could not be delivered`)
        return r
      })()
      return closing
    },
  }
}
