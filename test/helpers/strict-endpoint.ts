/**
 * The project's own strict CloudWatch endpoint: a `node:http` server on 127.0.0.1 that
 * speaks exactly what `@aws-sdk/client-cloudwatch` 3.116x sends for PutMetricData and
 * enforces every PutMetricData limit of the CloudWatch API reference, plus programmable
 * fault injection.
 *
 * What the SDK sends (captured from a real request, SDK 3.1164):
 *   POST /  HTTP/1.1, `connection: keep-alive`
 *   content-type: application/x-amz-json-1.0
 *   x-amz-target: GraniteServiceVersion20100801.PutMetricData
 *   x-amzn-query-mode: true
 *   amz-sdk-invocation-id: <uuid, the same for every retry of one call>
 *   amz-sdk-request: attempt=N; max=M
 *   authorization: AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/us-east-1/monitoring/aws4_request, ...
 *   content-encoding: gzip   (only when the JSON body is >= 10,240 bytes and compression is on)
 *   body: {"Namespace":"..","MetricData":[{"MetricName":"m","Dimensions":[{"Name":"a","Value":"b"}],
 *          "Timestamp":1700000000.123,"Value":1.5,"Unit":"Count","StorageResolution":60}]}
 * Timestamps are epoch SECONDS as JSON numbers (fractional milliseconds). Non-finite numbers
 * are NOT dropped by the SDK: NaN, Infinity and -Infinity go on the wire as the JSON strings
 * "NaN", "Infinity", "-Infinity" (the SDK validates nothing). This endpoint rejects them.
 *
 * Errors are answered as CloudWatch's query-compatible JSON protocol does: the status, a
 * header `x-amzn-query-error: Code;Sender|Receiver` and `{"__type": .., "message": ..}`.
 * The SDK takes the error code from that header and maps it onto its modeled exceptions:
 *   InvalidParameterValue       -> err.name 'InvalidParameterValueException'
 *   InvalidParameterCombination -> 'InvalidParameterCombinationException'
 *   MissingParameter            -> 'MissingRequiredParameterException'
 *   InternalServiceError (500)  -> 'InternalServiceFault'
 *   Throttling (400)            -> 'Throttling'            (unmodeled; the SDK retries it)
 *   ServiceUnavailable (503)    -> 'ServiceUnavailable'    (unmodeled; retried as a 5xx)
 *   RequestEntityTooLarge (413) -> 'RequestEntityTooLarge' (unmodeled; not retried)
 *   AccessDenied (403)          -> 'AccessDenied'          (unmodeled; IAM refuses cloudwatch:PutMetricData)
 *   InvalidClientTokenId (403)  -> 'InvalidClientTokenId'  (unmodeled; the access key id is unknown)
 * `err.Code` carries the query code and `err.$metadata.httpStatusCode` the status.
 *
 * Faults never record the request as accepted, except `acceptThenTimeout`, which validates
 * and records the data (when valid) and then never answers: "CloudWatch took it, the client
 * timed out" — the retry then delivers the same datums a second time.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import zlib from 'node:zlib'
import { EventEmitter } from 'node:events'
import { CloudWatchClient, type CloudWatchClientConfig, type MetricDatum } from '@aws-sdk/client-cloudwatch'
import { ConfiguredRetryStrategy } from '@smithy/core/retry'
import { FaultRule, seededRandom, type FaultHandleOf, type FaultPlanBase } from './fault-rule.js'

// ---------------------------------------------------------------------------------------------
// CloudWatch's limits, as the AWS documentation states them (the table in DESIGN.md). Stated
// here, never imported from src/limits.ts: a fake that shared the product's constants would
// let a wrong limit pass on both sides. harness-strict-endpoint.test.ts compares the two.
//   PutMetricData: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
//   MetricDatum:   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
//   Dimension:     https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
//   Namespaces:    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace
// ---------------------------------------------------------------------------------------------

/** PutMetricData: "Each request is also limited to no more than 1000 different metrics." */
export const kMaxDatumsPerRequest = 1000
/**
 * PutMetricData: "Each PutMetricData request is limited to 1 MB in size for HTTP POST
 * requests." The page does not say whether 10^6 or 2^20 bytes: a fake takes the stricter.
 */
export const kMaxRequestBytes = 1_000_000
/** PutMetricData: "up to 150 values per metric"; MetricDatum: Values and Counts, at most 150 items each. */
export const kMaxValuesPerDatum = 150
/** PutMetricData: "You can use up to 30 dimensions per metric"; MetricDatum.Dimensions: at most 30 items. */
export const kCloudWatchMaxDimensions = 30
/** PutMetricData and MetricDatum.Value: "Values must be in the range of -2^360 to 2^360." NaN and ±Infinity are "not supported". */
export const kMaxMagnitude = 2 ** 360
/**
 * The API reference used to give the range as "2e-360 to 2e360 (Base 2)": non-zero magnitudes
 * below 2^-360 are refused too (the current page only says "too small").
 */
export const kMinMagnitude = 2 ** -360
/** PutMetricData: time stamps "as much as two weeks before the current date, and as much as 2 hours after the current day and time". */
export const kMaxPastMs = 14 * 24 * 3600_000
export const kMaxFutureMs = 2 * 3600_000
/** PutMetricData.Namespace: length 1 to 255. */
export const kMaxNamespaceLength = 255
/** MetricDatum.MetricName: length 1 to 255. */
export const kMaxMetricNameLength = 255
/** Dimension.Name: length 1 to 255; Dimension.Value: length 1 to 1024. */
export const kMaxDimensionNameLength = 255
export const kMaxDimensionValueLength = 1024
/** MetricDatum.Unit, "Valid Values": the 27 StandardUnit names, case-sensitive. */
export const kStandardUnits: readonly string[] = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count',
  'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second',
  'Count/Second', 'None',
]
const kUnitSet: ReadonlySet<string> = new Set(kStandardUnits)
function isStandardUnit (u: unknown): boolean {
  return typeof u === 'string' && kUnitSet.has(u)
}

export const kPutMetricDataTarget = 'GraniteServiceVersion20100801.PutMetricData'
const kTargetPrefix = 'GraniteServiceVersion20100801.'
const kJsonContentType = 'application/x-amz-json-1.0'

// ---------------------------------------------------------------------------------------------
// Errors, as CloudWatch answers them
// ---------------------------------------------------------------------------------------------

/** The error codes this endpoint answers with (the `x-amzn-query-error` code). */
export type StrictErrorCode =
  | 'InvalidParameterValue'
  | 'InvalidParameterCombination'
  | 'MissingParameter'
  | 'RequestEntityTooLarge'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'MissingAuthenticationToken'
  | 'Throttling'
  | 'InternalServiceError'
  | 'ServiceUnavailable'
  | 'AccessDenied'
  | 'InvalidClientTokenId'

interface ErrorShape { status: number, type: string, fault: 'Sender' | 'Receiver' }

const kErrorShapes: Record<StrictErrorCode, ErrorShape> = {
  InvalidParameterValue: { status: 400, type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', fault: 'Sender' },
  InvalidParameterCombination: { status: 400, type: 'com.amazonaws.cloudwatch#InvalidParameterCombinationException', fault: 'Sender' },
  MissingParameter: { status: 400, type: 'com.amazonaws.cloudwatch#MissingRequiredParameterException', fault: 'Sender' },
  RequestEntityTooLarge: { status: 413, type: 'RequestEntityTooLarge', fault: 'Sender' },
  SerializationException: { status: 400, type: 'com.amazon.coral.service#SerializationException', fault: 'Sender' },
  UnknownOperationException: { status: 400, type: 'com.amazon.coral.service#UnknownOperationException', fault: 'Sender' },
  MissingAuthenticationToken: { status: 403, type: 'com.amazon.coral.service#MissingAuthenticationTokenException', fault: 'Sender' },
  Throttling: { status: 400, type: 'Throttling', fault: 'Sender' },
  InternalServiceError: { status: 500, type: 'com.amazonaws.cloudwatch#InternalServiceFault', fault: 'Receiver' },
  ServiceUnavailable: { status: 503, type: 'ServiceUnavailable', fault: 'Receiver' },
  AccessDenied: { status: 403, type: 'com.amazon.coral.service#AccessDeniedException', fault: 'Sender' },
  InvalidClientTokenId: { status: 403, type: 'com.amazon.coral.service#UnrecognizedClientException', fault: 'Sender' },
}

/** The `err.name` the real SDK gives each code (see the header comment). */
export const kSdkErrorName: Record<StrictErrorCode, string> = {
  InvalidParameterValue: 'InvalidParameterValueException',
  InvalidParameterCombination: 'InvalidParameterCombinationException',
  MissingParameter: 'MissingRequiredParameterException',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
  SerializationException: 'SerializationException',
  UnknownOperationException: 'UnknownOperationException',
  MissingAuthenticationToken: 'MissingAuthenticationToken',
  Throttling: 'Throttling',
  InternalServiceError: 'InternalServiceFault',
  ServiceUnavailable: 'ServiceUnavailable',
  AccessDenied: 'AccessDenied',
  InvalidClientTokenId: 'InvalidClientTokenId',
}

/** The refusals of {@link StrictEndpoint.deny}: what CloudWatch answers for credentials it does not accept. */
export type StrictDenial = 'AccessDenied' | 'InvalidClientTokenId'
const kDenialMessages: Record<StrictDenial, string> = {
  AccessDenied: 'User: arn:aws:iam::123456789012:user/strict is not authorized to perform: cloudwatch:PutMetricData because no identity-based policy allows the cloudwatch:PutMetricData action',
  InvalidClientTokenId: 'The security token included in the request is invalid.',
}

/** A rejection: the code, the HTTP status, and a CloudWatch-style message. */
export interface StrictRejection { code: StrictErrorCode, status: number, message: string }

function reject (code: StrictErrorCode, message: string): StrictRejection {
  return { code, status: kErrorShapes[code].status, message }
}

// ---------------------------------------------------------------------------------------------
// Validation (pure; exported so unit/property tests can check encoder output without a socket)
// ---------------------------------------------------------------------------------------------

export interface ValidateOptions {
  /** The endpoint's clock, epoch ms. Timestamps are checked against it. */
  now: number
  /** Dimensions allowed per datum. Default: CloudWatch's 30 (`kCloudWatchMaxDimensions`). */
  maxDimensions?: number
  /**
   * Relative tolerance of the `Minimum <= Sum/SampleCount <= Maximum` check, scaled by
   * max(|Minimum|, |Maximum|). Default 1e-9.
   */
  averageTolerance?: number
  /**
   * Reject a datum whose `Values` lists the same number twice. The API reference says "each
   * unique value is listed just once in this array"; whether CloudWatch enforces it is not
   * documented. Default true (strict); set false to allow.
   */
  uniqueValues?: boolean
}

export type ValidateResult =
  | { ok: true, namespace: string, datums: MetricDatum[] }
  | ({ ok: false } & StrictRejection)

const kNamespaceChars = /^[0-9A-Za-z.\-_/#: ]+$/
/** Printable ASCII: no control characters, nothing above 0x7e. */
const kPrintableAscii = /^[\x20-\x7e]+$/

function isPresent (v: unknown): boolean {
  return v !== undefined && v !== null
}

function describe (v: unknown): string {
  if (typeof v === 'string') return v
  try { return JSON.stringify(v) ?? String(v) } catch { return String(v) }
}

/**
 * A number as CloudWatch accepts it: a finite JSON number with magnitude <= 2^360, and either 0
 * or >= 2^-360. The SDK sends NaN/±Infinity as the strings "NaN"/"Infinity"/"-Infinity".
 */
function checkValue (v: unknown, path: string): StrictRejection | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    return reject('InvalidParameterValue', `The value ${describe(v)} for parameter ${path} is invalid.`)
  }
  const a = Math.abs(v)
  if (a > kMaxMagnitude) {
    return reject('InvalidParameterValue', `The value ${v} for parameter ${path} is invalid: its magnitude exceeds 2^360.`)
  }
  if (a !== 0 && a < kMinMagnitude) {
    return reject('InvalidParameterValue', `The value ${v} for parameter ${path} is invalid: non-zero magnitudes below 2^-360 are not accepted.`)
  }
  return null
}

function checkNamespace (ns: unknown): StrictRejection | null {
  if (!isPresent(ns)) return reject('MissingParameter', 'The parameter Namespace is required.')
  if (typeof ns !== 'string') return reject('InvalidParameterValue', `The value ${describe(ns)} for parameter Namespace is invalid.`)
  if (ns.length < 1 || ns.length > kMaxNamespaceLength) {
    return reject('InvalidParameterValue', `The parameter Namespace must be between 1 and ${kMaxNamespaceLength} characters long (got ${ns.length}).`)
  }
  if (!kNamespaceChars.test(ns)) {
    return reject('InvalidParameterValue', `The value ${ns} for parameter Namespace is invalid: only ASCII letters, digits and . - _ / # : space are allowed.`)
  }
  if (ns.trim().length === 0) return reject('InvalidParameterValue', 'The parameter Namespace must not be blank.')
  if (ns.startsWith(':')) return reject('InvalidParameterValue', `The value ${ns} for parameter Namespace is invalid: it must not start with ':'.`)
  if (ns.startsWith('AWS/')) {
    return reject('InvalidParameterValue', `The value ${ns} for parameter Namespace is invalid: namespaces starting with AWS/ are reserved for use by Amazon Web Services products.`)
  }
  return null
}

function checkDimensions (dims: unknown, p: string, maxDimensions: number): StrictRejection | null {
  if (!isPresent(dims)) return null
  if (!Array.isArray(dims)) return reject('InvalidParameterValue', `The value ${describe(dims)} for parameter ${p}.Dimensions is invalid.`)
  if (dims.length > maxDimensions) {
    return reject('InvalidParameterValue', `The collection ${p}.Dimensions must not have a size greater than ${maxDimensions}.`)
  }
  const seen = new Set<string>()
  for (let j = 0; j < dims.length; j++) {
    const d: unknown = dims[j]
    const dp = `${p}.Dimensions.member.${j + 1}`
    if (typeof d !== 'object' || d === null) return reject('InvalidParameterValue', `The value ${describe(d)} for parameter ${dp} is invalid.`)
    const { Name: name, Value: value } = d as { Name?: unknown, Value?: unknown }
    if (!isPresent(name)) return reject('MissingParameter', `The parameter ${dp}.Name is required.`)
    if (!isPresent(value)) return reject('MissingParameter', `The parameter ${dp}.Value is required.`)
    if (typeof name !== 'string' || name.length < 1 || name.length > kMaxDimensionNameLength) {
      return reject('InvalidParameterValue', `The parameter ${dp}.Name must be a string of 1 to ${kMaxDimensionNameLength} characters.`)
    }
    if (typeof value !== 'string' || value.length < 1 || value.length > kMaxDimensionValueLength) {
      return reject('InvalidParameterValue', `The parameter ${dp}.Value must be a string of 1 to ${kMaxDimensionValueLength} characters.`)
    }
    if (!kPrintableAscii.test(name)) {
      return reject('InvalidParameterValue', `The value ${JSON.stringify(name)} for parameter ${dp}.Name is invalid: it must contain only printable ASCII characters.`)
    }
    if (!kPrintableAscii.test(value)) {
      return reject('InvalidParameterValue', `The value ${JSON.stringify(value)} for parameter ${dp}.Value is invalid: it must contain only printable ASCII characters.`)
    }
    if (name.trim().length === 0) return reject('InvalidParameterValue', `The parameter ${dp}.Name must not be blank.`)
    if (value.trim().length === 0) return reject('InvalidParameterValue', `The parameter ${dp}.Value must not be blank.`)
    if (name.startsWith(':')) return reject('InvalidParameterValue', `The value ${name} for parameter ${dp}.Name is invalid: it must not start with ':'.`)
    if (seen.has(name)) {
      return reject('InvalidParameterValue', `The dimension name ${name} appears more than once in ${p}.Dimensions (${dp}.Name); dimension names must be unique.`)
    }
    seen.add(name)
  }
  return null
}

function checkStatisticValues (sv: unknown, p: string, tolerance: number): StrictRejection | null {
  const sp = `${p}.StatisticValues`
  if (typeof sv !== 'object' || sv === null || Array.isArray(sv)) return reject('InvalidParameterValue', `The value ${describe(sv)} for parameter ${sp} is invalid.`)
  const s = sv as Record<string, unknown>
  for (const k of ['SampleCount', 'Sum', 'Minimum', 'Maximum']) {
    if (!isPresent(s[k])) return reject('MissingParameter', `The parameter ${sp}.${k} is required.`)
  }
  for (const k of ['SampleCount', 'Sum', 'Minimum', 'Maximum']) {
    const bad = checkValue(s[k], `${sp}.${k}`)
    if (bad) return bad
  }
  const n = s.SampleCount as number
  const sum = s.Sum as number
  const min = s.Minimum as number
  const max = s.Maximum as number
  if (!(n > 0)) return reject('InvalidParameterValue', `The value ${n} for parameter ${sp}.SampleCount is invalid: it must be greater than 0.`)
  if (min > max) return reject('InvalidParameterValue', `The parameters ${sp}.Minimum (${min}) and ${sp}.Maximum (${max}) are inconsistent: Minimum must not exceed Maximum.`)
  const avg = sum / n
  const tol = tolerance * Math.max(Math.abs(min), Math.abs(max))
  if (!(avg >= min - tol && avg <= max + tol)) {
    return reject('InvalidParameterValue', `The parameters of ${sp} are inconsistent: Sum/SampleCount = ${avg} lies outside [Minimum, Maximum] = [${min}, ${max}].`)
  }
  return null
}

function checkDistribution (d: Record<string, unknown>, p: string, uniqueValues: boolean): StrictRejection | null {
  const values = d.Values
  const counts = d.Counts
  if (!isPresent(values)) {
    if (isPresent(counts)) return reject('InvalidParameterCombination', `The parameter ${p}.Counts requires ${p}.Values.`)
    return null
  }
  if (!Array.isArray(values)) return reject('InvalidParameterValue', `The value ${describe(values)} for parameter ${p}.Values is invalid.`)
  if (values.length === 0) return reject('InvalidParameterValue', `The collection ${p}.Values must not be empty.`)
  if (values.length > kMaxValuesPerDatum) {
    return reject('InvalidParameterValue', `The collection ${p}.Values must not have a size greater than ${kMaxValuesPerDatum}.`)
  }
  for (let k = 0; k < values.length; k++) {
    const bad = checkValue(values[k], `${p}.Values.member.${k + 1}`)
    if (bad) return bad
  }
  if (uniqueValues && new Set(values).size !== values.length) {
    return reject('InvalidParameterValue', `The collection ${p}.Values lists a value more than once; each unique value must be listed just once (its occurrences go in Counts).`)
  }
  if (!isPresent(counts)) return null
  if (!Array.isArray(counts)) return reject('InvalidParameterValue', `The value ${describe(counts)} for parameter ${p}.Counts is invalid.`)
  if (counts.length > kMaxValuesPerDatum) {
    return reject('InvalidParameterValue', `The collection ${p}.Counts must not have a size greater than ${kMaxValuesPerDatum}.`)
  }
  if (counts.length !== values.length) {
    return reject('InvalidParameterValue', `The parameters ${p}.Values and ${p}.Counts must be of the same size.`)
  }
  for (let k = 0; k < counts.length; k++) {
    const c: unknown = counts[k]
    const cp = `${p}.Counts.member.${k + 1}`
    const bad = checkValue(c, cp)
    if (bad) return bad
    if ((c as number) < 0) return reject('InvalidParameterValue', `The value ${describe(c)} for parameter ${cp} is invalid: counts must not be negative.`)
  }
  return null
}

function isRejection (x: StrictRejection | MetricDatum): x is StrictRejection {
  return !('MetricName' in x) && 'code' in x
}

function checkDatum (raw: unknown, i: number, o: Required<ValidateOptions>): StrictRejection | MetricDatum {
  const p = `MetricData.member.${i + 1}`
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('InvalidParameterValue', `The value ${describe(raw)} for parameter ${p} is invalid.`)
  const d = raw as Record<string, unknown>
  // MetricName
  if (!isPresent(d.MetricName)) return reject('MissingParameter', `The parameter ${p}.MetricName is required.`)
  if (typeof d.MetricName !== 'string' || d.MetricName.length < 1 || d.MetricName.length > kMaxMetricNameLength) {
    return reject('InvalidParameterValue', `The parameter ${p}.MetricName must be a string of 1 to ${kMaxMetricNameLength} characters.`)
  }
  // Dimensions
  const dimBad = checkDimensions(d.Dimensions, p, o.maxDimensions)
  if (dimBad) return dimBad
  // Timestamp (epoch seconds on the wire)
  let timestamp: Date | undefined
  if (isPresent(d.Timestamp)) {
    if (typeof d.Timestamp !== 'number' || !Number.isFinite(d.Timestamp)) {
      return reject('InvalidParameterValue', `The value ${describe(d.Timestamp)} for parameter ${p}.Timestamp is invalid.`)
    }
    const ms = Math.round(d.Timestamp * 1000)
    if (ms < o.now - kMaxPastMs) {
      return reject('InvalidParameterValue', `The parameter ${p}.Timestamp must specify a time no more than two weeks in the past (got ${new Date(ms).toISOString()}, now ${new Date(o.now).toISOString()}).`)
    }
    if (ms > o.now + kMaxFutureMs) {
      return reject('InvalidParameterValue', `The parameter ${p}.Timestamp must specify a time no more than two hours in the future (got ${new Date(ms).toISOString()}, now ${new Date(o.now).toISOString()}).`)
    }
    timestamp = new Date(ms)
  }
  // Value / Values / StatisticValues
  const hasValue = isPresent(d.Value)
  const hasValues = isPresent(d.Values)
  const hasStats = isPresent(d.StatisticValues)
  if (hasValue && hasStats) {
    return reject('InvalidParameterCombination', `The parameters ${p}.Value and ${p}.StatisticValues are mutually exclusive and you have specified both.`)
  }
  if (hasValue && hasValues) {
    return reject('InvalidParameterCombination', `The parameters ${p}.Value and ${p}.Values are mutually exclusive and you have specified both.`)
  }
  if (!hasValue && !hasValues && !hasStats) {
    if (isPresent(d.Counts)) return reject('InvalidParameterCombination', `The parameter ${p}.Counts requires ${p}.Values.`)
    return reject('MissingParameter', `The parameter ${p}.Value is required (or ${p}.Values or ${p}.StatisticValues).`)
  }
  if (hasValue) {
    const bad = checkValue(d.Value, `${p}.Value`)
    if (bad) return bad
  }
  if (hasStats) {
    const bad = checkStatisticValues(d.StatisticValues, p, o.averageTolerance)
    if (bad) return bad
  }
  const distBad = checkDistribution(d, p, o.uniqueValues)
  if (distBad) return distBad
  // Unit, StorageResolution
  if (isPresent(d.Unit) && !isStandardUnit(d.Unit)) {
    return reject('InvalidParameterValue', `The value ${describe(d.Unit)} for parameter ${p}.Unit is invalid.`)
  }
  if (isPresent(d.StorageResolution) && d.StorageResolution !== 1 && d.StorageResolution !== 60) {
    return reject('InvalidParameterValue', `The value ${describe(d.StorageResolution)} for parameter ${p}.StorageResolution is invalid: it must be 1 or 60.`)
  }
  const out: MetricDatum = { MetricName: d.MetricName }
  if (isPresent(d.Dimensions)) out.Dimensions = (d.Dimensions as Array<{ Name: string, Value: string }>).map(x => ({ Name: x.Name, Value: x.Value }))
  if (timestamp) out.Timestamp = timestamp
  if (hasValue) out.Value = d.Value as number
  if (hasStats) {
    const s = d.StatisticValues as { SampleCount: number, Sum: number, Minimum: number, Maximum: number }
    out.StatisticValues = { SampleCount: s.SampleCount, Sum: s.Sum, Minimum: s.Minimum, Maximum: s.Maximum }
  }
  if (hasValues) out.Values = [...(d.Values as number[])]
  if (isPresent(d.Counts)) out.Counts = [...(d.Counts as number[])]
  if (isPresent(d.Unit)) out.Unit = d.Unit as MetricDatum['Unit']
  if (isPresent(d.StorageResolution)) out.StorageResolution = d.StorageResolution as number
  return out
}

/**
 * Validates a decoded PutMetricData JSON body against every limit of the API reference.
 * Returns the datums as the SDK's `MetricDatum` (Timestamp as a Date) when accepted.
 */
export function validatePutMetricData (body: unknown, opts: ValidateOptions): ValidateResult {
  const o: Required<ValidateOptions> = {
    now: opts.now,
    maxDimensions: opts.maxDimensions ?? kCloudWatchMaxDimensions,
    averageTolerance: opts.averageTolerance ?? 1e-9,
    uniqueValues: opts.uniqueValues ?? true,
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, ...reject('SerializationException', 'The request body must be a JSON object.') }
  }
  const b = body as Record<string, unknown>
  const nsBad = checkNamespace(b.Namespace)
  if (nsBad) return { ok: false, ...nsBad }
  const md = b.MetricData
  if (!isPresent(md)) return { ok: false, ...reject('MissingParameter', 'The parameter MetricData is required.') }
  if (!Array.isArray(md)) return { ok: false, ...reject('InvalidParameterValue', 'The parameter MetricData must be a list.') }
  if (md.length === 0) return { ok: false, ...reject('MissingParameter', 'The parameter MetricData is required (it is empty).') }
  if (md.length > kMaxDatumsPerRequest) {
    return { ok: false, ...reject('InvalidParameterValue', `The collection MetricData must not have a size greater than ${kMaxDatumsPerRequest}.`) }
  }
  const datums: MetricDatum[] = []
  for (let i = 0; i < md.length; i++) {
    const r = checkDatum(md[i], i, o)
    if (isRejection(r)) return { ok: false, ...r }
    datums.push(r)
  }
  return { ok: true, namespace: b.Namespace as string, datums }
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/**
 * - `throttle`: HTTP 400, `Throttling;Sender`, "Rate exceeded" (what CloudWatch answers).
 * - `500`: HTTP 500 InternalServiceFault.  `503`: HTTP 503 ServiceUnavailable.
 * - `timeout`: read the request, never answer (until the client gives up or the endpoint closes).
 * - `acceptThenTimeout`: validate and, when valid, RECORD as accepted, then never answer.
 * - `reset`: destroy the socket as soon as the request headers arrive (client sees ECONNRESET).
 * Refused connections are not a per-request fault: see {@link StrictEndpoint.refuse}.
 */
export type FaultKind = 'throttle' | '500' | '503' | 'timeout' | 'acceptThenTimeout' | 'reset'
export const kFaultKinds: readonly FaultKind[] = ['throttle', '500', '503', 'timeout', 'acceptThenTimeout', 'reset']

/** How often a fault fires: see {@link FaultPlanBase}. */
export type FaultPlan = FaultPlanBase

/** A live rule; `remove()` uninstalls it, `hits` counts the requests it faulted. */
export type FaultHandle = FaultHandleOf<FaultKind>

// ---------------------------------------------------------------------------------------------
// The endpoint
// ---------------------------------------------------------------------------------------------

export interface StrictEndpointOptions {
  /** The clock timestamps are validated against (epoch ms). Default `Date.now`. */
  now?: () => number
  /** Dimensions allowed per datum. Default 30 (CloudWatch); minutely's tests use 10. */
  maxDimensions?: number
  /** Request size limit (raw and decoded body), bytes. Default `kMaxRequestBytes`. */
  maxRequestBytes?: number
  /** Delay before every answer (faults included, except `reset`). Default 0. Mutable later. */
  latencyMs?: number
  /** Seed of the RNG used by `probability` faults. Default 0x5eed. */
  seed?: number
  /** Require a SigV4 `authorization` header scoped to service `monitoring`. Default true. */
  requireSigV4?: boolean
  /** See {@link ValidateOptions.averageTolerance}. */
  averageTolerance?: number
  /** See {@link ValidateOptions.uniqueValues}. Default true. */
  uniqueValues?: boolean
}

/** One accepted PutMetricData request. */
export interface AcceptedRequest {
  namespace: string
  datums: MetricDatum[]
  /** Body bytes as received on the wire (compressed size when gzipped). */
  bytes: number
  /** Body bytes after decompression (the JSON document). */
  decodedBytes: number
  gzipped: boolean
  /** The endpoint clock (`now()`) when the request arrived. */
  receivedAt: number
  /** `amz-sdk-request` attempt number (1 = first try), when the SDK sent one. */
  attempt: number | undefined
  /** `amz-sdk-invocation-id`: the same for every retry of one SDK call. */
  invocationId: string | undefined
  /** Set when recorded by an `acceptThenTimeout` fault (the client never got an answer). */
  viaFault?: 'acceptThenTimeout'
}

export interface RejectedRequest extends StrictRejection {
  receivedAt: number
  attempt: number | undefined
  invocationId: string | undefined
}

/** One line per HTTP request that reached the endpoint, in arrival order. */
export interface RequestLogEntry {
  seq: number
  receivedAt: number
  target: string | undefined
  attempt: number | undefined
  invocationId: string | undefined
  gzipped: boolean
  bytes: number
  /** The fault applied, if any. */
  fault?: FaultKind
  /** 'accepted', 'rejected', 'faulted', or 'pending' while still open. */
  outcome: 'accepted' | 'rejected' | 'faulted' | 'pending'
  /** The HTTP status answered, or undefined when none was (timeout, reset). */
  status?: number
  code?: StrictErrorCode
}

export interface StrictEndpointStats {
  /** HTTP requests that reached the endpoint (faulted ones included). */
  requests: number
  accepted: number
  rejected: number
  faulted: number
  /** Faulted requests by kind. */
  faults: Record<FaultKind, number>
  /** Datums in accepted requests. */
  datums: number
  /** Body bytes received on the wire, all requests. */
  bytesReceived: number
}

export interface StrictEndpoint {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  readonly port: number
  readonly accepted: readonly AcceptedRequest[]
  readonly rejected: readonly RejectedRequest[]
  readonly log: readonly RequestLogEntry[]
  readonly stats: Readonly<StrictEndpointStats>
  /** Delay before each answer, ms. */
  latencyMs: number
  /**
   * While set, every request is refused with this error (HTTP 403) after its body is read,
   * as CloudWatch refuses credentials it does not accept; counted as rejected. Mutable.
   */
  deny: StrictDenial | undefined
  /** Every accepted datum, in arrival order; only those of `namespace` when given. */
  allDatums(namespace?: string): MetricDatum[]
  /** Installs a fault rule (evaluated in installation order; the first that fires wins). */
  inject(fault: FaultKind, plan?: FaultPlan): FaultHandle
  /** Queues one-shot faults for the next requests, in order. */
  nextFaults(...faults: FaultKind[]): void
  /** Removes every fault rule. */
  clearFaults(): void
  /** Clears records, log, stats and faults (not `latencyMs`, not a refusal). */
  reset(): void
  /** Stops listening and drops every open connection: new connections get ECONNREFUSED. */
  refuse(): Promise<void>
  /** Listens again on the same port. */
  resume(): Promise<void>
  readonly refusing: boolean
  /**
   * Resolves once `predicate(endpoint)` holds, re-checked after each request is settled
   * (event-driven, no polling). Rejects after `timeoutMs` (default 10 s) with a clear error.
   */
  waitFor(predicate: (ep: StrictEndpoint) => boolean, timeoutMs?: number): Promise<void>
  /** Stops the server and destroys every connection (hung ones included). */
  close(): Promise<void>
}

function headerString (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function parseAttempt (h: string | undefined): number | undefined {
  const m = h === undefined ? null : /attempt=(\d+)/.exec(h)
  return m ? Number(m[1]) : undefined
}

const kSigV4 = /^AWS4-HMAC-SHA256 Credential=[^/\s]+\/\d{8}\/[^/\s]+\/monitoring\/aws4_request,/

class StrictEndpointImpl implements StrictEndpoint {
  endpoint = ''
  port = 0
  accepted: AcceptedRequest[] = []
  rejected: RejectedRequest[] = []
  log: RequestLogEntry[] = []
  stats: StrictEndpointStats = StrictEndpointImpl.emptyStats()
  latencyMs: number
  refusing = false
  deny: StrictDenial | undefined = undefined

  private readonly server: http.Server
  private readonly sockets = new Set<Socket>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly rules = new Set<FaultRule<FaultKind>>()
  private readonly queue: FaultKind[] = []
  private readonly events = new EventEmitter()
  private readonly now: () => number
  private readonly rand: () => number
  private readonly maxRequestBytes: number
  private readonly requireSigV4: boolean
  private readonly validateOpts: Omit<ValidateOptions, 'now'>
  private closed = false
  private responses = 0

  static emptyStats (): StrictEndpointStats {
    return {
      requests: 0,
      accepted: 0,
      rejected: 0,
      faulted: 0,
      faults: { throttle: 0, 500: 0, 503: 0, timeout: 0, acceptThenTimeout: 0, reset: 0 },
      datums: 0,
      bytesReceived: 0,
    }
  }

  constructor (opts: StrictEndpointOptions) {
    this.now = opts.now ?? Date.now
    this.latencyMs = opts.latencyMs ?? 0
    this.rand = seededRandom(opts.seed ?? 0x5eed)
    this.maxRequestBytes = opts.maxRequestBytes ?? kMaxRequestBytes
    this.requireSigV4 = opts.requireSigV4 ?? true
    this.validateOpts = {
      maxDimensions: opts.maxDimensions ?? kCloudWatchMaxDimensions,
      averageTolerance: opts.averageTolerance,
      uniqueValues: opts.uniqueValues,
    }
    this.events.setMaxListeners(0)
    this.server = http.createServer((req, res) => this.handle(req, res))
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async listen (port: number): Promise<void> {
    await new Promise<void>((resolve, rejectP) => {
      const onError = (err: Error): void => rejectP(new Error(`strict endpoint: cannot listen on 127.0.0.1:${port}: ${err.message}`, { cause: err }))
      this.server.once('error', onError)
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', onError)
        resolve()
      })
    })
    this.port = (this.server.address() as AddressInfo).port
    this.endpoint = `http://127.0.0.1:${this.port}`
  }

  allDatums (namespace?: string): MetricDatum[] {
    const out: MetricDatum[] = []
    for (const a of this.accepted) {
      if (namespace === undefined || a.namespace === namespace) out.push(...a.datums)
    }
    return out
  }

  inject (fault: FaultKind, plan: FaultPlan = {}): FaultHandle {
    if (!kFaultKinds.includes(fault)) throw new Error(`strict endpoint: unknown fault ${String(fault)}`)
    const rule = new FaultRule(fault, plan, this.rules)
    this.rules.add(rule)
    return rule
  }

  nextFaults (...faults: FaultKind[]): void {
    for (const f of faults) {
      if (!kFaultKinds.includes(f)) throw new Error(`strict endpoint: unknown fault ${String(f)}`)
    }
    this.queue.push(...faults)
  }

  clearFaults (): void {
    for (const r of [...this.rules]) r.remove()
    this.queue.length = 0
  }

  reset (): void {
    this.accepted = []
    this.rejected = []
    this.log = []
    this.stats = StrictEndpointImpl.emptyStats()
    this.clearFaults()
  }

  async refuse (): Promise<void> {
    if (this.refusing || this.closed) return
    this.refusing = true
    const closedP = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.dropConnections()
    await closedP
    // Let the clients' pooled keep-alive sockets see the FIN before the caller sends again, so
    // the next request opens a new connection (ECONNREFUSED) instead of reusing a dead one.
    for (let i = 0; i < 3; i++) await new Promise(resolve => setImmediate(resolve))
  }

  async resume (): Promise<void> {
    if (!this.refusing || this.closed) return
    await this.listen(this.port)
    this.refusing = false
  }

  waitFor (predicate: (ep: StrictEndpoint) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return Promise.resolve()
    return new Promise<void>((resolve, rejectP) => {
      const onUpdate = (): void => {
        if (!predicate(this)) return
        cleanup()
        resolve()
      }
      const timer = setTimeout(() => {
        cleanup()
        rejectP(new Error(`strict endpoint: waitFor timed out after ${timeoutMs} ms (stats: ${JSON.stringify(this.stats)})`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.events.off('update', onUpdate)
      }
      this.events.on('update', onUpdate)
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.refusing) {
      this.dropConnections()
      return
    }
    const closedP = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.dropConnections()
    await closedP
  }

  private dropConnections (): void {
    this.server.closeAllConnections()
    for (const s of this.sockets) s.destroy()
  }

  private pickFault (): FaultKind | undefined {
    let picked: FaultKind | undefined = this.queue.shift()
    // Every rule sees every request (so `every` counts requests), the first that fires wins.
    for (const rule of [...this.rules]) {
      if (picked !== undefined) {
        if (!rule.removed) rule.seen++
        continue
      }
      if (rule.take(this.rand)) picked = rule.fault
    }
    return picked
  }

  /** A request reached its final state (answered, held, reset): wake `waitFor`. */
  private settle (): void {
    this.events.emit('update')
  }

  private later (fn: () => void): void {
    if (this.latencyMs <= 0) { fn(); return }
    const t = setTimeout(() => { this.timers.delete(t); fn() }, this.latencyMs)
    this.timers.add(t)
  }

  private handle (req: http.IncomingMessage, res: http.ServerResponse): void {
    const receivedAt = this.now()
    const attempt = parseAttempt(headerString(req.headers['amz-sdk-request']))
    const invocationId = headerString(req.headers['amz-sdk-invocation-id'])
    const encoding = (headerString(req.headers['content-encoding']) ?? '').trim().toLowerCase()
    const entry: RequestLogEntry = {
      seq: ++this.stats.requests,
      receivedAt,
      target: headerString(req.headers['x-amz-target']),
      attempt,
      invocationId,
      gzipped: encoding === 'gzip',
      bytes: 0,
      outcome: 'pending',
    }
    this.log.push(entry)
    const fault = this.pickFault()
    if (fault !== undefined) {
      entry.fault = fault
      entry.outcome = 'faulted'
      this.stats.faulted++
      this.stats.faults[fault]++
    }
    if (fault === 'reset') {
      req.socket.destroy()
      this.settle()
      return
    }

    const chunks: Buffer[] = []
    let kept = 0
    req.on('data', (c: Buffer) => {
      entry.bytes += c.length
      this.stats.bytesReceived += c.length
      // Keep draining past the limit (so the client reads our 413), but stop buffering.
      if (kept <= this.maxRequestBytes) { chunks.push(c); kept += c.length }
    })
    req.on('error', () => { /* the client went away; nothing to answer */ })
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      switch (fault) {
        case 'timeout':
          this.settle() // hold `res` open: never answered
          return
        case 'throttle':
          this.later(() => this.sendError(res, entry, reject('Throttling', 'Rate exceeded')))
          return
        case '500':
          this.later(() => this.sendError(res, entry, reject('InternalServiceError', 'Internal service error (injected fault)')))
          return
        case '503':
          this.later(() => this.sendError(res, entry, reject('ServiceUnavailable', 'Service Unavailable (injected fault)')))
          return
        default:
          break
      }
      const result = this.deny !== undefined
        ? { ok: false as const, ...reject(this.deny, kDenialMessages[this.deny]) }
        : this.process(req, entry, raw)
      if (fault === 'acceptThenTimeout' && result.ok) {
        this.record(entry, result, 'acceptThenTimeout')
        this.settle() // recorded, never answered
        return
      }
      // (an invalid request under `acceptThenTimeout` is rejected as usual)
      if (result.ok) {
        this.record(entry, result)
        entry.outcome = 'accepted'
        this.later(() => {
          entry.status = 200
          this.send(res, 200, { 'content-type': kJsonContentType }, '{}')
          this.settle()
        })
      } else {
        if (fault === undefined) entry.outcome = 'rejected'
        this.stats.rejected++
        this.rejected.push({ code: result.code, status: result.status, message: result.message, receivedAt, attempt, invocationId })
        this.later(() => this.sendError(res, entry, result))
      }
    })
  }

  private record (entry: RequestLogEntry, r: { namespace: string, datums: MetricDatum[], decodedBytes: number }, viaFault?: 'acceptThenTimeout'): void {
    const a: AcceptedRequest = {
      namespace: r.namespace,
      datums: r.datums,
      bytes: entry.bytes,
      decodedBytes: r.decodedBytes,
      gzipped: entry.gzipped,
      receivedAt: entry.receivedAt,
      attempt: entry.attempt,
      invocationId: entry.invocationId,
    }
    if (viaFault) a.viaFault = viaFault
    this.accepted.push(a)
    this.stats.accepted++
    this.stats.datums += r.datums.length
  }

  /** Protocol checks, decoding and validation of one request. */
  private process (req: http.IncomingMessage, entry: RequestLogEntry, raw: Buffer):
    ({ ok: true, namespace: string, datums: MetricDatum[], decodedBytes: number }) | ({ ok: false } & StrictRejection) {
    const fail = (r: StrictRejection): { ok: false } & StrictRejection => ({ ok: false, ...r })
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      return fail(reject('UnknownOperationException', `Only POST / is served (got ${req.method} ${req.url}).`))
    }
    const ct = (headerString(req.headers['content-type']) ?? '').split(';')[0].trim().toLowerCase()
    if (ct !== kJsonContentType) {
      return fail(reject('SerializationException', `content-type must be ${kJsonContentType} (got ${JSON.stringify(ct)}).`))
    }
    if (this.requireSigV4) {
      const auth = headerString(req.headers.authorization) ?? ''
      if (!kSigV4.test(auth) || headerString(req.headers['x-amz-date']) === undefined) {
        return fail(reject('MissingAuthenticationToken', `Request is missing a SigV4 authorization for service 'monitoring' (authorization: ${JSON.stringify(auth.slice(0, 120))}).`))
      }
    }
    if (entry.target !== kPutMetricDataTarget) {
      const op = entry.target?.startsWith(kTargetPrefix) ? entry.target.slice(kTargetPrefix.length) : entry.target
      return fail(reject('UnknownOperationException', `The strict endpoint serves only PutMetricData (x-amz-target: ${JSON.stringify(op)}).`))
    }
    if (entry.bytes > this.maxRequestBytes) {
      return fail(reject('RequestEntityTooLarge', `Request size ${entry.bytes} exceeded ${this.maxRequestBytes} bytes`))
    }
    let body: Buffer = raw
    const enc = (headerString(req.headers['content-encoding']) ?? '').trim().toLowerCase()
    if (enc === 'gzip') {
      try {
        body = zlib.gunzipSync(raw, { maxOutputLength: this.maxRequestBytes + 1 })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          return fail(reject('RequestEntityTooLarge', `Request size (decompressed) exceeded ${this.maxRequestBytes} bytes`))
        }
        return fail(reject('SerializationException', `Cannot gunzip the request body: ${(err as Error).message}`))
      }
      if (body.length > this.maxRequestBytes) {
        return fail(reject('RequestEntityTooLarge', `Request size (decompressed) ${body.length} exceeded ${this.maxRequestBytes} bytes`))
      }
    } else if (enc !== '' && enc !== 'identity') {
      return fail(reject('SerializationException', `Unsupported content-encoding ${JSON.stringify(enc)}.`))
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(body.toString('utf8'))
    } catch (err) {
      return fail(reject('SerializationException', `The request body is not valid JSON: ${(err as Error).message}`))
    }
    const v = validatePutMetricData(parsed, { ...this.validateOpts, now: this.now() })
    if (!v.ok) return v
    return { ok: true, namespace: v.namespace, datums: v.datums, decodedBytes: body.length }
  }

  private send (res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): void {
    if (res.destroyed || res.writableEnded) return
    res.writeHead(status, {
      ...headers,
      'x-amzn-requestid': `strict-${process.pid}-${++this.responses}`,
      'content-length': String(Buffer.byteLength(body)),
    })
    res.end(body)
  }

  private sendError (res: http.ServerResponse, entry: RequestLogEntry, r: StrictRejection): void {
    const shape = kErrorShapes[r.code]
    entry.status = r.status
    entry.code = r.code
    this.send(res, r.status, {
      'content-type': kJsonContentType,
      'x-amzn-query-error': `${r.code};${shape.fault}`,
    }, JSON.stringify({ __type: shape.type, message: r.message }))
    this.settle()
  }
}

/** Starts a strict endpoint on 127.0.0.1 (an ephemeral port). Close it in `afterAll`. */
export async function startStrictEndpoint (opts: StrictEndpointOptions = {}): Promise<StrictEndpoint> {
  const ep = new StrictEndpointImpl(opts)
  await ep.listen(0)
  return ep
}

// ---------------------------------------------------------------------------------------------
// A real SDK client for it
// ---------------------------------------------------------------------------------------------

export interface StrictClientOptions {
  /** SDK attempts per call (first try included). Default: the SDK's 3. */
  maxAttempts?: number
  /**
   * Fixed delay between retries (the SDK's own `ConfiguredRetryStrategy`). Default: the SDK's
   * standard jittered backoff (random in [0, 50 ms·2^n), [0, 1 s·2^n) after throttling).
   * Either way the SDK's per-client retry quota applies: 500 tokens, 14 per 5xx/network retry,
   * 5 per throttling retry, +1 per success. After ~35 failed 5xx retries in a row a client
   * stops retrying (attempts drop to 1). Use a fresh client per fault-heavy test.
   */
  retryDelayMs?: number
  /**
   * Client gives up on an unanswered request after this long (TimeoutError, which the SDK
   * retries). Note: the SDK alone only WARNS on `requestTimeout`; this helper also sets
   * `throwOnRequestTimeout`. Without it, a hung request waits for the SDK's 15-minute socket
   * timeout.
   */
  requestTimeoutMs?: number
  /** Request compression stays ON by default (bodies >= 10,240 bytes are gzipped). */
  disableRequestCompression?: boolean
  /** Any other client setting, applied last. */
  config?: Partial<CloudWatchClientConfig>
}

/** A real `CloudWatchClient` aimed at a strict endpoint (region us-east-1, fake static credentials). */
export function cloudWatchClientForStrict (endpoint: string | StrictEndpoint, opts: StrictClientOptions = {}): CloudWatchClient {
  const url = typeof endpoint === 'string' ? endpoint : endpoint.endpoint
  const config: CloudWatchClientConfig = {
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDSTRICTTEST', secretAccessKey: 'strict-test-secret' },
    disableRequestCompression: opts.disableRequestCompression ?? false,
  }
  if (opts.maxAttempts !== undefined) config.maxAttempts = opts.maxAttempts
  if (opts.retryDelayMs !== undefined) {
    config.retryStrategy = new ConfiguredRetryStrategy(opts.maxAttempts ?? 3, opts.retryDelayMs)
  }
  if (opts.requestTimeoutMs !== undefined) {
    config.requestHandler = { requestTimeout: opts.requestTimeoutMs, throwOnRequestTimeout: true }
  }
  return new CloudWatchClient({ ...config, ...opts.config })
}
