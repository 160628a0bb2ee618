/**
 * The CLI's settings: each a flag and a MINUTELY_* variable (flags win), with a default and a
 * line of help. One table drives parseArgs, the environment, the --config file and --help, and
 * types what it resolves to ({@link SettingsOf}). The flags that set engine options take their
 * defaults and bounds from the engine's tables ({@link engineOption}).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, invalidOption } from '../errors.js'
import { isStandardUnit, kStandardUnits } from '../limits.js'
import { closestName } from '../option-names.js'
import { kBounds, kDefaults, type IntegerOption } from '../core/options.js'
import { kDefaultMaxBodyBytes } from '../listeners/http.js'
import { Scrubber } from './logger.js'
import { jsonSyntaxErrorAt } from './json-syntax.js'

/** `port`: an integer 0..65535 (0: any free port) or `off` (resolved to false). `map`: `k=v,k2=v2` (resolved to an object). */
export type SettingType = 'string' | 'integer' | 'boolean' | 'list' | 'port' | 'map'

export interface Setting {
  readonly flag: string
  readonly env: string
  readonly type: SettingType
  readonly default?: string | number | boolean
  readonly help: string
  /** Hidden from logs (tokens). */
  readonly secret?: boolean
  /** Bounds of an integer setting (inclusive). */
  readonly min?: number
  readonly max?: number
  /** The library option it sets, when its name is not the flag's (`grace-ms` → `gracePeriodMs`). */
  readonly option?: string
}

/** What a setting of each type resolves to. */
interface SettingValues {
  string: string
  integer: number
  boolean: boolean
  list: string[]
  port: number | false
  map: Record<string, string>
}

/** `max-series` → `maxSeries`: the key of a flag in the resolved settings. */
export type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S

/** The value a setting resolves to: lists and maps are never absent; others only without a default. */
type ValueOf<S extends Setting> = S extends { type: 'list' | 'map' } | { default: string | number | boolean }
  ? SettingValues[S['type']]
  : SettingValues[S['type']] | undefined

/** Carries, in a setting's type only, the key and the value it resolves to (see {@link setting}). */
export declare const kResolvesTo: unique symbol

/** A {@link Setting} whose type knows its key in the resolved settings and its value type. */
export interface TypedSetting<K extends string, V> extends Setting {
  readonly [kResolvesTo]?: [K, V]
}

/**
 * Declares a setting: the flag's name gives its key (`max-series` → `maxSeries`), its `type`
 * and whether it has a default give the value's type, so that the settings a table resolves
 * to ({@link SettingsOf}) are typed with no cast where they are read.
 */
export function setting<const S extends Setting> (s: S): TypedSetting<CamelCase<S['flag']>, ValueOf<S>> {
  return s
}

/** The resolved settings of a table: flag name → camelCase key → value type by `type`. */
export type SettingsOf<T extends readonly Setting[]> = {
  -readonly [S in T[number] as S extends TypedSetting<infer K, unknown> ? K : never]: S extends TypedSetting<string, infer V> ? V : never
}

/**
 * The default and bounds of a setting that is an integer option of the engine, from the
 * engine's own tables ({@link kDefaults}, {@link kBounds}): each is written once, in options.ts.
 */
export function engineOption<K extends IntegerOption> (option: K): { option: K, default: number, min: number, max: number } {
  return { option, default: kDefaults[option], ...kBounds[option] }
}

export const kSettings = [
  setting({ flag: 'sink', env: 'MINUTELY_SINK', type: 'string', default: 'cloudwatch', help: 'where sealed minutes go: cloudwatch | emf | memory' }),
  setting({ flag: 'namespace', env: 'MINUTELY_NAMESPACE', type: 'string', default: 'Minutely', help: 'CloudWatch namespace (must not start with AWS/)' }),
  setting({ flag: 'region', env: 'MINUTELY_REGION', type: 'string', help: 'AWS region (default: the AWS SDK\'s chain: AWS_REGION, region in the profile)' }),
  setting({ flag: 'cloudwatch-endpoint', env: 'MINUTELY_CLOUDWATCH_ENDPOINT', type: 'string', help: 'CloudWatch endpoint URL (default: the AWS SDK\'s chain: AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, endpoint_url in the profile; else AWS)' }),
  setting({ flag: 'no-compression', env: 'MINUTELY_NO_COMPRESSION', type: 'boolean', help: 'do not gzip PutMetricData bodies (default: the AWS SDK\'s chain: AWS_DISABLE_REQUEST_COMPRESSION, disable_request_compression in the profile; else gzip)' }),
  setting({ flag: 'http-port', env: 'MINUTELY_HTTP_PORT', type: 'integer', min: 0, max: 65535, default: 8126, help: 'HTTP ingest port (0: any free port)' }),
  setting({ flag: 'bind', env: 'MINUTELY_BIND', type: 'string', default: '127.0.0.1', help: 'address the listeners bind' }),
  setting({ flag: 'max-dimensions', env: 'MINUTELY_MAX_DIMENSIONS', type: 'integer', ...engineOption('maxDimensions'), help: `most dimensions a series may have (≤ ${kBounds.maxDimensions.max})` }),
  setting({ flag: 'max-series', env: 'MINUTELY_MAX_SERIES', type: 'integer', ...engineOption('maxSeries'), help: 'cap on distinct series; past it samples go to an overflow series' }),
  setting({ flag: 'grace-ms', env: 'MINUTELY_GRACE_MS', type: 'integer', ...engineOption('gracePeriodMs'), help: 'how long after a minute ends it is sealed' }),
  setting({ flag: 'precision-bits', env: 'MINUTELY_PRECISION_BITS', type: 'integer', ...engineOption('precisionBits'), help: 'histogram precision: 6 → percentiles within 0.78%, 7 → 0.39%' }),
  setting({ flag: 'max-body-bytes', env: 'MINUTELY_MAX_BODY_BYTES', type: 'integer', min: 1, default: kDefaultMaxBodyBytes, help: 'largest HTTP body accepted' }),
  setting({ flag: 'close-timeout-ms', env: 'MINUTELY_CLOSE_TIMEOUT_MS', type: 'integer', ...engineOption('closeTimeoutMs'), help: 'on SIGTERM, how long to spend publishing before exit' }),
  setting({ flag: 'statsd-port', env: 'MINUTELY_STATSD_PORT', type: 'port', default: 8125, help: 'StatsD/DogStatsD UDP port on --bind (0: any free port; off: none)' }),
  setting({ flag: 'statsd-socket', env: 'MINUTELY_STATSD_SOCKET', type: 'string', help: 'also listen for StatsD on this Unix datagram socket path (needs the optional package unix-dgram)' }),
  setting({ flag: 'statsd-units', env: 'MINUTELY_STATSD_UNITS', type: 'map', help: 'CloudWatch unit per StatsD metric, e.g. ModelLatency=Microseconds,OverheadLatency=Microseconds (ms timers are Milliseconds otherwise)' }),
  setting({ flag: 'emf-port', env: 'MINUTELY_EMF_PORT', type: 'port', default: 25888, help: 'EMF agent port, TCP and UDP, on --bind (aws-embedded-metrics Agent mode; 0: any free port; off: none)' }),
  setting({ flag: 'http-max-connections', env: 'MINUTELY_HTTP_MAX_CONNECTIONS', type: 'integer', min: 1, max: 100_000, default: 256, help: 'most HTTP connections at once; at the cap a new one closes the one idle the longest (nothing whole for 1 s), or is refused when all are busy' }),
  setting({ flag: 'emf-max-connections', env: 'MINUTELY_EMF_MAX_CONNECTIONS', type: 'integer', min: 1, max: 100_000, default: 256, help: 'most EMF TCP connections at once; at the cap a new one closes the one idle the longest (no complete line for 1 s), or is refused when all are busy' }),
  setting({ flag: 'emf-idle-timeout-ms', env: 'MINUTELY_EMF_IDLE_TIMEOUT_MS', type: 'integer', min: 100, max: 3_600_000, default: 60000, help: 'an EMF TCP connection that sends no complete line for this long is closed (bytes without a newline do not count)' }),
  setting({ flag: 'ingest-threads', env: 'MINUTELY_INGEST_THREADS', type: 'integer', default: 0, help: 'worker threads parsing StatsD/EMF (0: one per core beyond the first, 1..4)' }),
  setting({ flag: 'udp-recv-buffer-bytes', env: 'MINUTELY_UDP_RECV_BUFFER_BYTES', type: 'integer', default: 16777216, help: 'UDP receive buffer asked of the kernel (capped by net.core.rmem_max)' }),
  setting({ flag: 'max-datagram-bytes', env: 'MINUTELY_MAX_DATAGRAM_BYTES', type: 'integer', default: 65535, help: 'larger StatsD/EMF datagrams are rejected (too_large)' }),
  setting({ flag: 'spool-dir', env: 'MINUTELY_SPOOL_DIR', type: 'string', help: 'disk spool: sealed minutes are journaled here before they are sent (replayed after a crash or outage), open minutes checkpointed; one process per directory; created 0700 (an existing one must be owner-only, it is never chmodded)' }),
  setting({ flag: 'spool-max-bytes', env: 'MINUTELY_SPOOL_MAX_BYTES', type: 'integer', ...engineOption('spoolMaxBytes'), help: 'most bytes the spool may hold; past it the oldest batches are dropped and counted' }),
  setting({ flag: 'checkpoint-interval-ms', env: 'MINUTELY_CHECKPOINT_INTERVAL_MS', type: 'integer', ...engineOption('checkpointIntervalMs'), help: 'how often open minutes are checkpointed to the spool (the most a crash loses)' }),
  setting({ flag: 'max-queued-bytes', env: 'MINUTELY_MAX_QUEUED_BYTES', type: 'integer', ...engineOption('maxQueuedBytes'), help: 'memory budget of the publish queue; past it batches spill to the spool (or, without one, the oldest are dropped and counted)' }),
  setting({ flag: 'auth-token', env: 'MINUTELY_AUTH_TOKEN', type: 'string', secret: true, help: 'require "authorization: Bearer <token>" on every HTTP route but /healthz (never logged)' }),
  setting({ flag: 'auth-token-file', env: 'MINUTELY_AUTH_TOKEN_FILE', type: 'string', help: 'read the bearer token from this file (first line)' }),
  setting({ flag: 'no-status-page', env: 'MINUTELY_NO_STATUS_PAGE', type: 'boolean', default: false, help: 'do not serve the status page (/), /api/status and /metrics' }),
  setting({ flag: 'self-metrics', env: 'MINUTELY_SELF_METRICS', type: 'boolean', default: false, help: 'also publish minutely\'s own metrics (accepted, rejected, queue, spool, requests) every 10 s' }),
  setting({ flag: 'self-metrics-namespace', env: 'MINUTELY_SELF_METRICS_NAMESPACE', type: 'string', help: 'namespace of the self-metrics (default <namespace>/minutely)' }),
  setting({ flag: 'log-format', env: 'MINUTELY_LOG_FORMAT', type: 'string', default: 'auto', help: 'the sidecar\'s own log lines on stderr: json | pretty | auto (pretty on a terminal)' }),
  setting({ flag: 'log-level', env: 'MINUTELY_LOG_LEVEL', type: 'string', default: 'info', help: 'fatal | error | warn | info | debug | trace | silent' }),
  setting({ flag: 'config', env: 'MINUTELY_CONFIG', type: 'string', help: 'JSON file of settings, keyed by flag name ({"statsd-units": {"ModelLatency": "Microseconds"}}); flags and variables win' }),
]

/** Keeps the first setting of each flag (a command's table is made of shared parts). */
export function uniqueFlags<S extends Setting> (settings: readonly S[]): S[] {
  const seen = new Set<string>()
  return settings.filter(s => { if (seen.has(s.flag)) return false; seen.add(s.flag); return true })
}

/** The sidecar's engine, listener, spool and log settings (without instance metrics and model servers). */
export type CoreSettings = SettingsOf<typeof kSettings>

/** What the engine of the sidecar and of the pipeline proxy is built from (see `aggregatorFromSettings`). */
export type EngineSettings = Pick<CoreSettings, 'namespace' | 'maxDimensions' | 'maxSeries' | 'graceMs' | 'precisionBits' | 'closeTimeoutMs' |
  'maxQueuedBytes' | 'spoolDir' | 'spoolMaxBytes' | 'checkpointIntervalMs'>

/** What the metric sink is built from (see `sinkFromSettings`). */
export type SinkSettings = Pick<CoreSettings, 'sink' | 'region' | 'cloudwatchEndpoint' | 'noCompression'>

function camel (flag: string): string { return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) }

/** The values of a table's secret settings (`--auth-token`): never to be printed. */
export function secretValues (settings: readonly Setting[], values: object): string[] {
  const v = new Map(Object.entries(values))
  return settings.filter(s => s.secret === true).map(s => v.get(camel(s.flag))).filter((x): x is string => typeof x === 'string')
}

/** The flags every command takes besides its settings. */
const kCommandFlags = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } } as const

/**
 * Parses a command's flags (its settings, `--help`, `--version`); throws a ConfigError naming a
 * flag it does not take and the closest one it does (`--namespce`: did you mean --namespace?).
 */
export function parseCommandLine (command: string, settings: readonly Setting[], args: string[]): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args, options: { ...parseArgsOptions(settings), ...kCommandFlags }, strict: true, allowPositionals: false }).values
  } catch (err) {
    const e = err as Error & { code?: string }
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(e.message)?.[1] : undefined
    if (unknown !== undefined) {
      const flags = [...settings.map(s => s.flag), ...Object.keys(kCommandFlags)]
      const near = closestName(unknown.replace(/^-+/, '').split('=')[0], flags)
      throw invalidOption(`${e.message}${near !== undefined ? `; did you mean --${near}?` : ''}\nminutely ${command} --help lists the options`, { cause: err })
    }
    throw invalidOption(`${e.message}\nminutely ${command} --help lists the options`, { cause: err })
  }
}

/**
 * One warning per MINUTELY_* variable of `env` that no setting reads (a typo is otherwise
 * silently ignored), naming the closest variable of `settings` and its flag:
 * `unknown variable MINUTELY_NAMESPCE ignored; did you mean MINUTELY_NAMESPACE (--namespace)?`.
 * `known` adds the variables that other commands, or the library itself, read.
 */
export function unknownVariables (command: string, settings: readonly Setting[], env: NodeJS.ProcessEnv, known: Iterable<string> = []): string[] {
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
export function parseArgsOptions (settings: readonly Setting[]): Record<string, { type: 'string' | 'boolean', multiple?: boolean }> {
  const o: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = {}
  for (const s of settings) o[s.flag] = s.type === 'boolean' ? { type: 'boolean' } : s.type === 'list' ? { type: 'string', multiple: true } : { type: 'string' }
  return o
}

/** Reads the `--config` JSON file: an object keyed by flag name. */
function readConfigFile (path: string, settings: readonly Setting[]): Record<string, unknown> {
  let doc: unknown
  let text: string
  try {
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '')
  } catch (err) {
    throw invalidOption(`--config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  try {
    doc = JSON.parse(text)
  } catch {
    // Where, never what: the file may hold a token, and the parser's message quotes the text.
    const at = jsonSyntaxErrorAt(text)
    const where = at === undefined ? '' : at.atEnd ? ` at line ${at.line}, column ${at.column}: it ends too soon` : ` at line ${at.line}, column ${at.column}`
    throw invalidOption(`--config ${path}: not valid JSON${where}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidOption(`--config ${path}: must hold a JSON object keyed by flag name`)
  const known = new Set(settings.map(s => s.flag))
  for (const k of Object.keys(doc)) {
    if (known.has(k) && k !== 'config') continue
    const near = closestName(k, [...known].filter(x => x !== 'config'))
    throw invalidOption(`--config ${path}: unknown setting ${JSON.stringify(k)}; ${near !== undefined ? `did you mean ${JSON.stringify(near)}?` : 'keys are flag names such as "statsd-units"'}`)
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
      if (i <= 0) throw invalidOption(`${from}: expected Name=Unit pairs separated by commas; got ${JSON.stringify(x)}`)
      return [x.slice(0, i).trim(), x.slice(i + 1).trim()]
    })
  } else if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    pairs = Object.entries(raw)
  } else {
    throw invalidOption(`${from}: expected Name=Unit pairs or an object of name → unit`)
  }
  for (const [name, unit] of pairs) {
    if (typeof unit !== 'string' || !isStandardUnit(unit)) throw invalidOption(`${from}: ${JSON.stringify(unit)} (for ${name}) is not a CloudWatch unit; use one of ${kStandardUnits.join(', ')}`)
    out[name] = unit
  }
  return out
}

/**
 * Resolves settings from parsed flags, then the environment, then the `--config` file, then
 * defaults. Throws a ConfigError naming the flag, which never shows the value of a secret
 * setting (`--auth-token`), wherever it was given, even where it was given as another's.
 */
export function resolveSettings<const T extends readonly Setting[]> (settings: T, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): SettingsOf<T> {
  try {
    // Each key and value is the one its setting's type says (setting(), SettingsOf).
    return resolveAll(settings, flags, env) as SettingsOf<T>
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const scrubber = new Scrubber()
    for (const v of givenSecrets(settings, flags, env)) scrubber.add(v)
    const message = scrubber.scrub(err.message)
    if (message === err.message) throw err
    throw new ConfigError(message, err.code as 'METRICS_ERR_INVALID_OPTION')
  }
}

/** The values of the secret settings as given, in the flags, the environment and the `--config` file (when it reads). */
function givenSecrets (settings: readonly Setting[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
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

function resolveAll (settings: readonly Setting[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
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
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw invalidOption(`${from} must be a port 0..65535 (0: any free port) or off; got ${JSON.stringify(raw)}`)
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
          throw invalidOption(`${from} must be ${range}; got ${JSON.stringify(raw)}`)
        }
        out[key] = n
        break
      }
      case 'boolean':
        if (typeof raw === 'boolean') out[key] = raw
        else if (/^(1|true|yes|on)$/i.test(String(raw))) out[key] = true
        else if (/^(0|false|no|off)$/i.test(String(raw))) out[key] = false
        else throw invalidOption(`${from} must be true or false; got ${JSON.stringify(raw)}`)
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
export function helpText (command: string, summary: string, settings: readonly Setting[]): string {
  const lines = [`usage: minutely ${command} [options]`, '', summary, '', 'options (each also as an environment variable):']
  for (const s of settings) {
    const flag = `--${s.flag}${s.type === 'boolean' ? '' : ' <' + (s.type === 'integer' ? 'n' : s.type === 'port' ? 'port|off' : s.type === 'map' ? 'k=v,...' : 'value') + '>'}`
    const def = s.default !== undefined ? ` (default ${String(s.default)})` : ''
    lines.push(`  ${flag.padEnd(34)} ${s.help}${def}`, `  ${''.padEnd(34)} ${s.env}`)
  }
  return lines.join('\n')
}

/** The setting behind the library option `key` (`maxSeries` → --max-series, `gracePeriodMs` → --grace-ms), if any. */
function settingOf (key: string, settings: readonly Setting[]): Setting | undefined {
  return settings.find(x => (x.option ?? camel(x.flag)) === key)
}

/** Turns `options.fooBar` in a library ConfigError into the flag and variable that set it. */
export function flagError (err: unknown, settings: readonly Setting[]): unknown {
  if (!(err instanceof ConfigError)) return err
  const msg = err.message.replace(/options\.([a-zA-Z]+)/g, (m, key: string) => {
    const s = settingOf(key, settings)
    return s === undefined ? m : `--${s.flag} (${s.env})`
  })
  return msg === err.message ? err : new ConfigError(msg, err.code, { cause: err })
}

/** Turns `options.fooBar` in a library message (a warning, a rejection) into the flag that sets it. */
export function flagText (message: string, settings: readonly Setting[]): string {
  return message.replace(/options\.([a-zA-Z]+)/g, (m, key: string) => {
    const s = settingOf(key, settings)
    return s === undefined ? m : `--${s.flag}`
  })
}
