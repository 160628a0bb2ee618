/**
 * The sidecar's settings: each a flag and a MINUTELY_* variable (flags win), with a default
 * and a line of help. One table drives parseArgs, the environment and --help.
 */
import { ConfigError } from '../errors.js'

export type SettingType = 'string' | 'integer' | 'boolean' | 'list'

export interface Setting {
  flag: string
  env: string
  type: SettingType
  default?: string | number | boolean
  help: string
  /** Hidden from logs (tokens). */
  secret?: boolean
}

export const kSettings: Setting[] = [
  { flag: 'sink', env: 'MINUTELY_SINK', type: 'string', default: 'cloudwatch', help: 'where sealed minutes go: cloudwatch | emf | memory' },
  { flag: 'namespace', env: 'MINUTELY_NAMESPACE', type: 'string', default: 'Minutely', help: 'CloudWatch namespace (must not start with AWS/)' },
  { flag: 'region', env: 'MINUTELY_REGION', type: 'string', help: 'AWS region (default: the SDK chain, AWS_REGION)' },
  { flag: 'cloudwatch-endpoint', env: 'MINUTELY_CLOUDWATCH_ENDPOINT', type: 'string', help: 'CloudWatch endpoint URL (default: AWS_ENDPOINT_URL_CLOUDWATCH, else AWS)' },
  { flag: 'no-compression', env: 'MINUTELY_NO_COMPRESSION', type: 'boolean', default: false, help: 'do not gzip PutMetricData bodies' },
  { flag: 'http-port', env: 'MINUTELY_HTTP_PORT', type: 'integer', default: 8126, help: 'HTTP ingest port (0: any free port)' },
  { flag: 'bind', env: 'MINUTELY_BIND', type: 'string', default: '127.0.0.1', help: 'address the listeners bind' },
  { flag: 'max-dimensions', env: 'MINUTELY_MAX_DIMENSIONS', type: 'integer', default: 10, help: 'most dimensions a series may have (≤ 30)' },
  { flag: 'max-series', env: 'MINUTELY_MAX_SERIES', type: 'integer', default: 20000, help: 'cap on distinct series; past it samples go to an overflow series' },
  { flag: 'grace-ms', env: 'MINUTELY_GRACE_MS', type: 'integer', default: 5000, help: 'how long after a minute ends it is sealed' },
  { flag: 'precision-bits', env: 'MINUTELY_PRECISION_BITS', type: 'integer', default: 6, help: 'histogram precision: 6 → percentiles within 0.78%, 7 → 0.39%' },
  { flag: 'max-body-bytes', env: 'MINUTELY_MAX_BODY_BYTES', type: 'integer', default: 1048576, help: 'largest HTTP body accepted' },
  { flag: 'close-timeout-ms', env: 'MINUTELY_CLOSE_TIMEOUT_MS', type: 'integer', default: 10000, help: 'on SIGTERM, how long to spend publishing before exit' },
]

export type Settings = Record<string, string | number | boolean | string[] | undefined>

function camel (flag: string): string { return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) }

/** parseArgs option descriptors for the settings. */
export function parseArgsOptions (settings: Setting[]): Record<string, { type: 'string' | 'boolean', multiple?: boolean }> {
  const o: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = {}
  for (const s of settings) o[s.flag] = s.type === 'boolean' ? { type: 'boolean' } : s.type === 'list' ? { type: 'string', multiple: true } : { type: 'string' }
  return o
}

/** Resolves settings from parsed flags, then the environment, then defaults. Throws a ConfigError naming the flag. */
export function resolveSettings (settings: Setting[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Settings {
  const out: Settings = {}
  for (const s of settings) {
    let raw: unknown = flags[s.flag]
    let from = `--${s.flag}`
    if (raw === undefined && env[s.env] !== undefined && env[s.env] !== '') { raw = env[s.env]; from = s.env }
    const key = camel(s.flag)
    if (raw === undefined) { out[key] = s.type === 'list' ? [] : s.default; continue }
    switch (s.type) {
      case 'integer': {
        const n = Number(raw)
        if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${from} must be a non-negative integer; got ${JSON.stringify(raw)}`, 'METRICS_ERR_INVALID_OPTION')
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
    const flag = `--${s.flag}${s.type === 'boolean' ? '' : ' <' + (s.type === 'integer' ? 'n' : 'value') + '>'}`
    const def = s.default !== undefined ? ` (default ${String(s.default)})` : ''
    lines.push(`  ${flag.padEnd(34)} ${s.help}${def}`, `  ${''.padEnd(34)} ${s.env}`)
  }
  return lines.join('\n')
}
