/**
 * Validation of names and dimensions against CloudWatch's rules, with char tables
 * (a Uint8Array per rule, as undici validates header tokens): one table lookup per char.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */
import {
  isStandardUnit, kMaxDimensionNameLength, kMaxDimensionValueLength, kMaxMetricNameLength, kMaxNamespaceLength, kStandardUnits,
} from '../limits.js'
import type { Rejection } from '../samples/reasons.js'
import type { Dimension } from '../encode/datum.js'
import { quote, show } from '../samples/show.js'

function table (pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(128)
  for (let c = 0; c < 128; c++) t[c] = pred(c) ? 1 : 0
  return t
}
/** Printable ASCII: no control chars, no DEL, nothing above 0x7e. */
const kPrintable = table(c => c >= 0x20 && c < 0x7f)
/** Namespace: `[0-9A-Za-z.\-_/#: ]`. */
const kNamespaceChars = table(c =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
  c === 0x2e || c === 0x2d || c === 0x5f || c === 0x2f || c === 0x23 || c === 0x3a || c === 0x20)

function allIn (s: string, t: Uint8Array): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || t[c] === 0) return false
  }
  return true
}

function blank (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 0x20) return false
  return true
}


/** Checks a namespace; returns null when valid. */
export function checkNamespace (ns: unknown): Rejection | null {
  const reason = 'namespace_invalid'
  if (typeof ns !== 'string' || ns.length === 0) return { reason, message: 'namespace is required: a string of 1–255 characters' }
  if (ns.length > kMaxNamespaceLength) return { reason, message: `namespace ${quote(ns)} is ${ns.length} characters long: at most ${kMaxNamespaceLength}` }
  if (!allIn(ns, kNamespaceChars)) return { reason, message: `namespace ${quote(ns)} may hold only letters, digits and . - _ / # : and space` }
  if (ns.startsWith('AWS/')) return { reason, message: `namespace ${quote(ns)} starts with "AWS/", which CloudWatch reserves for AWS services: choose another, e.g. ${quote(ns.slice(4) || 'MyApp')}` }
  if (blank(ns)) return { reason, message: 'namespace must not be blank' }
  return null
}

/** Checks a metric name; returns null when valid. */
export function checkMetricName (name: unknown): Rejection | null {
  const reason = 'metric_name_invalid'
  if (typeof name !== 'string' || name.length === 0) return { reason, message: 'metric name must be a non-empty string' }
  if (name.length > kMaxMetricNameLength) return { reason, message: `metric name ${quote(name)} is ${name.length} characters long: at most ${kMaxMetricNameLength}` }
  if (!allIn(name, kPrintable)) return { reason, message: `metric name ${quote(name)} must be printable ASCII (no control or non-ASCII characters)` }
  if (blank(name)) return { reason, message: 'metric name must not be blank' }
  return null
}

/** Checks one dimension; returns null when valid. */
export function checkDimension (name: unknown, value: unknown): Rejection | null {
  const reason = 'dimension_invalid'
  if (typeof name !== 'string' || name.length === 0) return { reason, message: 'dimension names must be non-empty strings' }
  if (name.length > kMaxDimensionNameLength) return { reason, message: `dimension name ${quote(name)} is ${name.length} characters long: at most ${kMaxDimensionNameLength}` }
  if (!allIn(name, kPrintable)) return { reason, message: `dimension name ${quote(name)} must be printable ASCII` }
  if (blank(name)) return { reason, message: 'dimension names must not be blank' }
  if (name.charCodeAt(0) === 0x3a) return { reason, message: `dimension name ${quote(name)} must not start with ":"` }
  if (typeof value !== 'string') return { reason, message: `dimension ${quote(name)} must have a string value, got ${typeof value}` }
  if (value.length === 0) return { reason, message: `dimension ${quote(name)} has an empty value: CloudWatch needs 1–${kMaxDimensionValueLength} characters` }
  if (value.length > kMaxDimensionValueLength) return { reason, message: `dimension ${quote(name)} has a value of ${value.length} characters: at most ${kMaxDimensionValueLength}` }
  if (!allIn(value, kPrintable)) return { reason, message: `dimension ${quote(name)} has value ${quote(value)}: values must be printable ASCII` }
  if (blank(value)) return { reason, message: `dimension ${quote(name)} has a blank value` }
  return null
}

/** Checks a unit; returns null when it is one of CloudWatch's 27 names. */
export function checkUnit (unit: unknown): Rejection | null {
  if (isStandardUnit(unit)) return null
  return { reason: 'unit_invalid', message: `unit ${show(unit)} is not a CloudWatch unit; use one of ${kStandardUnits.join(', ')}` }
}


/**
 * Validates a dimensions object and returns its dimensions sorted by name (the canonical
 * order), or the reason it is invalid.
 */
export function canonicalDimensions (dims: Readonly<Record<string, unknown>> | undefined, maxDimensions: number): Dimension[] | Rejection {
  if (dims === undefined || dims === null) return []
  if (typeof dims !== 'object') return { reason: 'dimension_invalid', message: 'dimensions must be an object of name → string value' }
  const out: Dimension[] = []
  for (const name in dims) {
    if (!Object.hasOwn(dims, name)) continue
    const value = dims[name]
    const bad = checkDimension(name, value)
    if (bad !== null) return bad
    out.push({ Name: name, Value: value as string })
  }
  if (out.length > maxDimensions) {
    return { reason: 'too_many_dimensions', message: `${out.length} dimensions (${out.map(d => d.Name).join(', ')}): at most ${maxDimensions} are allowed; drop some or raise options.maxDimensions (CloudWatch's ceiling is 30)` }
  }
  out.sort((a, b) => a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0)
  return out
}
