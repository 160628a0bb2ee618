/**
 * Datums → PutMetricData requests: at most 1000 datums and 1 MB a request, one namespace a
 * request. Sizes are those of the JSON 1.0 body the SDK sends (Timestamp as epoch seconds),
 * measured once per datum here, off the hot path.
 */
import { kMaxDatumsPerRequest, kMaxRequestBytes } from '../limits.js'
import type { DatumBatch, MetricDatum } from './datum.js'

/** Body bytes we allow a request: the 1 MB limit less a margin for what we do not count. */
export const kRequestBodyBudget = kMaxRequestBytes - 16_384

/** Length of a string as a JSON string literal (validated names are printable ASCII). */
function strBytes (s: string): number {
  let n = s.length + 2
  for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); if (c === 0x22 || c === 0x5c) n++ }
  return n
}

const kPow10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]

/** JSON length of a number: integers by comparison (counts are integers), others by String. */
function numBytes (v: number): number {
  if (Number.isInteger(v) && v < 1e15 && v > -1e15) {
    const a = v < 0 ? -v : v
    let n = 1
    while (n < 16 && a >= kPow10[n]) n++
    return v < 0 ? n + 1 : n
  }
  return String(v).length
}

function arrayBytes (a: readonly number[]): number {
  let n = 2 + Math.max(0, a.length - 1)
  for (let i = 0; i < a.length; i++) n += numBytes(a[i])
  return n
}

/**
 * The size of a datum in the SDK's JSON body, in bytes, computed field by field (it equals
 * `JSON.stringify` of the datum with Timestamp in epoch seconds, at a fraction of the cost:
 * this runs once per datum for every series at every seal).
 */
export function datumBytes (d: MetricDatum): number {
  const cached = (d as MetricDatum & { [kDatumBytes]?: number })[kDatumBytes]
  return cached ?? datumBytesWith(d, () => -1)
}

/** A datum's size as stored by the encoder (not serialised: symbol keys are not JSON). */
export const kDatumBytes = Symbol('minutely.datumBytes')

/**
 * {@link datumBytes} with a source of value lengths: `valueLength(i)` returns the JSON
 * length of `Values[i]`, or -1 to have it computed.
 */
export function datumBytesWith (d: MetricDatum, valueLength: (i: number) => number): number {
  // {"MetricName":,"Dimensions":[],"Timestamp":,"Unit":,"StorageResolution":,"StatisticValues":{"SampleCount":,"Sum":,"Minimum":,"Maximum":},"Values":,"Counts":}
  let n = 157
  n += strBytes(d.MetricName)
  for (let i = 0; i < d.Dimensions.length; i++) {
    // {"Name":,"Value":} plus a comma between entries
    n += 18 + strBytes(d.Dimensions[i].Name) + strBytes(d.Dimensions[i].Value) + (i > 0 ? 1 : 0)
  }
  n += numBytes(d.Timestamp.getTime() / 1000) + strBytes(d.Unit) + numBytes(d.StorageResolution)
  const sv = d.StatisticValues
  n += numBytes(sv.SampleCount) + numBytes(sv.Sum) + numBytes(sv.Minimum) + numBytes(sv.Maximum)
  n += 2 + Math.max(0, d.Values.length - 1)
  for (let i = 0; i < d.Values.length; i++) { const l = valueLength(i); n += l >= 0 ? l : numBytes(d.Values[i]) }
  n += arrayBytes(d.Counts)
  return n
}

function envelopeBytes (namespace: string): number {
  return JSON.stringify({ Namespace: namespace, MetricData: [] }).length
}

/** Packs datums of one namespace into batches within the limits. */
export function batchDatums (namespace: string, datums: MetricDatum[],
  maxDatums = kMaxDatumsPerRequest, maxBytes = kRequestBodyBudget): DatumBatch[] {
  const out: DatumBatch[] = []
  const env = envelopeBytes(namespace)
  // Each datum adds its JSON and one comma; the first needs no comma.
  let cur: MetricDatum[] = []
  let bytes = env - 1
  for (const d of datums) {
    const n = datumBytes(d) + 1
    if (cur.length > 0 && (cur.length >= maxDatums || bytes + n > maxBytes)) {
      out.push({ namespace, datums: cur, bytes })
      cur = []
      bytes = env - 1
    }
    cur.push(d)
    bytes += n
  }
  if (cur.length > 0) out.push({ namespace, datums: cur, bytes })
  return out
}
