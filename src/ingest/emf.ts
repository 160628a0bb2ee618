/**
 * Embedded Metric Format (EMF) parser for the sidecar's EMF listener (the CloudWatch agent's
 * port 25888 protocol): one JSON document per line over TCP, one or more per datagram over UDP.
 *
 * Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 *
 * ```
 * {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"ns",
 *   "Dimensions":[["EndpointName","VariantName"],["EndpointName"]],
 *   "Metrics":[{"Name":"ModelLatency","Unit":"Microseconds","StorageResolution":60}]}]},
 *  "EndpointName":"ep","VariantName":"v1","ModelLatency":[1200,1350]}
 * ```
 *
 * Each dimension set is its own series, so that document records each latency twice: once with
 * `{EndpointName, VariantName}` and once with `{EndpointName}` (EMF's roll-up semantics).
 *
 * Treatments chosen here:
 * - The unit of rejection is the smallest thing that is wrong: a document (not JSON, no `_aws`,
 *   bad `Timestamp`, over the size or sample budget), a directive (no `Namespace`, `Metrics` not an
 *   array or over 100), a dimension set (over 30 keys, a key whose member is missing or not a
 *   string), or a metric (no member, a bad value, over 100 values). Everything else in the
 *   document is still recorded. A metric is all-or-nothing: one bad array element rejects it.
 * - `_aws.Timestamp` missing -> "now" (NaN), as the agent stamps such events with their arrival
 *   time; present but not a finite number -> `timestamp_invalid`.
 * - `Dimensions` missing or `[]` -> one empty dimension set (the metric without dimensions), so
 *   the values are not silently dropped.
 * - `StorageResolution: 1` is aggregated into the same 1-minute statistics by default (the
 *   receiver contract has no resolution); `highResolution: 'reject'` rejects it instead.
 * - A metric value may also be a `{"Values":[...],"Counts":[...]}` object (the histogram form
 *   the CloudWatch agent and the OpenTelemetry awsemfexporter emit): each value is one sample
 *   weighted by its count. A statistic set without `Values` (`{"Sum","Min","Max","Count"}`) cannot
 *   be turned back into samples and is rejected as `unsupported_type`.
 */
import type { RejectReason } from '../samples/reasons.js'
import type { SampleReceiver } from '../samples/receiver.js'
import { nonNumberReason } from '../samples/checks.js'
import { quote as quoteText, show } from '../samples/show.js'

/** Options for {@link parseEmf}. The defaults are EMF's own limits. */
export interface EmfParseOptions {
  /** Largest document in UTF-8 bytes; larger ones are rejected as `too_large` before parsing. Default 262,144 (256 KB). */
  maxDocumentBytes?: number
  /** Most metric definitions in one directive's `Metrics`. Default 100. */
  maxMetricsPerDirective?: number
  /** Most values in one metric's array (or `Values`). Default 100. */
  maxValuesPerMetric?: number
  /** Most keys in one dimension set. Default 30. */
  maxDimensionKeys?: number
  /**
   * Most samples one document may produce (directives x dimension sets x values). A 256 KB
   * document could otherwise fan out into millions of receiver calls. Default 100,000.
   */
  maxSamplesPerDocument?: number
  /** What to do with `StorageResolution: 1`: fold into the 1-minute statistics (default) or reject. */
  highResolution?: 'aggregate' | 'reject'
}

const kDefaults: Required<EmfParseOptions> = {
  maxDocumentBytes: 256 * 1024,
  maxMetricsPerDirective: 100,
  maxValuesPerMetric: 100,
  maxDimensionKeys: 30,
  maxSamplesPerDocument: 100_000,
  highResolution: 'aggregate',
}

/** Echoed input is cut to this many characters. */
const kEchoMax = 80

/**
 * Parses EMF documents (one JSON object a line; blank lines are skipped) and reports every
 * metric value to `receiver`. Never throws on bad input; see the module comment for what is
 * rejected and at which granularity. A document that parses but has no metric directives
 * (`"CloudWatchMetrics": []`) is a plain structured log line and produces nothing.
 *
 * Every sample carries the directive's `Namespace`, the metric's `Unit` (undefined when absent),
 * one dimension set's values (undefined for an empty set), `_aws.Timestamp` (or NaN), and count 1
 * (or the bucket's count for the `Values`/`Counts` form).
 *
 * @param data     bytes (UTF-8) or a string holding whole documents
 * @param receiver gets one `sample` per value and dimension set, one `reject` per bad part
 * @param options  limits; the defaults are EMF's
 */
export function parseEmf (data: Uint8Array | string, receiver: SampleReceiver, options?: EmfParseOptions): void {
  const o: Required<EmfParseOptions> = options === undefined ? kDefaults : { ...kDefaults, ...options }
  let docNo = 0
  if (typeof data === 'string') {
    const len = data.length
    let pos = 0
    while (pos < len) {
      let eol = data.indexOf('\n', pos)
      if (eol < 0) eol = len
      let a = pos
      let b = eol
      while (a < b && isSpace(data.charCodeAt(a))) a++
      while (b > a && isSpace(data.charCodeAt(b - 1))) b--
      if (b > a) {
        docNo++
        // A string's length never exceeds its UTF-8 byte length, and the byte length is at
        // most 3x the length: only lines in between need an exact (allocating) count.
        const n = b - a
        let tooLarge = n > o.maxDocumentBytes
        let line: string | undefined
        if (!tooLarge && n * 3 > o.maxDocumentBytes) {
          line = data.slice(a, b)
          tooLarge = Buffer.byteLength(line, 'utf8') > o.maxDocumentBytes
        }
        if (tooLarge) {
          rejectTooLarge(receiver, docNo, n, o, data.slice(a, a + kEchoMax))
        } else {
          parseDocument(line ?? data.slice(a, b), docNo, receiver, o)
        }
      }
      pos = eol + 1
    }
    return
  }
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const len = buf.length
  let pos = 0
  while (pos < len) {
    let eol = buf.indexOf(10, pos)
    if (eol < 0) eol = len
    let a = pos
    let b = eol
    while (a < b && isSpace(buf[a])) a++
    while (b > a && isSpace(buf[b - 1])) b--
    if (b > a) {
      docNo++
      // Checked before decoding: a huge line costs nothing but this comparison.
      if (b - a > o.maxDocumentBytes) {
        rejectTooLarge(receiver, docNo, b - a, o, buf.toString('utf8', a, Math.min(b, a + kEchoMax)))
      } else {
        parseDocument(buf.toString('utf8', a, b), docNo, receiver, o)
      }
    }
    pos = eol + 1
  }
}

function isSpace (ch: number): boolean {
  return ch === 32 || ch === 9 || ch === 13 || ch === 10
}

function rejectTooLarge (receiver: SampleReceiver, docNo: number, size: number, o: Required<EmfParseOptions>, head: string): void {
  receiver.reject('too_large', `emf document ${docNo}: ${size} bytes or more is over the limit of ${o.maxDocumentBytes}: ` +
    `split the metrics over several documents (document starts ${quote(head)})`)
}

/** One metric of a directive, validated; `values` is a number, a number[] or a {Values, Counts} pair. */
interface PlannedMetric {
  name: string
  unit: string | undefined
  values: number | number[]
  counts: number[] | undefined
  n: number
}

interface PlannedDirective {
  namespace: string
  dimensionSets: Array<Record<string, string> | undefined>
  metrics: PlannedMetric[]
}

interface PendingReject { reason: RejectReason, message: string }

/**
 * Validates a whole document into a plan before calling the receiver, so that a document over
 * the sample budget can be rejected as one without half of it recorded.
 */
function parseDocument (text: string, docNo: number, receiver: SampleReceiver, o: Required<EmfParseOptions>): void {
  const where = `emf document ${docNo}`
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    receiver.reject('malformed', `${where}: not valid JSON (${clip(String((err as Error)?.message ?? err))}): ` +
      `send one JSON object per line (document starts ${quote(text.slice(0, kEchoMax))})`)
    return
  }
  if (!isObject(doc)) {
    receiver.reject('malformed', `${where}: an EMF document must be a JSON object with an "_aws" member: got ${describe(doc)}`)
    return
  }
  const aws = own(doc, '_aws')
  if (!isObject(aws)) {
    receiver.reject('malformed', `${where}: no "_aws" metadata object, so this is not EMF: add ` +
      '"_aws": {"Timestamp": <epoch ms>, "CloudWatchMetrics": [...]}' +
      (aws === undefined ? '' : ` (got ${describe(aws)})`))
    return
  }
  const tsRaw = own(aws, 'Timestamp')
  let timestampMs = NaN
  if (tsRaw !== undefined) {
    if (typeof tsRaw !== 'number' || !Number.isFinite(tsRaw)) {
      receiver.reject('timestamp_invalid', `${where}: "_aws.Timestamp" must be a number of epoch milliseconds: got ${describe(tsRaw)}`)
      return
    }
    timestampMs = tsRaw
  }
  const directives = own(aws, 'CloudWatchMetrics')
  if (!Array.isArray(directives)) {
    receiver.reject('malformed', `${where}: "_aws.CloudWatchMetrics" must be an array of metric directives: got ${describe(directives)}`)
    return
  }

  const pending: PendingReject[] = []
  const plan: PlannedDirective[] = []
  let total = 0
  for (let i = 0; i < directives.length; i++) {
    const d = planDirective(doc, directives[i], `${where}, directive ${i}`, pending, o)
    if (d === undefined) continue
    let perSet = 0
    for (const m of d.metrics) perSet += m.n
    total += perSet * d.dimensionSets.length
    plan.push(d)
  }
  if (total > o.maxSamplesPerDocument) {
    receiver.reject('too_large', `${where}: would produce ${total} samples (dimension sets x values), over the limit of ` +
      `${o.maxSamplesPerDocument}: use fewer dimension sets or split the document`)
    return
  }
  for (const r of pending) receiver.reject(r.reason, r.message)
  for (const d of plan) {
    for (const dims of d.dimensionSets) {
      for (const m of d.metrics) {
        const v = m.values
        if (typeof v === 'number') {
          receiver.sample(m.name, v, m.unit, dims, timestampMs, 1, d.namespace)
        } else if (m.counts === undefined) {
          for (let k = 0; k < v.length; k++) receiver.sample(m.name, v[k], m.unit, dims, timestampMs, 1, d.namespace)
        } else {
          const counts = m.counts
          for (let k = 0; k < v.length; k++) {
            // A zero-count bucket holds no samples; the receiver requires count > 0.
            if (counts[k] > 0) receiver.sample(m.name, v[k], m.unit, dims, timestampMs, counts[k], d.namespace)
          }
        }
      }
    }
  }
}

function planDirective (doc: Record<string, unknown>, raw: unknown, where: string, pending: PendingReject[],
  o: Required<EmfParseOptions>): PlannedDirective | undefined {
  if (!isObject(raw)) {
    pending.push({ reason: 'malformed', message: `${where}: a metric directive must be an object with Namespace, Dimensions and Metrics: got ${describe(raw)}` })
    return undefined
  }
  const namespace = own(raw, 'Namespace')
  if (typeof namespace !== 'string') {
    pending.push({ reason: 'namespace_invalid', message: `${where}: "Namespace" must be a string: got ${describe(namespace)}` })
    return undefined
  }
  const metricsRaw = own(raw, 'Metrics')
  if (!Array.isArray(metricsRaw)) {
    pending.push({ reason: 'malformed', message: `${where}: "Metrics" must be an array of {"Name", "Unit"} objects: got ${describe(metricsRaw)}` })
    return undefined
  }
  if (metricsRaw.length > o.maxMetricsPerDirective) {
    pending.push({ reason: 'too_large', message: `${where}: ${metricsRaw.length} metrics is over the limit of ` +
      `${o.maxMetricsPerDirective} a directive: split them over several documents` })
    return undefined
  }
  const dimsRaw = own(raw, 'Dimensions')
  const dimensionSets: Array<Record<string, string> | undefined> = []
  if (dimsRaw === undefined || (Array.isArray(dimsRaw) && dimsRaw.length === 0)) {
    dimensionSets.push(undefined)
  } else if (!Array.isArray(dimsRaw)) {
    pending.push({ reason: 'malformed', message: `${where}: "Dimensions" must be an array of dimension sets ` +
      `(arrays of member names): got ${describe(dimsRaw)}` })
    return undefined
  } else {
    for (let j = 0; j < dimsRaw.length; j++) {
      const set = planDimensionSet(doc, dimsRaw[j], `${where}, dimension set ${j}`, pending, o)
      if (set !== null) dimensionSets.push(set)
    }
  }
  const metrics: PlannedMetric[] = []
  for (let k = 0; k < metricsRaw.length; k++) {
    const m = planMetric(doc, metricsRaw[k], `${where}, metric ${k}`, pending, o)
    if (m !== undefined) metrics.push(m)
  }
  return { namespace, dimensionSets, metrics }
}

/** A dimension set's values from the document; undefined for an empty set, null when rejected. */
function planDimensionSet (doc: Record<string, unknown>, raw: unknown, where: string, pending: PendingReject[],
  o: Required<EmfParseOptions>): Record<string, string> | undefined | null {
  if (!Array.isArray(raw)) {
    pending.push({ reason: 'dimension_invalid', message: `${where}: a dimension set must be an array of member names: got ${describe(raw)}` })
    return null
  }
  if (raw.length > o.maxDimensionKeys) {
    pending.push({ reason: 'too_many_dimensions', message: `${where}: ${raw.length} dimension keys is over the limit of ` +
      `${o.maxDimensionKeys} a set: drop keys or split the set` })
    return null
  }
  if (raw.length === 0) return undefined
  const dims: Record<string, string> = {}
  for (const key of raw) {
    if (typeof key !== 'string') {
      pending.push({ reason: 'dimension_invalid', message: `${where}: dimension keys must be strings: got ${describe(key)}` })
      return null
    }
    const value = own(doc, key)
    if (value === undefined) {
      pending.push({ reason: 'dimension_invalid', message: `${where}: dimension ${quote(key)} has no top-level member of ` +
        'that name: add it as a string member' })
      return null
    }
    if (typeof value !== 'string') {
      pending.push({ reason: 'dimension_invalid', message: `${where}: dimension ${quote(key)} must be a string member: got ` +
        `${describe(value)}` })
      return null
    }
    setDim(dims, key, value)
  }
  return dims
}

function planMetric (doc: Record<string, unknown>, raw: unknown, where: string, pending: PendingReject[],
  o: Required<EmfParseOptions>): PlannedMetric | undefined {
  if (!isObject(raw)) {
    pending.push({ reason: 'metric_name_invalid', message: `${where}: a metric definition must be an object with a "Name": got ${describe(raw)}` })
    return undefined
  }
  const name = own(raw, 'Name')
  if (typeof name !== 'string' || name === '') {
    pending.push({ reason: 'metric_name_invalid', message: `${where}: "Name" must be a non-empty string: got ${describe(name)}` })
    return undefined
  }
  const at = `${where} (${quote(name)})`
  const unitRaw = own(raw, 'Unit')
  if (unitRaw !== undefined && typeof unitRaw !== 'string') {
    pending.push({ reason: 'unit_invalid', message: `${at}: "Unit" must be a string such as "Milliseconds": got ${describe(unitRaw)}` })
    return undefined
  }
  const res = own(raw, 'StorageResolution')
  if (res !== undefined && res !== 60) {
    if (res !== 1) {
      pending.push({ reason: 'malformed', message: `${at}: "StorageResolution" must be 1 or 60: got ${describe(res)}` })
      return undefined
    }
    if (o.highResolution === 'reject') {
      pending.push({ reason: 'unsupported_type', message: `${at}: high-resolution metrics (StorageResolution 1) are not ` +
        'accepted by this listener: send StorageResolution 60 or omit it' })
      return undefined
    }
  }
  const unit = unitRaw as string | undefined
  const value = own(doc, name)
  if (value === undefined) {
    pending.push({ reason: 'malformed', message: `${at}: the document has no top-level member ${quote(name)} holding its value: ` +
      'add it as a number or an array of numbers' })
    return undefined
  }
  if (typeof value === 'number') {
    // JSON has no NaN or Infinity literals, but `1e999` parses to Infinity.
    const bad = nonNumberReason(value)
    if (bad !== undefined) { pending.push({ reason: bad, message: `${at}: value ${describe(value)} is not finite` }); return undefined }
    return { name, unit, values: value, counts: undefined, n: 1 }
  }
  if (Array.isArray(value)) {
    const err = checkValues(value, at, o)
    if (err !== undefined) { pending.push(err); return undefined }
    return { name, unit, values: value as number[], counts: undefined, n: value.length }
  }
  if (isObject(value)) {
    const vs = own(value, 'Values')
    if (vs === undefined) {
      pending.push({ reason: 'unsupported_type', message: `${at}: a statistic set without "Values" cannot be split into ` +
        'samples: send the raw values as an array, or "Values" with "Counts"' })
      return undefined
    }
    if (!Array.isArray(vs)) {
      pending.push({ reason: 'malformed', message: `${at}: "Values" must be an array of numbers: got ${describe(vs)}` })
      return undefined
    }
    const err = checkValues(vs, at, o)
    if (err !== undefined) { pending.push(err); return undefined }
    const cs = own(value, 'Counts')
    if (cs === undefined) return { name, unit, values: vs as number[], counts: undefined, n: vs.length }
    if (!Array.isArray(cs) || cs.length !== vs.length) {
      pending.push({ reason: 'count_invalid', message: `${at}: "Counts" must be an array of numbers as long as "Values" ` +
        `(${vs.length}): got ${describe(cs)}` })
      return undefined
    }
    for (const cnt of cs) {
      if (typeof cnt !== 'number' || !(cnt >= 0 && cnt < Infinity)) {
        pending.push({ reason: 'count_invalid', message: `${at}: every entry of "Counts" must be a finite number >= 0: got ${describe(cnt)}` })
        return undefined
      }
    }
    return { name, unit, values: vs as number[], counts: cs as number[], n: vs.length }
  }
  pending.push({ reason: 'not_a_number', message: `${at}: value ${describe(value)} is not a number: send a JSON number or an array of numbers` })
  return undefined
}

function checkValues (values: unknown[], at: string, o: Required<EmfParseOptions>): PendingReject | undefined {
  if (values.length === 0) {
    return { reason: 'malformed', message: `${at}: the value array is empty: omit the metric or send at least one value` }
  }
  if (values.length > o.maxValuesPerMetric) {
    return { reason: 'too_large', message: `${at}: ${values.length} values is over the limit of ${o.maxValuesPerMetric} ` +
      'an array: split them over several documents' }
  }
  for (let k = 0; k < values.length; k++) {
    const v = values[k]
    if (typeof v !== 'number') {
      return { reason: 'not_a_number', message: `${at}: value ${k} (${describe(v)}) is not a number: send JSON numbers only` }
    }
    const bad = nonNumberReason(v)
    if (bad !== undefined) return { reason: bad, message: `${at}: value ${k} (${describe(v)}) is not finite` }
  }
  return undefined
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * An own member only: names in `Dimensions` and `Metrics` come from the sender, and a plain
 * lookup would find inherited members ("constructor", "toString") that are not in the document.
 */
function own (o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined
}

/** Sets a dimension as an own property even for the key `__proto__` (plain assignment would drop it). */
function setDim (dims: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(dims, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    dims[key] = value
  }
}

/** A JSON member for messages: "nothing" when it is missing, else {@link show}'s text of it. */
function describe (v: unknown): string {
  return v === undefined ? 'nothing' : show(v, kEchoMax)
}

function clip (t: string): string {
  return t.length > kEchoMax ? t.slice(0, kEchoMax - 3) + '...' : t
}

function quote (t: string): string {
  return quoteText(t, kEchoMax)
}
