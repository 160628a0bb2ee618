/**
 * The log settings of the CLI (pipeline proxy and sidecar): each a flag and a MINUTELY_*
 * variable, in the same table format as the sidecar's settings; and the one function that
 * starts the model server processes and ships their output.
 */
import { setting, type CoreSettings, type SettingsOf } from './config.js'
import type { IdentitySettings } from './instance-settings.js'
import { invalidOption as invalid } from '../errors.js'
import { resolveIdentity } from '../sagemaker/env.js'
import { endpointLogGroup, endpointLogStream } from '../sagemaker/presets.js'
import { kEventOverheadBytes, kLogGroupNamePattern, kMaxEventMessageBytes } from '../logs/limits.js'
import { describeExit, kDefaultRestartPolicy, kDefaultStopTimeoutMs, kRestartPolicies, startProcess, type ManagedProcess, type RestartPolicy } from '../logs/runner.js'
import { createLogShipper, kLogShipperDefaults, type LogShipper, type LogShipperStats } from '../logs/shipper.js'
import type { LogSink } from '../logs/sink.js'
import { cloudWatchLogsSink } from '../logs/sinks/cloudwatch-logs.js'
import { fileLogSink } from '../logs/sinks/file.js'
import { stdoutLogSink } from '../logs/sinks/stdout.js'

/** The log settings. `--region` comes from the sink settings. */
export const kLogSettings = [
  setting({ flag: 'log-sink', env: 'MINUTELY_LOG_SINK', type: 'string', default: 'auto', help: 'where the model servers\' stdout/stderr lines go: cloudwatch | file | stdout | off | auto (cloudwatch when --sink is cloudwatch, else stdout)' }),
  setting({ flag: 'log-file', env: 'MINUTELY_LOG_FILE', type: 'string', help: 'the file of --log-sink file (JSON lines: logGroup, logStream, timestamp, message)' }),
  setting({ flag: 'logs-endpoint', env: 'MINUTELY_LOGS_ENDPOINT', type: 'string', help: 'CloudWatch Logs endpoint URL (default: the AWS SDK\'s chain: AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL, endpoint_url in the profile; else AWS)' }),
  setting({ flag: 'log-group', env: 'MINUTELY_LOG_GROUP', type: 'string', help: 'log group (default /aws/sagemaker/Endpoints/<endpoint-name>)' }),
  setting({ flag: 'log-flush-ms', env: 'MINUTELY_LOG_FLUSH_MS', type: 'integer', default: kLogShipperDefaults.flushIntervalMs, help: 'longest time a log line waits before it is sent' }),
  setting({ flag: 'log-max-line-bytes', env: 'MINUTELY_LOG_MAX_LINE_BYTES', type: 'integer', default: kMaxEventMessageBytes, help: `longer lines are split into several events (at most ${kMaxEventMessageBytes}: 256 KB less the ${kEventOverheadBytes}-byte event overhead)` }),
  setting({ flag: 'log-max-queued-bytes', env: 'MINUTELY_LOG_MAX_QUEUED_BYTES', type: 'integer', default: kLogShipperDefaults.maxQueuedBytes, help: 'memory for log lines waiting to be sent; past it lines are dropped (and the gap is marked)' }),
  setting({ flag: 'restart-model-servers', env: 'MINUTELY_RESTART_MODEL_SERVERS', type: 'boolean', default: false, help: 'restart a model server that exits or cannot start, with backoff (1 s doubling to 30 s, reset after a minute up), instead of publishing everything and exiting with its status (turns --restart never into always)' }),
  setting({ flag: 'restart', env: 'MINUTELY_RESTART', type: 'string', default: kDefaultRestartPolicy, help: 'when a model server that exits is restarted: never (minutely exits with its status) | on-failure | always' }),
  setting({ flag: 'stop-timeout-ms', env: 'MINUTELY_STOP_TIMEOUT_MS', type: 'integer', default: kDefaultStopTimeoutMs, help: 'on shutdown, how long model server processes get between SIGTERM and SIGKILL' }),
]

/**
 * What the model servers and their logs are started from: the log settings, who this instance
 * is, and (for `--log-sink auto` and the CloudWatch Logs client) the metric sink and region
 * when the command has them.
 */
export type LogSettings = SettingsOf<typeof kLogSettings> & IdentitySettings & Partial<Pick<CoreSettings, 'sink' | 'region'>>

/** One container whose process may be run: its name (absent: a single unnamed model server) and command. */
export interface ContainerProcessSpec {
  /** `undefined` for a single model server: its stream is then `[variant]/[instance-id]`. */
  name?: string
  /** Program and arguments; empty or absent: not run by us. */
  command?: readonly string[]
}

/** A model server that ended and is not restarted: what the sidecar and the pipeline exit with. */
export interface ModelServerEnd {
  readonly name: string
  /** The status a shell would report: its code, 128 + signal, 127 when not found, 126 when not runnable. */
  readonly exitCode: number
  /** `exited with code 3`, `was killed by SIGKILL`, `could not be started (ENOENT)`. */
  readonly description: string
}

/** The error line the sidecar and the pipeline log when a model server's end ends them. */
export function modelServerEndLine (e: ModelServerEnd): string {
  return `error: model server ${e.name} ${e.description}: publishing everything and exiting with status ${e.exitCode} (--restart-model-servers restarts it instead)`
}

/** What {@link startContainerLogs} started. */
export interface ContainerLogs {
  /** The processes, in container order (only those with a command). */
  readonly processes: ReadonlyArray<ManagedProcess & { readonly stream: string }>
  /**
   * Settles when the first model server ends for good — it exited or could not be started,
   * and the restart policy does not start it again — unless it was stopped. Never settles
   * otherwise.
   */
  readonly ended: Promise<ModelServerEnd>
  /** The shipper (undefined with `--log-sink off`). */
  readonly shipper: LogShipper | undefined
  readonly group: string | undefined
  /**
   * Stops the processes (SIGTERM, SIGKILL after --stop-timeout-ms), then delivers every line
   * within `timeoutMs`.
   */
  stop (timeoutMs: number): Promise<{ eventsUnsent: number, stats: LogShipperStats | undefined }>
}

/** Dependencies (tests inject a sink). */
export interface ContainerLogsDeps {
  logSink?: LogSink
  log?: (line: string) => void
  env?: NodeJS.ProcessEnv
}

/** Builds the log sink named by `--log-sink` (undefined for `off`). */
export function logSinkFromSettings (s: LogSettings): LogSink | undefined {
  let kind = s.logSink
  if (kind === 'auto') kind = s.sink === 'cloudwatch' ? 'cloudwatch' : 'stdout'
  switch (kind) {
    case 'cloudwatch':
      return cloudWatchLogsSink({ region: s.region, endpoint: s.logsEndpoint })
    case 'file':
      if (typeof s.logFile !== 'string' || s.logFile === '') throw invalid('--log-sink file needs --log-file <path>')
      return fileLogSink({ path: s.logFile })
    case 'stdout': return stdoutLogSink()
    case 'off': return undefined
    default: throw invalid(`--log-sink must be cloudwatch, file, stdout, off or auto; got ${JSON.stringify(s.logSink)}`)
  }
}

/**
 * The restart policy of the model servers: `--restart`, where `--restart-model-servers`
 * turns the default `never` into `always`. Throws a ConfigError naming the flag.
 */
export function restartPolicyOf (s: Pick<LogSettings, 'restart' | 'restartModelServers'>): RestartPolicy {
  const policy = kRestartPolicies.find(x => x === s.restart)
  if (policy === undefined) {
    throw invalid(`--restart must be one of ${kRestartPolicies.join(', ')}; got ${JSON.stringify(s.restart)}`)
  }
  return s.restartModelServers && policy === 'never' ? 'always' : policy
}

/** Checks the log settings that need no I/O; throws a ConfigError naming the flag. */
export function checkLogSettings (s: LogSettings): void {
  restartPolicyOf(s)
  const max = s.logMaxLineBytes
  if (!(max >= 64 && max <= kMaxEventMessageBytes)) throw invalid(`--log-max-line-bytes must be from 64 to ${kMaxEventMessageBytes}; got ${String(max)}`)
  if (typeof s.logGroup === 'string' && !kLogGroupNamePattern.test(s.logGroup)) {
    throw invalid(`--log-group must be 1-512 characters of A-Z a-z 0-9 . - _ / #; got ${JSON.stringify(s.logGroup)}`)
  }
}

/** The group of model-server lines that stay local (stdout, file) when no endpoint names one. */
export const kLocalLogGroup = '/minutely/model-servers'

/**
 * Starts the processes of the containers that have a command, and ships each one's stdout and
 * stderr to group `/aws/sagemaker/Endpoints/[EndpointName]` (or `--log-group`), stream
 * `[variant]/[instance-id]/[container-name]`. Returns undefined when no container has a
 * command. Throws a ConfigError for bad settings.
 */
export function startContainerLogs (s: LogSettings, containers: readonly ContainerProcessSpec[], deps: ContainerLogsDeps = {}): ContainerLogs | undefined {
  const specs = containers.filter(c => c.command !== undefined && c.command.length > 0)
  if (specs.length === 0) return undefined
  checkLogSettings(s)
  const log = deps.log ?? ((l: string) => { process.stderr.write(l + '\n') })
  const id = resolveIdentity({
    endpointName: s.endpointName,
    variantName: s.variantName,
    instanceId: s.instanceId,
    env: deps.env,
  })
  const sink = deps.logSink ?? logSinkFromSettings(s)
  let group = s.logGroup
  if (group === undefined) {
    if (id.endpointName !== undefined) group = endpointLogGroup(id.endpointName.value)
    else if (sink === undefined || sink.name !== 'cloudwatch-logs') group = kLocalLogGroup   // kept local: the name only labels the lines
    else throw invalid('--endpoint-name (or MINUTELY_ENDPOINT_NAME) is needed to name the CloudWatch Logs group; or pass --log-group, or --log-sink stdout|file|off to keep the model servers\' output local')
  }
  const shipper = sink === undefined
    ? undefined
    : createLogShipper({
      sink,
      flushIntervalMs: s.logFlushMs,
      maxQueuedBytes: s.logMaxQueuedBytes,
      maxEventMessageBytes: s.logMaxLineBytes,
      onWarning: (m) => { log(`logs: ${m}`) },
      onError: (m) => { log(`error: logs: ${m}`) },
    })
  const restart = restartPolicyOf(s)
  let onEnded!: (e: ModelServerEnd) => void
  const ended = new Promise<ModelServerEnd>(resolve => { onEnded = resolve })
  const processes = specs.map(c => {
    const stream = endpointLogStream(id.variantName.value, id.instanceId.value, c.name)
    const writer = shipper?.stream(group, stream)
    const [command, ...args] = c.command!
    const name = c.name ?? 'model'
    const p = startProcess({
      name,
      command,
      args,
      env: deps.env,
      onLine: writer === undefined ? () => {} : (line) => { writer.write(line) },
      maxLineBytes: s.logMaxLineBytes,
      restart,
      log,
      onExit: (code, signal, info) => {
        if (info.restarting || info.stopped) return
        onEnded({ name, exitCode: info.exitCode, description: describeExit({ code, signal, ...(info.error !== undefined ? { error: info.error } : {}) }) })
      },
    })
    return Object.assign(p, { stream })
  })
  if (shipper !== undefined) log(`logs: ${processes.length} model server process(es) → ${sink!.name} group ${group}, streams ${processes.map(p => p.stream).join(', ')}`)
  let stopping: Promise<{ eventsUnsent: number, stats: LogShipperStats | undefined }> | undefined
  return {
    processes,
    ended,
    shipper,
    group,
    stop (timeoutMs: number) {
      stopping ??= (async () => {
        await Promise.all(processes.map(p => p.stop(s.stopTimeoutMs)))
        if (shipper === undefined) return { eventsUnsent: 0, stats: undefined }
        const r = await shipper.close(timeoutMs)
        return { eventsUnsent: r.eventsUnsent, stats: r.stats }
      })()
      return stopping
    },
  }
}
