/**
 * Datums → PutMetricData requests: at most 1000 datums and 1 MB a request, one namespace a
 * request. Sizes are those of the JSON 1.0 body the SDK sends (Timestamp as epoch seconds),
 * measured once per datum here, off the hot path.
 */
import { kMaxDatumsPerRequest, kMaxRequestBytes } from '../limits.js'
import type { DatumBatch, MetricDatum } from './datum.js'

/** Body bytes we allow a request: the 1 MB limit less a margin for what we do not count. */
export const kRequestBodyBudget = kMaxRequestBytes - 16_384

/** The size of a datum in the SDK's JSON body, in bytes (names and values are ASCII). */
export function datumBytes (d: MetricDatum): number {
  return JSON.stringify({ ...d, Timestamp: d.Timestamp.getTime() / 1000 }).length
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
