/**
 * The sidecar: the engine plus its listeners, as one object the CLI (and tests) start and stop.
 */
import { createAggregator, type Aggregator, type CloseResult } from '../core/aggregator.js'
import { availableParallelism } from 'node:os'
import { ConfigError } from '../errors.js'
import { startHttpListener, type HttpListener } from '../listeners/http.js'
import { cloudWatchSink } from '../sinks/cloudwatch.js'
import { emfSink } from '../sinks/emf.js'
import { inMemorySink } from '../sinks/in-memory.js'
import type { MetricSink } from '../sinks/sink.js'
import type { Clock } from '../core/clock.js'
import { IngestPool, kSidecarBatchBytes } from '../ingest/pool.js'
import { startStatsdListener, type StatsdListener } from '../listeners/statsd.js'
import { startEmfListener, type EmfListener } from '../listeners/emf-agent.js'
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
  /** The StatsD listener (UDP, and the Unix datagram socket), unless `--statsd-port off` and no `--statsd-socket`. */
  readonly statsd: StatsdListener | undefined
  /** The EMF agent listener (TCP and UDP), unless `--emf-port off`. */
  readonly emf: EmfListener | undefined
  /** The worker threads that parse what the StatsD and EMF listeners receive. */
  readonly pool: IngestPool | undefined
  readonly settings: Settings
  /**
   * Stops the listeners, lets the workers finish what was received, then seals and publishes
   * everything within the close timeout.
   */
  close (): Promise<CloseResult>
}

/** Worker threads for `--ingest-threads 0`: one per core beyond the first (the event loop's), 1..4. */
export function defaultIngestThreads (cores: number): number {
  return Math.max(1, Math.min(4, cores - 1))
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
  // StatsD and EMF: datagrams and lines go to worker threads, which parse and pre-aggregate.
  const statsdPort = typeof s.statsdPort === 'number' ? s.statsdPort : undefined
  const statsdSocket = typeof s.statsdSocket === 'string' && s.statsdSocket !== '' ? s.statsdSocket : undefined
  const emfPort = typeof s.emfPort === 'number' ? s.emfPort : undefined
  let pool: IngestPool | undefined
  let statsd: StatsdListener | undefined
  let emf: EmfListener | undefined
  if (statsdPort !== undefined || statsdSocket !== undefined || emfPort !== undefined) {
    const at = (port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`
    const threads = typeof s.ingestThreads === 'number' && s.ingestThreads > 0 ? s.ingestThreads : defaultIngestThreads(availableParallelism())
    const units = (s.statsdUnits !== null && typeof s.statsdUnits === 'object' && !Array.isArray(s.statsdUnits)) ? s.statsdUnits : undefined
    pool = new IngestPool({ aggregator, threads, batchBytes: kSidecarBatchBytes, statsd: units !== undefined ? { units } : {} })
    const recvBufferBytes = typeof s.udpRecvBufferBytes === 'number' && s.udpRecvBufferBytes > 0 ? s.udpRecvBufferBytes : undefined
    const maxDatagramBytes = typeof s.maxDatagramBytes === 'number' && s.maxDatagramBytes > 0 ? s.maxDatagramBytes : undefined
    try {
      if (statsdPort !== undefined || statsdSocket !== undefined) {
        statsd = await startStatsdListener({ aggregator, pool, host, port: statsdPort, socketPath: statsdSocket, recvBufferBytes, maxDatagramBytes, log })
        log(`statsd: listening on ${[statsd.port !== undefined ? `udp://${at(statsd.port)}` : '', statsd.socketPath !== undefined ? `unixgram://${statsd.socketPath}` : ''].filter(x => x !== '').join(' and ')}` +
          (statsd.recvBufferBytes !== undefined ? ` (receive buffer ${(statsd.recvBufferBytes / (process.platform === 'linux' ? 2 : 1) / 2 ** 20).toFixed(1)} MiB)` : '') + `, ${threads} ingest thread${threads > 1 ? 's' : ''}`)
      }
      if (emfPort !== undefined) {
        emf = await startEmfListener({ aggregator, pool, host, port: emfPort, recvBufferBytes, maxDatagramBytes, log })
        log(`emf: agent endpoint on tcp://${at(emf.port)} and udp://${at(emf.port)}`)
      }
    } catch (err) {
      await statsd?.close(0)
      await http.close()
      await pool.close()
      await aggregator.close()
      throw err
    }
  }
  let closing: Promise<CloseResult> | undefined
  return {
    aggregator,
    http,
    statsd,
    emf,
    pool,
    settings: s,
    close () {
      closing ??= (async () => {
        // Listeners first (what is in the kernel's buffers is still read), then the workers
        // finish every batch and the engine merges it, then the engine seals and publishes.
        await Promise.all([http.close(), statsd?.close(), emf?.close()])
        await pool?.close()
        return await aggregator.close()
      })()
      return closing
    },
  }
}
