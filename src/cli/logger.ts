/**
 * The sidecar's logger, on pino: one JSON object a line on stderr (stdout is the EMF sink's),
 * with `level` as a word (`"info"`, `"warn"` …) and `time` in ISO 8601, or a human mode
 * (`12:03:04.120 WARN  message key=value`) for a terminal.
 *
 * Secrets never reach the stream: fields named like credentials are censored by pino's
 * `redact`, and every line is scrubbed before it is written — of the literal values it was
 * given (`secrets`, and the AWS / MINUTELY_*TOKEN* variables of the environment), and of
 * things that look like credentials wherever they appear (bearer tokens, AWS access key
 * ids, SigV4 signatures, passwords in URLs, `secret=…` pairs).
 *
 * `logger.line` is the `(line: string) => void` shape the sidecar takes today (`SidecarDeps.log`):
 * a line starting with `warning:` is logged at warn (prefix dropped), `publish:` (a failed request)
 * at warn, `error:` and `close failed` at error, anything else at info.
 *
 * {@link logProcessWarnings} makes process warnings (the AWS SDK's, Node's) log lines too.
 */
import { pino, stdTimeFunctions, type Logger as PinoLogger } from 'pino'
import { invalidOption } from '../errors.js'

export type LogFormat = 'json' | 'pretty' | 'auto'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface LogStream { write (chunk: string): unknown, isTTY?: boolean }

export interface CreateLoggerOptions {
  /** @default MINUTELY_LOG_LEVEL, else 'info' */
  level?: LogLevel
  /** 'auto': pretty when the stream is a terminal, JSON otherwise. @default 'auto' */
  format?: LogFormat
  /** @default process.stderr */
  stream?: LogStream
  /** Colors in pretty mode. @default stream is a TTY and NO_COLOR is unset */
  color?: boolean
  /** Literal values that must never be printed (tokens, keys). Empty and very short values are ignored. */
  secrets?: Array<string | undefined | null>
  /** The scrubber to use, shared with what prints before the logger exists (its secrets and `secrets`). @default a new one */
  scrubber?: Scrubber
  /** Where to find secret variables (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, MINUTELY_*TOKEN*…). @default process.env */
  env?: NodeJS.ProcessEnv
  /** Fields on every line. @default { name: 'minutely' } (plus pid and hostname in JSON) */
  base?: Record<string, unknown>
}

export type Logger = PinoLogger & {
  /** The `(line: string) => void` adapter: `warning: …` / `publish: …` → warn, `error: …` → error, else info. */
  line: (line: string) => void
  /** Adds a value that must never be printed (e.g. a token read later). */
  addSecret: (value: string | undefined | null) => void
  /** The text with every secret removed, for what is printed outside the log (a message on exit). */
  scrub: (text: string) => string
}

const kCensor = '[redacted]'

/** Field paths censored by pino (top level and one level down). */
export const kRedactKeys = ['token', 'authToken', 'authorization', 'Authorization', 'password', 'secret', 'secretAccessKey', 'sessionToken',
  'accessKeyId', 'credentials', 'apiKey', 'api_key', 'cookie', 'x-amz-security-token']
const kRedactPaths = [...kRedactKeys.map(k => /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`), ...kRedactKeys.map(k => /^[A-Za-z_$][\w$]*$/.test(k) ? `*.${k}` : `*["${k}"]`),
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie']

/** Environment variables whose values are secrets (a `…_FILE` variable names where one is: a path). */
function envSecrets (env: NodeJS.ProcessEnv): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k.endsWith('_FILE')) continue
    if (k === 'AWS_SECRET_ACCESS_KEY' || k === 'AWS_SESSION_TOKEN' || k === 'AWS_SECURITY_TOKEN' || k === 'AWS_BEARER_TOKEN' ||
      (k.startsWith('MINUTELY_') && /TOKEN|SECRET|PASSWORD|CREDENTIAL|API_KEY/.test(k))) out.push(v)
  }
  return out
}

const kPatterns: Array<[RegExp, string]> = [
  // AWS access key ids (AKIA…, ASIA…): identify a key; the secret half is a literal secret.
  [/\b(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA)[A-Z0-9]{16}\b/g, '[redacted-key-id]'],
  // Authorization schemes (RFC 7235: the scheme is case-insensitive; Bearer is the one minutely takes).
  [/\b([Bb][Ee][Aa][Rr][Ee][Rr]|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{6,}/g, `$1$2${kCensor}`],
  // SigV4 signatures and session tokens in headers or presigned URLs.
  [/\b(Signature=)[0-9a-f]{16,}/gi, `$1${kCensor}`],
  [/\b(X-Amz-Security-Token=|X-Amz-Signature=|X-Amz-Credential=)[^&\s"\\]+/gi, `$1${kCensor}`],
  // Passwords in URLs: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@"\\]+:)[^@\s/"\\]+@/gi, `$1${kCensor}@`],
  // key=value and "key":"value" pairs whose key names a secret.
  [/\b((?:aws_)?secret_?access_?key|session_?token|security_?token|password|passwd|api_?key|secret|token)(=|\\?"\s*:\s*\\?")([^"'\s,&}\\]+)/gi, `$1$2${kCensor}`],
]

/**
 * The shortest literal secret scrubbed: a shorter one would censor common words, so it is not
 * taken as a secret at all (the sidecar refuses a bearer token that short).
 */
export const kMinSecretLength = 6

/** Removes secrets from a line of text. */
export class Scrubber {
  readonly #literals = new Set<string>()

  add (value: string | undefined | null): void {
    if (typeof value !== 'string' || value.length < kMinSecretLength) return
    this.#literals.add(value)
    const escaped = JSON.stringify(value).slice(1, -1)
    if (escaped !== value) this.#literals.add(escaped)
  }

  scrub (line: string): string {
    let out = line
    for (const lit of this.#literals) if (out.includes(lit)) out = out.split(lit).join(kCensor)
    for (const [re, to] of kPatterns) out = out.replace(re, to)
    return out
  }
}

/** A scrubber of the secret variables of `env` (AWS_SECRET_ACCESS_KEY, MINUTELY_*TOKEN*…) and of `secrets`. */
export function secretScrubber (secrets: Array<string | undefined | null> = [], env: NodeJS.ProcessEnv = process.env): Scrubber {
  const scrubber = new Scrubber()
  for (const s of envSecrets(env)) scrubber.add(s)
  for (const s of secrets) scrubber.add(s)
  return scrubber
}

const kLevelColor: Record<string, string> = { trace: '\x1b[90m', debug: '\x1b[36m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[35m' }
const kHidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'err'])

/** Renders one JSON log line for a human: `12:03:04.120 WARN  message key=value`. */
export function prettyLine (json: string, color = false): string {
  let o: Record<string, unknown>
  try { o = JSON.parse(json) as Record<string, unknown> } catch { return json.endsWith('\n') ? json : json + '\n' }
  const level = String(o.level ?? 'info')
  const t = typeof o.time === 'string' ? o.time.slice(11, 23) : new Date(Number(o.time ?? Date.now())).toISOString().slice(11, 23)
  const lv = level.toUpperCase().padEnd(5)
  const fields: string[] = []
  for (const [k, v] of Object.entries(o)) {
    if (kHidden.has(k)) continue
    const s = typeof v === 'string' ? (/^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)) : JSON.stringify(v)
    fields.push(`${k}=${s}`)
  }
  let out = `${color ? '\x1b[90m' : ''}${t}${color ? '\x1b[0m' : ''} ${color ? (kLevelColor[level] ?? '') : ''}${lv}${color ? '\x1b[0m' : ''} ${String(o.msg ?? '')}`
  if (fields.length > 0) out += ` ${color ? '\x1b[90m' : ''}${fields.join(' ')}${color ? '\x1b[0m' : ''}`
  const err = o.err as { type?: string, message?: string, stack?: string } | undefined
  if (err !== undefined && err !== null) out += '\n    ' + (typeof err.stack === 'string' ? err.stack.split('\n').join('\n    ') : `${err.type ?? 'Error'}: ${err.message ?? ''}`)
  return out + '\n'
}

const kLevels = /^(fatal|error|warn|info|debug|trace|silent)$/
const kFormatNames: readonly LogFormat[] = ['json', 'pretty', 'auto']
const kLevelNames: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** `--log-format` as a {@link LogFormat}; throws a ConfigError naming the flag otherwise. */
export function logFormatOf (value: string): LogFormat {
  const f = kFormatNames.find(x => x === value)
  if (f === undefined) throw invalidOption(`--log-format must be json, pretty or auto; got ${JSON.stringify(value)}`)
  return f
}

/** `--log-level` as a {@link LogLevel}; throws a ConfigError naming the flag otherwise. */
export function logLevelOf (value: string): LogLevel {
  const l = kLevelNames.find(x => x === value)
  if (l === undefined) throw invalidOption(`--log-level must be one of ${kLevelNames.join(', ')}; got ${JSON.stringify(value)}`)
  return l
}

/** Creates the sidecar's logger. Throws a ConfigError on an unknown format or level (`--log-format`, `--log-level`). */
export function createLogger (opts: CreateLoggerOptions = {}): Logger {
  if (opts.format !== undefined) logFormatOf(opts.format)
  if (opts.level !== undefined) logLevelOf(opts.level)
  const env = opts.env ?? process.env
  const stream: LogStream = opts.stream ?? process.stderr
  const tty = stream.isTTY === true
  const format = opts.format === undefined || opts.format === 'auto' ? (tty ? 'pretty' : 'json') : opts.format
  const color = opts.color ?? (tty && env.NO_COLOR === undefined)
  const envLevel = env.MINUTELY_LOG_LEVEL
  const level: LogLevel = opts.level ?? (envLevel !== undefined && kLevels.test(envLevel) ? envLevel as LogLevel : 'info')
  const scrubber = opts.scrubber ?? new Scrubber()
  for (const s of envSecrets(env)) scrubber.add(s)
  for (const s of opts.secrets ?? []) scrubber.add(s)
  const destination = {
    write (chunk: string): void {
      const clean = scrubber.scrub(chunk)
      stream.write(format === 'pretty' ? prettyLine(clean, color) : clean)
    },
  }
  const base = opts.base ?? { name: 'minutely' }
  const p = pino({
    level,
    base: format === 'pretty' ? base : { ...base, pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: kRedactPaths, censor: kCensor },
  }, destination)
  const line = (s: string): void => {
    const text = String(s)
    let m: RegExpExecArray | null
    if ((m = /^warn(?:ing)?:\s*/i.exec(text)) !== null) p.warn(text.slice(m[0].length))
    else if ((m = /^(?:error|fatal):\s*/i.exec(text)) !== null) p.error(text.slice(m[0].length))
    else if (/^close failed\b/i.test(text)) p.error(text)
    else if (/^(?:publish|generator):/i.test(text)) p.warn(text)   // a failed request (retried) / the demo's generator
    else p.info(text)
  }
  return Object.assign(p, { line, addSecret: (v: string | undefined | null) => { scrubber.add(v) }, scrub: (t: string) => scrubber.scrub(t) }) as Logger
}

/** Where {@link logProcessWarnings} sends each warning: a pino logger, or anything with its `warn(fields, message)`. */
export interface WarningSink { warn (fields: Record<string, unknown>, message: string): void }

/**
 * Logs each process warning as one `warn` line instead of letting Node print it as text on
 * stderr, which is the JSON log stream. The AWS SDK, for one, calls `process.emitWarning` with
 * an 8-line NodeVersionSupportWarning the first time a client is made on Node < 22; Node's own
 * deprecation and MaxListenersExceeded warnings come the same way.
 *
 * Node prints warnings through a `'warning'` listener it adds at start-up (none under
 * `--no-warnings` or `NODE_NO_WARNINGS=1`). That listener is replaced by one that logs; when
 * there is none, warnings stay off, as asked. Returns a function that puts Node's back.
 */
export function logProcessWarnings (log: WarningSink): () => void {
  const nodes = process.listeners('warning')
  if (nodes.length === 0) return () => {}
  for (const l of nodes) process.removeListener('warning', l)
  const onWarning = (w: Error & { code?: unknown }): void => {
    const fields: Record<string, unknown> = { warning: w.name }
    if (w.code !== undefined) fields.code = w.code
    log.warn(fields, String(w.message).replace(/\s+/g, ' ').trim())
  }
  process.on('warning', onWarning)
  return () => {
    process.removeListener('warning', onWarning)
    for (const l of nodes) process.on('warning', l)
  }
}
