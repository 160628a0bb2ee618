/**
 * The sidecar: the engine plus its listeners, as one object the CLI (and tests) start and stop.
 */
import { createAggregator, type Aggregator, type CloseResult } from '../core/aggregator.js'
import { ConfigError } from '../errors.js'
import { startHttpListener, type HttpListener } from '../listeners/http.js'
import { cloudWatchSink } from '../sinks/cloudwatch.js'
import { emfSink } from '../sinks/emf.js'
import { inMemorySink } from '../sinks/in-memory.js'
import type { MetricSink } from '../sinks/sink.js'
import type { Clock } from '../core/clock.js'
import type { Settings } from './config.js'

export interface SidecarDeps {
  /** Overrides the sink chosen by `--sink`. */
  sink?: MetricSink
  clock?: Clock
  /** Where the sidecar writes what it does (one line each). @default stderr */
  log?: (line: string) => void
}

export interface Sidecar {
  readonly aggregator: Aggregator
  readonly http: HttpListener
  readonly settings: Settings
  /** Stops the listeners, then seals and publishes everything within the close timeout. */
  close (): Promise<CloseResult>
}

/** Builds the sink named by `--sink`. */
export function sinkFromSettings (s: Settings): MetricSink {
  switch (s.sink) {
    case 'cloudwatch':
      return cloudWatchSink({
        region: s.region as string | undefined,
        endpoint: s.cloudwatchEndpoint as string | undefined,
        disableRequestCompression: s.noCompression === true,
      })
    case 'emf': return emfSink()
    case 'memory': return inMemorySink({ maxBatches: 1000 })
    default: throw new ConfigError(`--sink must be cloudwatch, emf or memory; got ${JSON.stringify(s.sink)}`, 'METRICS_ERR_INVALID_OPTION')
  }
}

const kLoopback = new Set(['127.0.0.1', '::1', 'localhost'])

/** Starts the engine and the HTTP listener. */
export async function startSidecar (s: Settings, deps: SidecarDeps = {}): Promise<Sidecar> {
  const log = deps.log ?? ((line: string) => { process.stderr.write(line + '\n') })
  const sink = deps.sink ?? sinkFromSettings(s)
  const aggregator = createAggregator({
    namespace: s.namespace as string,
    sink,
    maxDimensions: s.maxDimensions as number,
    maxSeries: s.maxSeries as number,
    gracePeriodMs: s.graceMs as number,
    precisionBits: s.precisionBits as number,
    closeTimeoutMs: s.closeTimeoutMs as number,
    clock: deps.clock,
    onWarning: (message) => { log(`warning: ${message}`) },
  })
  aggregator.on('error', (e: Error) => { log(`publish: ${e.message}`) })
  const host = s.bind as string
  if (!kLoopback.has(host)) log(`warning: listeners bind ${host}, not loopback: anything that can reach this address can send samples`)
  let http: HttpListener
  try {
    http = await startHttpListener({ aggregator, port: s.httpPort as number, host, maxBodyBytes: s.maxBodyBytes as number })
  } catch (err) {
    await aggregator.close()
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE') throw new ConfigError(`HTTP port ${String(s.httpPort)} on ${host} is in use: pass --http-port with a free port (0 picks one)`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
    throw err
  }
  let closing: Promise<CloseResult> | undefined
  return {
    aggregator,
    http,
    settings: s,
    close () {
      closing ??= (async () => {
        await http.close()
        return await aggregator.close()
      })()
      return closing
    },
  }
}
