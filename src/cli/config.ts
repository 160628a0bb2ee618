/**
 * The sidecar's settings: each a flag and a MINUTELY_* variable (flags win), with a default
 * and a line of help. One table drives parseArgs, the environment and --help.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError } from '../errors.js'
import { isStandardUnit, kStandardUnits } from '../limits.js'
import { closestName } from '../option-names.js'
import { Scrubber } from '../log.js'
import { jsonSyntaxErrorAt } from './json-syntax.js'

/** `port`: an integer 0..65535 (0: any free port) or `off` (resolved to false). `map`: `k=v,k2=v2` (resolved to an object). */
export type SettingType = 'string' | 'integer' | 'boolean' | 'list' | 'port' | 'map'

export interface Setting {
  flag: string
  env: string
  type: SettingType
  default?: string | number | boolean
  help: string
  /** Hidden from logs (tokens). */
  secret?: boolean
  /** Bounds of an integer setting (inclusive). */
  min?: number
  max?: number
}

export const kSettings: Setting[] = [
  { flag: 'sink', env: 'MINUTELY_SINK', type: 'string', default: 'cloudwatch', help: 'where sealed minutes go: cloudwatch | emf | memory' },
  { flag: 'namespace', env: 'MINUTELY_NAMESPACE', type: 'string', default: 'Minutely', help: 'CloudWatch namespace (must not start with AWS/)' },
  { flag: 'region', env: 'MINUTELY_REGION', type: 'string', help: 'AWS region (default: the AWS SDK\'s chain: AWS_REGION, region in the profile)' },
  { flag: 'cloudwatch-endpoint', env: 'MINUTELY_CLOUDWATCH_ENDPOINT', type: 'string', help: 'CloudWatch endpoint URL (default: the AWS SDK\'s chain: AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, endpoint_url in the profile; else AWS)' },
  { flag: 'no-compression', env: 'MINUTELY_NO_COMPRESSION', type: 'boolean', help: 'do not gzip PutMetricData bodies (default: the AWS SDK\'s chain: AWS_DISABLE_REQUEST_COMPRESSION, disable_request_compression in the profile; else gzip)' },
  { flag: 'http-port', env: 'MINUTELY_HTTP_PORT', type: 'integer', min: 0, max: 65535, default: 8126, help: 'HTTP ingest port (0: any free port)' },
  { flag: 'bind', env: 'MINUTELY_BIND', type: 'string', default: '127.0.0.1', help: 'address the listeners bind' },
  { flag: 'max-dimensions', env: 'MINUTELY_MAX_DIMENSIONS', type: 'integer', min: 0, max: 30, default: 10, help: 'most dimensions a series may have (≤ 30)' },
  { flag: 'max-series', env: 'MINUTELY_MAX_SERIES', type: 'integer', min: 1, max: 10_000_000, default: 20000, help: 'cap on distinct series; past it samples go to an overflow series' },
  { flag: 'grace-ms', env: 'MINUTELY_GRACE_MS', type: 'integer', min: 0, max: 600_000, default: 5000, help: 'how long after a minute ends it is sealed' },
  { flag: 'precision-bits', env: 'MINUTELY_PRECISION_BITS', type: 'integer', min: 4, max: 10, default: 6, help: 'histogram precision: 6 → percentiles within 0.78%, 7 → 0.39%' },
  { flag: 'max-body-bytes', env: 'MINUTELY_MAX_BODY_BYTES', type: 'integer', min: 1, default: 1048576, help: 'largest HTTP body accepted' },
  { flag: 'close-timeout-ms', env: 'MINUTELY_CLOSE_TIMEOUT_MS', type: 'integer', min: 0, max: 3_600_000, default: 10000, help: 'on SIGTERM, how long to spend publishing before exit' },
  { flag: 'statsd-port', env: 'MINUTELY_STATSD_PORT', type: 'port', default: 8125, help: 'StatsD/DogStatsD UDP port on --bind (0: any free port; off: none)' },
  { flag: 'statsd-socket', env: 'MINUTELY_STATSD_SOCKET', type: 'string', help: 'also listen for StatsD on this Unix datagram socket path (needs the optional package unix-dgram)' },
  { flag: 'statsd-units', env: 'MINUTELY_STATSD_UNITS', type: 'map', help: 'CloudWatch unit per StatsD metric, e.g. ModelLatency=Microseconds,OverheadLatency=Microseconds (ms timers are Milliseconds otherwise)' },
  { flag: 'emf-port', env: 'MINUTELY_EMF_PORT', type: 'port', default: 25888, help: 'EMF agent port, TCP and UDP, on --bind (aws-embedded-metrics Agent mode; 0: any free port; off: none)' },
  { flag: 'http-max-connections', env: 'MINUTELY_HTTP_MAX_CONNECTIONS', type: 'integer', min: 1, max: 100_000, default: 256, help: 'most HTTP connections at once; at the cap a new one closes the one idle the longest (nothing whole for 1 s), or is refused when all are busy' },
  { flag: 'emf-max-connections', env: 'MINUTELY_EMF_MAX_CONNECTIONS', type: 'integer', min: 1, max: 100_000, default: 256, help: 'most EMF TCP connections at once; at the cap a new one closes the one idle the longest (no complete line for 1 s), or is refused when all are busy' },
  { flag: 'emf-idle-timeout-ms', env: 'MINUTELY_EMF_IDLE_TIMEOUT_MS', type: 'integer', min: 100, max: 3_600_000, default: 60000, help: 'an EMF TCP connection that sends no complete line for this long is closed (bytes without a newline do not count)' },
  { flag: 'ingest-threads', env: 'MINUTELY_INGEST_THREADS', type: 'integer', default: 0, help: 'worker threads parsing StatsD/EMF (0: one per core beyond the first, 1..4)' },
  { flag: 'udp-recv-buffer-bytes', env: 'MINUTELY_UDP_RECV_BUFFER_BYTES', type: 'integer', default: 16777216, help: 'UDP receive buffer asked of the kernel (capped by net.core.rmem_max)' },
  { flag: 'max-datagram-bytes', env: 'MINUTELY_MAX_DATAGRAM_BYTES', type: 'integer', default: 65535, help: 'larger StatsD/EMF datagrams are rejected (too_large)' },
  { flag: 'spool-dir', env: 'MINUTELY_SPOOL_DIR', type: 'string', help: 'disk spool: sealed minutes are journaled here before they are sent (replayed after a crash or outage), open minutes checkpointed; created owner-only' },
  { flag: 'spool-max-bytes', env: 'MINUTELY_SPOOL_MAX_BYTES', type: 'integer', min: 1_048_576, default: 1_073_741_824, help: 'most bytes the spool may hold; past it the oldest batches are dropped and counted' },
  { flag: 'checkpoint-interval-ms', env: 'MINUTELY_CHECKPOINT_INTERVAL_MS', type: 'integer', min: 100, max: 3_600_000, default: 1000, help: 'how often open minutes are checkpointed to the spool (the most a crash loses)' },
  { flag: 'max-queued-bytes', env: 'MINUTELY_MAX_QUEUED_BYTES', type: 'integer', min: 1_048_576, default: 67_108_864, help: 'memory budget of the publish queue; past it batches spill to the spool (or, without one, the oldest are dropped and counted)' },
  { flag: 'auth-token', env: 'MINUTELY_AUTH_TOKEN', type: 'string', secret: true, help: 'require "authorization: Bearer <token>" on every HTTP route but /healthz (never logged)' },
  { flag: 'auth-token-file', env: 'MINUTELY_AUTH_TOKEN_FILE', type: 'string', help: 'read the bearer token from this file (first line)' },
  { flag: 'no-status-page', env: 'MINUTELY_NO_STATUS_PAGE', type: 'boolean', default: false, help: 'do not serve the status page (/), /api/status and /metrics' },
  { flag: 'self-metrics', env: 'MINUTELY_SELF_METRICS', type: 'boolean', default: false, help: 'also publish minutely\'s own metrics (accepted, rejected, queue, spool, requests) every 10 s' },
  { flag: 'self-metrics-namespace', env: 'MINUTELY_SELF_METRICS_NAMESPACE', type: 'string', help: 'namespace of the self-metrics (default <namespace>/minutely)' },
  { flag: 'log-format', env: 'MINUTELY_LOG_FORMAT', type: 'string', default: 'auto', help: 'the sidecar\'s own log lines on stderr: json | pretty | auto (pretty on a terminal)' },
  { flag: 'log-level', env: 'MINUTELY_LOG_LEVEL', type: 'string', default: 'info', help: 'fatal | error | warn | info | debug | trace | silent' },
  { flag: 'config', env: 'MINUTELY_CONFIG', type: 'string', help: 'JSON file of settings, keyed by flag name ({"statsd-units": {"ModelLatency": "Microseconds"}}); flags and variables win' },
]

export type Settings = Record<string, string | number | boolean | string[] | Record<string, string> | undefined>

function camel (flag: string): string { return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) }

/** The flags every command takes besides its settings. */
const kCommandFlags = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } } as const

/**
 * Parses a command's flags (its settings, `--help`, `--version`); throws a ConfigError naming a
 * flag it does not take and the closest one it does (`--namespce`: did you mean --namespace?).
 */
export function parseCommandLine (command: string, settings: Setting[], args: string[]): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args, options: { ...parseArgsOptions(settings), ...kCommandFlags }, strict: true, allowPositionals: false }).values
  } catch (err) {
    const e = err as Error & { code?: string }
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(e.message)?.[1] : undefined
    if (unknown !== undefined) {
      const flags = [...settings.map(s => s.flag), ...Object.keys(kCommandFlags)]
      const near = closestName(unknown.replace(/^-+/, '').split('=')[0], flags)
      throw new ConfigError(`${e.message}${near !== undefined ? `; did you mean --${near}?` : ''}\nminutely ${command} --help lists the options`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
    }
    throw new ConfigError(`${e.message}\nminutely ${command} --help lists the options`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
  }
}

/**
 * One warning per MINUTELY_* variable of `env` that no setting reads (a typo is otherwise
 * silently ignored), naming the closest variable of `settings` and its flag:
 * `unknown variable MINUTELY_NAMESPCE ignored; did you mean MINUTELY_NAMESPACE (--namespace)?`.
 * `known` adds the variables that other commands, or the library itself, read.
 */
export function unknownVariables (command: string, settings: Setting[], env: NodeJS.ProcessEnv, known: Iterable<string> = []): string[] {
  const read = new Set([...settings.map(s => s.env), ...known])
  const out: string[] = []
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('MINUTELY_') || read.has(name)) continue
    // Compared without the common prefix, which would make every short name look close to every other.
    const near = closestName(name.slice(9), settings.map(s => s.env.slice(9)))
    const s = near !== undefined ? settings.find(x => x.env.slice(9) === near) : undefined
    out.push(`unknown variable ${name} ignored; ${s !== undefined ? `did you mean ${s.env} (--${s.flag})?` : `minutely ${command} --help lists the variables it reads`}`)
  }
  return out
}

/** parseArgs option descriptors for the settings. */
export function parseArgsOptions (settings: Setting[]): Record<string, { type: 'string' | 'boolean', multiple?: boolean }> {
  const o: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = {}
  for (const s of settings) o[s.flag] = s.type === 'boolean' ? { type: 'boolean' } : s.type === 'list' ? { type: 'string', multiple: true } : { type: 'string' }
  return o
}

/** Reads the `--config` JSON file: an object keyed by flag name. */
function readConfigFile (path: string, settings: Setting[]): Record<string, unknown> {
  let doc: unknown
  let text: string
  try {
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '')
  } catch (err) {
    throw new ConfigError(`--config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'METRICS_ERR_INVALID_OPTION', { cause: err })
  }
  try {
    doc = JSON.parse(text)
  } catch {
    // Where, never what: the file may hold a token, and the parser's message quotes the text.
    const at = jsonSyntaxErrorAt(text)
    const where = at === undefined ? '' : at.atEnd ? ` at line ${at.line}, column ${at.column}: it ends too soon` : ` at line ${at.line}, column ${at.column}`
    throw new ConfigError(`--config ${path}: not valid JSON${where}`, 'METRICS_ERR_INVALID_OPTION')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`--config ${path}: must hold a JSON object keyed by flag name`, 'METRICS_ERR_INVALID_OPTION')
  const known = new Set(settings.map(s => s.flag))
  for (const k of Object.keys(doc)) {
    if (known.has(k) && k !== 'config') continue
    const near = closestName(k, [...known].filter(x => x !== 'config'))
    throw new ConfigError(`--config ${path}: unknown setting ${JSON.stringify(k)}; ${near !== undefined ? `did you mean ${JSON.stringify(near)}?` : 'keys are flag names such as "statsd-units"'}`, 'METRICS_ERR_INVALID_OPTION')
  }
  return doc as Record<string, unknown>
}

/** Parses `Name=Unit,Name2=Unit2` (or an object from a config file) into a unit map. */
function parseUnitMap (raw: unknown, from: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  let pairs: Array<[string, unknown]>
  if (typeof raw === 'string') {
    pairs = raw.split(',').map(x => x.trim()).filter(x => x !== '').map(x => {
      const i = x.lastIndexOf('=')
      if (i <= 0) throw new ConfigError(`${from}: expected Name=Unit pairs separated by commas; got ${JSON.stringify(x)}`, 'METRICS_ERR_INVALID_OPTION')
      return [x.slice(0, i).trim(), x.slice(i + 1).trim()]
    })
  } else if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    pairs = Object.entries(raw)
  } else {
    throw new ConfigError(`${from}: expected Name=Unit pairs or an object of name → unit`, 'METRICS_ERR_INVALID_OPTION')
  }
  for (const [name, unit] of pairs) {
    if (typeof unit !== 'string' || !isStandardUnit(unit)) throw new ConfigError(`${from}: ${JSON.stringify(unit)} (for ${name}) is not a CloudWatch unit; use one of ${kStandardUnits.join(', ')}`, 'METRICS_ERR_INVALID_OPTION')
    out[name] = unit
  }
  return out
}

/**
 * Resolves settings from parsed flags, then the environment, then the `--config` file, then
 * defaults. Throws a ConfigError naming the flag, which never shows the value of a secret
 * setting (`--auth-token`), wherever it was given, even where it was given as another's.
 */
export function resolveSettings (settings: Setting[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Settings {
  try {
    return resolveAll(settings, flags, env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const scrubber = new Scrubber()
    for (const v of secretValues(settings, flags, env)) scrubber.add(v)
    const message = scrubber.scrub(err.message)
    if (message === err.message) throw err
    throw new ConfigError(message, err.code as 'METRICS_ERR_INVALID_OPTION')
  }
}

/** The values of the secret settings, from the flags, the environment and the `--config` file (when it reads). */
function secretValues (settings: Setting[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const secret = settings.filter(s => s.secret === true)
  let file: Record<string, unknown> = {}
  const configPath = settings.some(s => s.flag === 'config') ? (flags.config ?? (env.MINUTELY_CONFIG !== '' ? env.MINUTELY_CONFIG : undefined)) as string | undefined : undefined
  if (configPath !== undefined) {
    try {
      const doc = JSON.parse(readFileSync(configPath, 'utf8').replace(/^\uFEFF/, '')) as unknown
      if (doc !== null && typeof doc === 'object') file = doc as Record<string, unknown>
    } catch { /* not read: nothing from it can be in a message */ }
  }
  return secret.flatMap(s => [flags[s.flag], env[s.env], file[s.flag]]).filter((v): v is string => typeof v === 'string')
}

function resolveAll (settings: Setting[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Settings {
  const out: Settings = {}
  const hasConfig = settings.some(s => s.flag === 'config')
  const configPath = hasConfig ? (flags.config ?? (env.MINUTELY_CONFIG !== '' ? env.MINUTELY_CONFIG : undefined)) as string | undefined : undefined
  const file = configPath !== undefined ? readConfigFile(configPath, settings) : {}
  for (const s of settings) {
    let raw: unknown = flags[s.flag]
    let from = `--${s.flag}`
    if (raw === undefined && env[s.env] !== undefined && env[s.env] !== '') { raw = env[s.env]; from = s.env }
    if (raw === undefined && file[s.flag] !== undefined) { raw = file[s.flag]; from = `${s.flag} in ${configPath}` }
    const key = camel(s.flag)
    if (raw === undefined) { out[key] = s.type === 'list' ? [] : s.type === 'map' ? {} : s.default; continue }
    switch (s.type) {
      case 'port': {
        if (raw === false || /^(off|none|false|no)$/i.test(String(raw))) { out[key] = false; break }
        const n = Number(raw)
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${from} must be a port 0..65535 (0: any free port) or off; got ${JSON.stringify(raw)}`, 'METRICS_ERR_INVALID_OPTION')
        out[key] = n
        break
      }
      case 'map':
        out[key] = parseUnitMap(raw, from)
        break
      case 'integer': {
        const n = Number(raw)
        const min = s.min ?? 0
        const max = s.max ?? Number.MAX_SAFE_INTEGER
        if (!Number.isInteger(n) || n < min || n > max) {
          const range = s.max !== undefined ? `an integer from ${min} to ${max}` : min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`
          throw new ConfigError(`${from} must be ${range}; got ${JSON.stringify(raw)}`, 'METRICS_ERR_INVALID_OPTION')
        }
        out[key] = n
        break
      }
      case 'boolean':
        if (typeof raw === 'boolean') out[key] = raw
        else if (/^(1|true|yes|on)$/i.test(String(raw))) out[key] = true
        else if (/^(0|false|no|off)$/i.test(String(raw))) out[key] = false
        else throw new ConfigError(`${from} must be true or false; got ${JSON.stringify(raw)}`, 'METRICS_ERR_INVALID_OPTION')
        break
      case 'list':
        out[key] = Array.isArray(raw) ? raw.map(String) : String(raw).split(',').map(x => x.trim()).filter(x => x !== '')
        break
      default:
        out[key] = String(raw)
    }
  }
  return out
}

/** The --help text of a command. */
export function helpText (command: string, summary: string, settings: Setting[]): string {
  const lines = [`usage: minutely ${command} [options]`, '', summary, '', 'options (each also as an environment variable):']
  for (const s of settings) {
    const flag = `--${s.flag}${s.type === 'boolean' ? '' : ' <' + (s.type === 'integer' ? 'n' : s.type === 'port' ? 'port|off' : s.type === 'map' ? 'k=v,...' : 'value') + '>'}`
    const def = s.default !== undefined ? ` (default ${String(s.default)})` : ''
    lines.push(`  ${flag.padEnd(34)} ${s.help}${def}`, `  ${''.padEnd(34)} ${s.env}`)
  }
  return lines.join('\n')
}

/** The setting behind the library option `key` (`maxSeries` → --max-series), if any. */
function settingOf (key: string, settings: Setting[]): Setting | undefined {
  return settings.find(x => camel(x.flag) === key || (key === 'gracePeriodMs' && x.flag === 'grace-ms'))
}

/** Turns `options.fooBar` in a library ConfigError into the flag and variable that set it. */
export function flagError (err: unknown, settings: Setting[]): unknown {
  if (!(err instanceof ConfigError)) return err
  const msg = err.message.replace(/options\.([a-zA-Z]+)/g, (m, key: string) => {
    const s = settingOf(key, settings)
    return s === undefined ? m : `--${s.flag} (${s.env})`
  })
  return msg === err.message ? err : new ConfigError(msg, err.code as 'METRICS_ERR_INVALID_OPTION', { cause: err })
}

/** Turns `options.fooBar` in a library message (a warning, a rejection) into the flag that sets it. */
export function flagText (message: string, settings: Setting[]): string {
  return message.replace(/options\.([a-zA-Z]+)/g, (m, key: string) => {
    const s = settingOf(key, settings)
    return s === undefined ? m : `--${s.flag}`
  })
}
