/**
 * The project's own strict CloudWatch Logs endpoint: a `node:http` server on 127.0.0.1 that
 * speaks what `@aws-sdk/client-cloudwatch-logs` 3.116x sends, enforces the PutLogEvents
 * contract (the limits below, from the API reference), and injects faults like the metrics
 * endpoint does.
 *
 * What the SDK sends (captured from a real request, SDK 3.1164):
 *   POST /  HTTP/1.1, `connection: keep-alive`
 *   content-type: application/x-amz-json-1.1
 *   x-amz-target: Logs_20140328.PutLogEvents   (CreateLogGroup, CreateLogStream, ...)
 *   amz-sdk-invocation-id: <uuid, the same for every retry of one call>
 *   amz-sdk-request: attempt=N; max=M
 *   authorization: AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/us-east-1/logs/aws4_request, ...
 *   body: {"logGroupName":"/x","logStreamName":"a/b","logEvents":[{"timestamp":1,"message":"héllo"}]}
 * No request compression. Timestamps are epoch MILLISECONDS (JSON numbers).
 *
 * Errors are answered as the AWS JSON 1.1 protocol does: the status, a header
 * `x-amzn-errortype: Code` and `{"__type": Code, "message": ...}`; the SDK names the error
 * after the code (`err.name === 'ResourceNotFoundException'`).
 *
 * What it enforces, per PutLogEvents:
 * - the group and the stream exist (ResourceNotFoundException);
 * - 1 to 10,000 events; each message a non-empty string; each event (UTF-8 message + 26 bytes)
 *   at most `maxEventBytes` (default 262,144: the safe 256 KB limit); the batch (same count)
 *   at most 1,048,576 bytes; timestamps integers, in chronological order; the valid events
 *   spanning at most 24 hours (InvalidParameterException for all of these);
 * - events older than 14 days (`tooOldLogEventEndIndex`) or more than 2 hours ahead
 *   (`tooNewLogEventStartIndex`) are refused while the rest is stored, as the service does;
 * - a `sequenceToken` is accepted and ignored.
 * CreateLogGroup/CreateLogStream answer ResourceAlreadyExistsException for existing ones,
 * check the names (group: 1-512 of [.-_/#A-Za-z0-9]; stream: 1-512, no ':' or '*'), and
 * CreateLogStream answers ResourceNotFoundException when the group is missing.
 * DescribeLogStreams, GetLogEvents, DeleteLogGroup and DeleteLogStream are served for tests.
 *
 * Faults never store the events, except `acceptThenTimeout`, which validates and stores them
 * (when valid) and then never answers: "CloudWatch Logs took it, the client timed out" — the
 * retry then stores the same events a second time (the documented duplicate window).
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { EventEmitter } from 'node:events'
import { FaultRule, seededRandom, type FaultHandleOf, type FaultPlanBase } from './fault-rule.js'

// ---------------------------------------------------------------------------------------------
// The PutLogEvents contract, as the AWS documentation states it. Stated here, never imported
// from src/logs/limits.ts: a fake that shared the product's constants would let a wrong limit
// pass on both sides. logs-strict-endpoint.test.ts compares the two.
//   PutLogEvents:    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
//   CreateLogGroup:  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
//   CreateLogStream: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html
// ---------------------------------------------------------------------------------------------

/** "The maximum number of log events in a batch is 10,000." */
export const kMaxEventsPerBatch = 10_000
/** "The maximum batch size is 1,048,576 bytes. This size is calculated as the sum of all event messages in UTF-8, plus 26 bytes for each log event." */
export const kMaxBatchBytes = 1_048_576
export const kEventOverheadBytes = 26
/**
 * "Each log event can be no larger than 256 KB" (the page says 1 MB since 2025; older
 * endpoints and the CloudWatch agent still hold 256 KB). The default is the stricter one.
 */
export const kMaxEventBytes = 256 * 1024
/** "A batch of log events in a single request cannot span more than 24 hours." */
export const kMaxBatchSpanMs = 24 * 3600_000
/** Events "more than 14 days in the past" and "more than 2 hours in the future" are rejected. */
export const kMaxEventAgeMs = 14 * 24 * 3600_000
export const kMaxEventFutureMs = 2 * 3600_000
/** CreateLogGroup.logGroupName: length 1 to 512, pattern `[\.\-_/#A-Za-z0-9]+`. */
export const kLogGroupNamePattern = /^[.\-_/#A-Za-z0-9]{1,512}$/
/** CreateLogStream.logStreamName: length 1 to 512, pattern `[^:*]*`. */
export const kMaxLogStreamNameLength = 512

const kTargetPrefix = 'Logs_20140328.'
const kJsonContentType = 'application/x-amz-json-1.1'
const kSigV4 = /^AWS4-HMAC-SHA256 Credential=[^/\s]+\/\d{8}\/[^/\s]+\/logs\/aws4_request,/

/** The error codes this endpoint answers with. */
export type StrictLogsErrorCode =
  | 'InvalidParameterException'
  | 'ResourceNotFoundException'
  | 'ResourceAlreadyExistsException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'MissingAuthenticationTokenException'
  | 'ThrottlingException'
  | 'ServiceUnavailableException'
  | 'InternalFailure'

const kStatus: Record<StrictLogsErrorCode, number> = {
  InvalidParameterException: 400,
  ResourceNotFoundException: 400,
  ResourceAlreadyExistsException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  MissingAuthenticationTokenException: 403,
  ThrottlingException: 400,
  ServiceUnavailableException: 503,
  InternalFailure: 500,
}

/** A rejection: the code, the HTTP status and a CloudWatch Logs-style message. */
export interface StrictLogsRejection { code: StrictLogsErrorCode, status: number, message: string }

function reject (code: StrictLogsErrorCode, message: string): StrictLogsRejection {
  return { code, status: kStatus[code], message }
}

/** One stored event. */
export interface StoredLogEvent { timestamp: number, message: string, ingestionTime: number }

/** Options of {@link validatePutLogEvents}. */
export interface ValidateLogsOptions {
  /** The endpoint's clock, epoch ms. */
  now: number
  /** Largest event, UTF-8 message + 26 bytes. @default 262,144 */
  maxEventBytes?: number
}

/** What a PutLogEvents body validates to: the indexes of the events to store, and the rejected info. */
export type ValidateLogsResult =
  | { ok: true, group: string, stream: string, events: Array<{ timestamp: number, message: string }>, stored: number[], rejectedInfo?: Record<string, number> }
  | ({ ok: false } & StrictLogsRejection)

/**
 * Validates a decoded PutLogEvents body against the contract (existence of group and stream
 * is checked by the endpoint, not here). Pure; exported for unit tests.
 */
export function validatePutLogEvents (body: unknown, opts: ValidateLogsOptions): ValidateLogsResult {
  const maxEventBytes = opts.maxEventBytes ?? kMaxEventBytes
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, ...reject('SerializationException', 'The request body must be a JSON object.') }
  const b = body as Record<string, unknown>
  if (typeof b.logGroupName !== 'string') return { ok: false, ...reject('InvalidParameterException', '1 validation error detected: logGroupName must not be null.') }
  if (typeof b.logStreamName !== 'string') return { ok: false, ...reject('InvalidParameterException', '1 validation error detected: logStreamName must not be null.') }
  const events = b.logEvents
  if (!Array.isArray(events) || events.length === 0) return { ok: false, ...reject('InvalidParameterException', 'logEvents must contain at least 1 event.') }
  if (events.length > kMaxEventsPerBatch) {
    return { ok: false, ...reject('InvalidParameterException', `1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to ${kMaxEventsPerBatch} (got ${events.length}).`) }
  }
  let batchBytes = 0
  let prev = -Infinity
  const out: Array<{ timestamp: number, message: string }> = []
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as { timestamp?: unknown, message?: unknown }
    if (typeof e !== 'object' || e === null) return { ok: false, ...reject('InvalidParameterException', `logEvents.${i + 1} is not an event.`) }
    if (typeof e.timestamp !== 'number' || !Number.isSafeInteger(e.timestamp)) {
      return { ok: false, ...reject('InvalidParameterException', `logEvents.${i + 1}.timestamp must be an integer of epoch milliseconds (got ${JSON.stringify(e.timestamp)}).`) }
    }
    if (typeof e.message !== 'string' || e.message.length === 0) {
      return { ok: false, ...reject('InvalidParameterException', `1 validation error detected: Value at 'logEvents.${i + 1}.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1.`) }
    }
    const size = Buffer.byteLength(e.message, 'utf8') + kEventOverheadBytes
    if (size > maxEventBytes) {
      return { ok: false, ...reject('InvalidParameterException', `Log event ${i + 1} is too large: ${size} bytes (message + ${kEventOverheadBytes}) exceeds ${maxEventBytes}.`) }
    }
    batchBytes += size
    if (e.timestamp < prev) return { ok: false, ...reject('InvalidParameterException', 'Log events in a single PutLogEvents request must be in chronological order.') }
    prev = e.timestamp
    out.push({ timestamp: e.timestamp, message: e.message })
  }
  if (batchBytes > kMaxBatchBytes) {
    return { ok: false, ...reject('InvalidParameterException', `Upload too large: ${batchBytes} bytes exceeds ${kMaxBatchBytes} bytes (UTF-8 messages + ${kEventOverheadBytes} bytes per event).`) }
  }
  const oldest = opts.now - kMaxEventAgeMs
  const newest = opts.now + kMaxEventFutureMs
  const stored: number[] = []
  let tooOldEnd = -1
  let tooNewStart = -1
  for (let i = 0; i < out.length; i++) {
    const t = out[i].timestamp
    if (t < oldest) tooOldEnd = i
    else if (t > newest) { if (tooNewStart < 0) tooNewStart = i } else stored.push(i)
  }
  if (stored.length > 0 && out[stored[stored.length - 1]].timestamp - out[stored[0]].timestamp > kMaxBatchSpanMs) {
    return { ok: false, ...reject('InvalidParameterException', 'The batch of log events in a single PutLogEvents request cannot span more than 24 hours.') }
  }
  const info: Record<string, number> = {}
  if (tooOldEnd >= 0) info.tooOldLogEventEndIndex = tooOldEnd
  if (tooNewStart >= 0) info.tooNewLogEventStartIndex = tooNewStart
  return { ok: true, group: b.logGroupName, stream: b.logStreamName, events: out, stored, rejectedInfo: Object.keys(info).length > 0 ? info : undefined }
}

// ---------------------------------------------------------------------------------------------
// Faults (same vocabulary as the metrics endpoint)
// ---------------------------------------------------------------------------------------------

/**
 * - `throttle`: HTTP 400 ThrottlingException ("Rate exceeded").
 * - `500`: HTTP 500 InternalFailure.  `503`: HTTP 503 ServiceUnavailableException.
 * - `timeout`: read the request, never answer.
 * - `acceptThenTimeout`: validate and, when valid, STORE, then never answer.
 * - `reset`: destroy the socket as soon as the request headers arrive.
 * - `invalid`: answer InvalidParameterException without looking at the request.
 */
export type LogsFaultKind = 'throttle' | '500' | '503' | 'timeout' | 'acceptThenTimeout' | 'reset' | 'invalid'
export const kLogsFaultKinds: readonly LogsFaultKind[] = ['throttle', '500', '503', 'timeout', 'acceptThenTimeout', 'reset', 'invalid']

export interface LogsFaultPlan extends FaultPlanBase {
  /** Only requests of this operation (`PutLogEvents`, `CreateLogStream`, ...). Default: all. */
  op?: string
  /** Only PutLogEvents requests with an event whose message contains this text. */
  messageContains?: string
}

export type LogsFaultHandle = FaultHandleOf<LogsFaultKind>

/** The shared rule, plus which requests it applies to. */
class Rule extends FaultRule<LogsFaultKind, LogsFaultPlan> {
  matches (op: string | undefined, body: string): boolean {
    if (this.plan.op !== undefined && this.plan.op !== op) return false
    if (this.plan.messageContains !== undefined && !body.includes(this.plan.messageContains)) return false
    return true
  }
}

// ---------------------------------------------------------------------------------------------
// The endpoint
// ---------------------------------------------------------------------------------------------

export interface StrictLogsEndpointOptions {
  /** The clock timestamps are checked against (epoch ms). Default `Date.now`. */
  now?: () => number
  /** Largest event (message + 26 bytes). Default 262,144. */
  maxEventBytes?: number
  /** Delay before every answer. Default 0. Mutable later. */
  latencyMs?: number
  /** Seed of the `probability` RNG. */
  seed?: number
  /** Require SigV4 scoped to service `logs`. Default true. */
  requireSigV4?: boolean
}

/** One HTTP request, in arrival order. */
export interface LogsRequestLogEntry {
  seq: number
  op: string | undefined
  attempt: number | undefined
  invocationId: string | undefined
  fault?: LogsFaultKind
  outcome: 'accepted' | 'rejected' | 'faulted' | 'pending'
  status?: number
  code?: StrictLogsErrorCode
  /** PutLogEvents: the group, stream and number of events sent. */
  group?: string
  stream?: string
  events?: number
  /** PutLogEvents: bytes as the limit counts them. */
  batchBytes?: number
}

export interface StrictLogsEndpoint {
  readonly endpoint: string
  readonly port: number
  readonly log: readonly LogsRequestLogEntry[]
  latencyMs: number
  /** Stored events of a stream, in storage order. */
  events(group: string, stream: string): StoredLogEvent[]
  /** Existing groups and their streams. */
  groups(): Map<string, string[]>
  /** Creates a group (and streams) directly, as if made earlier. */
  seed(group: string, ...streams: string[]): void
  /** Deletes a group directly. */
  dropGroup(group: string): void
  /** Accepted PutLogEvents calls (faulted acceptThenTimeout included, flagged). */
  readonly puts: ReadonlyArray<{ group: string, stream: string, events: number, batchBytes: number, attempt: number | undefined, viaFault?: 'acceptThenTimeout' }>
  readonly rejections: readonly StrictLogsRejection[]
  inject(fault: LogsFaultKind, plan?: LogsFaultPlan): LogsFaultHandle
  clearFaults(): void
  waitFor(predicate: (ep: StrictLogsEndpoint) => boolean, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

function headerString (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

class StrictLogsEndpointImpl implements StrictLogsEndpoint {
  endpoint = ''
  port = 0
  log: LogsRequestLogEntry[] = []
  puts: Array<{ group: string, stream: string, events: number, batchBytes: number, attempt: number | undefined, viaFault?: 'acceptThenTimeout' }> = []
  rejections: StrictLogsRejection[] = []
  latencyMs: number
  private readonly store = new Map<string, Map<string, StoredLogEvent[]>>()
  private readonly rules = new Set<Rule>()
  private readonly server: http.Server
  private readonly sockets = new Set<Socket>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly emitter = new EventEmitter()
  private readonly now: () => number
  private readonly rand: () => number
  private readonly requireSigV4: boolean
  private readonly maxEventBytes: number
  private closed = false

  constructor (opts: StrictLogsEndpointOptions) {
    this.now = opts.now ?? Date.now
    this.latencyMs = opts.latencyMs ?? 0
    this.rand = seededRandom(opts.seed ?? 0x10c5)
    this.requireSigV4 = opts.requireSigV4 ?? true
    this.maxEventBytes = opts.maxEventBytes ?? kMaxEventBytes
    this.emitter.setMaxListeners(0)
    this.server = http.createServer((req, res) => { this.handle(req, res) })
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async listen (): Promise<void> {
    await new Promise<void>((resolve, rejectP) => {
      this.server.once('error', rejectP)
      this.server.listen(0, '127.0.0.1', () => { this.server.off('error', rejectP); resolve() })
    })
    this.port = (this.server.address() as AddressInfo).port
    this.endpoint = `http://127.0.0.1:${this.port}`
  }

  events (group: string, stream: string): StoredLogEvent[] {
    return [...(this.store.get(group)?.get(stream) ?? [])]
  }

  groups (): Map<string, string[]> {
    return new Map([...this.store].map(([g, s]) => [g, [...s.keys()]]))
  }

  seed (group: string, ...streams: string[]): void {
    let g = this.store.get(group)
    if (g === undefined) { g = new Map(); this.store.set(group, g) }
    for (const s of streams) if (!g.has(s)) g.set(s, [])
  }

  dropGroup (group: string): void { this.store.delete(group) }

  inject (fault: LogsFaultKind, plan: LogsFaultPlan = {}): LogsFaultHandle {
    if (!kLogsFaultKinds.includes(fault)) throw new Error(`strict logs endpoint: unknown fault ${String(fault)}`)
    const r = new Rule(fault, plan, this.rules)
    this.rules.add(r)
    return r
  }

  clearFaults (): void { for (const r of [...this.rules]) r.remove() }

  waitFor (predicate: (ep: StrictLogsEndpoint) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return Promise.resolve()
    return new Promise<void>((resolve, rejectP) => {
      const on = (): void => { if (predicate(this)) { done(); resolve() } }
      const timer = setTimeout(() => { done(); rejectP(new Error(`strict logs endpoint: waitFor timed out after ${timeoutMs} ms (${this.log.length} requests)`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); this.emitter.off('update', on) }
      this.emitter.on('update', on)
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    const p = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    for (const s of this.sockets) s.destroy()
    await p
  }

  private settle (): void { this.emitter.emit('update') }

  private later (fn: () => void): void {
    if (this.latencyMs <= 0) { fn(); return }
    const t = setTimeout(() => { this.timers.delete(t); fn() }, this.latencyMs)
    this.timers.add(t)
  }

  private pickFault (op: string | undefined, body: string): LogsFaultKind | undefined {
    let picked: LogsFaultKind | undefined
    for (const r of [...this.rules]) {
      if (r.fault === 'reset' && r.plan.messageContains === undefined) continue // decided on the headers
      if (!r.matches(op, body)) continue
      if (picked !== undefined) { if (!r.removed) r.seen++; continue }
      if (r.take(this.rand)) picked = r.fault
    }
    return picked
  }

  private send (res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): void {
    if (res.destroyed || res.writableEnded) return
    res.writeHead(status, { ...headers, 'x-amzn-requestid': `strict-logs-${this.log.length}`, 'content-length': String(Buffer.byteLength(body)) })
    res.end(body)
  }

  private sendError (res: http.ServerResponse, entry: LogsRequestLogEntry, r: StrictLogsRejection): void {
    entry.status = r.status
    entry.code = r.code
    if (entry.outcome === 'pending') entry.outcome = 'rejected'
    if (entry.fault === undefined) this.rejections.push(r)
    this.later(() => {
      this.send(res, r.status, { 'content-type': kJsonContentType, 'x-amzn-errortype': r.code }, JSON.stringify({ __type: r.code, message: r.message }))
      this.settle()
    })
  }

  private ok (res: http.ServerResponse, entry: LogsRequestLogEntry, doc: unknown): void {
    entry.status = 200
    entry.outcome = 'accepted'
    this.later(() => {
      this.send(res, 200, { 'content-type': kJsonContentType }, JSON.stringify(doc))
      this.settle()
    })
  }

  private handle (req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = headerString(req.headers['x-amz-target'])
    const op = target?.startsWith(kTargetPrefix) ? target.slice(kTargetPrefix.length) : target
    const attemptH = /attempt=(\d+)/.exec(headerString(req.headers['amz-sdk-request']) ?? '')
    const entry: LogsRequestLogEntry = {
      seq: this.log.length + 1,
      op,
      attempt: attemptH !== null ? Number(attemptH[1]) : undefined,
      invocationId: headerString(req.headers['amz-sdk-invocation-id']),
      outcome: 'pending',
    }
    this.log.push(entry)
    // `reset` may not depend on the body: decide it on the headers.
    const early = [...this.rules].find(r => r.fault === 'reset' && r.plan.messageContains === undefined && r.matches(op, ''))
    if (early !== undefined && early.take(this.rand)) {
      entry.fault = 'reset'
      entry.outcome = 'faulted'
      req.socket.destroy()
      this.settle()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const fault = this.pickFault(op, raw)
      if (fault !== undefined) { entry.fault = fault; entry.outcome = 'faulted' }
      switch (fault) {
        case 'reset': req.socket.destroy(); this.settle(); return
        case 'timeout': this.settle(); return
        case 'throttle': this.sendError(res, entry, reject('ThrottlingException', 'Rate exceeded')); return
        case '500': this.sendError(res, entry, reject('InternalFailure', 'Internal failure (injected fault)')); return
        case '503': this.sendError(res, entry, reject('ServiceUnavailableException', 'Service unavailable (injected fault)')); return
        case 'invalid': this.sendError(res, entry, reject('InvalidParameterException', 'Invalid parameter (injected fault)')); return
        default: break
      }
      const bad = this.checkProtocol(req, op)
      if (bad !== null) { this.sendError(res, entry, bad); return }
      let body: Record<string, unknown>
      try {
        body = JSON.parse(raw === '' ? '{}' : raw) as Record<string, unknown>
      } catch (err) {
        this.sendError(res, entry, reject('SerializationException', `The request body is not JSON: ${(err as Error).message}`))
        return
      }
      this.operate(op!, body, res, entry, fault === 'acceptThenTimeout')
    })
  }

  private checkProtocol (req: http.IncomingMessage, op: string | undefined): StrictLogsRejection | null {
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') return reject('UnknownOperationException', `Only POST / is served (got ${req.method} ${req.url}).`)
    const ct = (headerString(req.headers['content-type']) ?? '').split(';')[0].trim().toLowerCase()
    if (ct !== kJsonContentType) return reject('SerializationException', `content-type must be ${kJsonContentType} (got ${JSON.stringify(ct)}).`)
    if (this.requireSigV4) {
      const auth = headerString(req.headers.authorization) ?? ''
      if (!kSigV4.test(auth) || headerString(req.headers['x-amz-date']) === undefined) {
        return reject('MissingAuthenticationTokenException', `Request is missing a SigV4 authorization for service 'logs' (authorization: ${JSON.stringify(auth.slice(0, 120))}).`)
      }
    }
    if (op === undefined) return reject('UnknownOperationException', 'x-amz-target is missing.')
    return null
  }

  private checkGroupName (name: unknown): StrictLogsRejection | null {
    if (typeof name !== 'string' || !kLogGroupNamePattern.test(name)) {
      return reject('InvalidParameterException', `1 validation error detected: Value ${JSON.stringify(name)} at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ (1-512 characters)`)
    }
    return null
  }

  private checkStreamName (name: unknown): StrictLogsRejection | null {
    if (typeof name !== 'string' || name.length < 1 || name.length > kMaxLogStreamNameLength || /[:*]/.test(name)) {
      return reject('InvalidParameterException', `1 validation error detected: Value ${JSON.stringify(name)} at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]* (1-512 characters)`)
    }
    return null
  }

  private operate (op: string, body: Record<string, unknown>, res: http.ServerResponse, entry: LogsRequestLogEntry, acceptThenTimeout: boolean): void {
    const group = body.logGroupName as string
    const stream = body.logStreamName as string
    switch (op) {
      case 'CreateLogGroup': {
        const bad = this.checkGroupName(group)
        if (bad !== null) { this.sendError(res, entry, bad); return }
        if (this.store.has(group)) { this.sendError(res, entry, reject('ResourceAlreadyExistsException', 'The specified log group already exists')); return }
        this.store.set(group, new Map())
        this.ok(res, entry, {})
        return
      }
      case 'CreateLogStream': {
        const bad = this.checkGroupName(group) ?? this.checkStreamName(stream)
        if (bad !== null) { this.sendError(res, entry, bad); return }
        const g = this.store.get(group)
        if (g === undefined) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log group does not exist.')); return }
        if (g.has(stream)) { this.sendError(res, entry, reject('ResourceAlreadyExistsException', 'The specified log stream already exists')); return }
        g.set(stream, [])
        this.ok(res, entry, {})
        return
      }
      case 'DeleteLogGroup':
        if (!this.store.delete(group)) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log group does not exist.')); return }
        this.ok(res, entry, {})
        return
      case 'DeleteLogStream':
        if (this.store.get(group)?.delete(stream) !== true) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log stream does not exist.')); return }
        this.ok(res, entry, {})
        return
      case 'DescribeLogStreams': {
        const g = this.store.get(group)
        if (g === undefined) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log group does not exist.')); return }
        const prefix = typeof body.logStreamNamePrefix === 'string' ? body.logStreamNamePrefix : ''
        const logStreams = [...g.entries()].filter(([n]) => n.startsWith(prefix)).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([n, ev]) => ({
          logStreamName: n,
          storedBytes: ev.reduce((a, e) => a + Buffer.byteLength(e.message), 0),
          ...(ev.length > 0 ? { firstEventTimestamp: ev[0].timestamp, lastEventTimestamp: ev[ev.length - 1].timestamp, lastIngestionTime: ev[ev.length - 1].ingestionTime } : {}),
        }))
        this.ok(res, entry, { logStreams })
        return
      }
      case 'GetLogEvents': {
        const ev = this.store.get(group)?.get(stream)
        if (ev === undefined) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log group or stream does not exist.')); return }
        // A stable sort by timestamp: what CloudWatch Logs returns for a stream.
        const sorted = ev.map((e, i) => ({ e, i })).sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i).map(x => x.e)
        this.ok(res, entry, { events: sorted, nextForwardToken: 'f/end', nextBackwardToken: 'b/start' })
        return
      }
      case 'PutLogEvents': {
        const v = validatePutLogEvents(body, { now: this.now(), maxEventBytes: this.maxEventBytes })
        if (!v.ok) { this.sendError(res, entry, v); return }
        entry.group = v.group
        entry.stream = v.stream
        entry.events = v.events.length
        entry.batchBytes = v.events.reduce((a, e) => a + Buffer.byteLength(e.message) + kEventOverheadBytes, 0)
        const g = this.store.get(v.group)
        if (g === undefined) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log group does not exist.')); return }
        const s = g.get(v.stream)
        if (s === undefined) { this.sendError(res, entry, reject('ResourceNotFoundException', 'The specified log stream does not exist.')); return }
        const ingestionTime = this.now()
        for (const i of v.stored) s.push({ ...v.events[i], ingestionTime })
        this.puts.push({ group: v.group, stream: v.stream, events: v.events.length, batchBytes: entry.batchBytes, attempt: entry.attempt, ...(acceptThenTimeout ? { viaFault: 'acceptThenTimeout' as const } : {}) })
        if (acceptThenTimeout) { this.settle(); return } // stored, never answered
        this.ok(res, entry, { nextSequenceToken: String(this.puts.length).padStart(56, '0'), ...(v.rejectedInfo !== undefined ? { rejectedLogEventsInfo: v.rejectedInfo } : {}) })
        return
      }
      default:
        this.sendError(res, entry, reject('UnknownOperationException', `The strict logs endpoint does not serve ${op}.`))
    }
  }
}

/** Starts a strict CloudWatch Logs endpoint on 127.0.0.1 (an ephemeral port). Close it in `afterAll`. */
export async function startStrictLogsEndpoint (opts: StrictLogsEndpointOptions = {}): Promise<StrictLogsEndpoint> {
  const ep = new StrictLogsEndpointImpl(opts)
  await ep.listen()
  return ep
}
