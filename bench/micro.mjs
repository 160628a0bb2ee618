/**
 * Per-sample cost of recording a latency, in one tinybench run, on the same seeded values:
 * the floor (a Float64Array write), hdr-histogram-js (WebAssembly and JS builds), minutely's
 * calls exactly as the README writes them — a bound handle, and
 * `agg.record(name, v, dims, { unit: 'Microseconds' })` with a reused, a fresh 3-dim and a
 * fresh 10-dim object, plus the same with a timestamp — and the same record() calls without
 * options, prom-client (a bound child), @opentelemetry/sdk-metrics (a histogram with 3
 * attributes) and aws-embedded-metrics (a logger per request, serialized, as its sinks do
 * before writing).
 *
 * Every task records `kN` values per call; ns/sample = tinybench's latency / kN.
 * Runs against dist/ (build first).
 */
import { createRequire } from 'node:module'
import { Bench } from 'tinybench'
import { createAggregator, inMemorySink } from '../dist/index.js'
import { dims3, kContainers, kEndpoints, kVariants, latencies } from './workload.mjs'

const require = createRequire(import.meta.url)
const kN = 1024

/** A MetricReader that never exports: OTel records as it would in production. */
async function otelHistogram () {
  const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics')
  class NullReader extends MetricReader {
    async onForceFlush () {}
    async onShutdown () {}
  }
  const provider = new MeterProvider({ readers: [new NullReader()] })
  return provider.getMeter('bench').createHistogram('ModelLatency', { unit: 'us' })
}

/** aws-embedded-metrics with an environment whose sink serializes and discards (no I/O). */
function emfLoggerFactory () {
  const emf = require('aws-embedded-metrics')
  const { LogSerializer } = require('aws-embedded-metrics/lib/serializers/LogSerializer')
  const serializer = new LogSerializer()
  let bytes = 0
  const sink = { name: 'null', accept: async (ctx) => { for (const e of serializer.serialize(ctx)) bytes += e.length } }
  const env = {
    probe: async () => true,
    getName: () => 'inference',
    getType: () => 'SageMaker',
    getLogGroupName: () => '/aws/sagemaker/Endpoints/bench',
    configureContext: () => {},
    getSink: () => sink,
  }
  const resolve = async () => env
  return { make: () => new emf.MetricsLogger(resolve), Unit: emf.Unit, bytes: () => bytes }
}

/**
 * Runs the micro benchmarks. Returns rows {name, nsPerSample, nsP50, samples} in a fixed order.
 * @param {{ timeMs?: number, warmupMs?: number }} o
 */
export async function runMicro (o = {}) {
  const timeMs = o.timeMs ?? 500
  const warmupMs = o.warmupMs ?? 200
  const vals = latencies(kN, 42)
  const out = new Float64Array(kN)

  const hdr = await import('hdr-histogram-js')
  await hdr.initWebAssembly()
  const hdrReq = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 2, bitBucketSize: 32 }
  const hdrWasm = hdr.build({ ...hdrReq, useWebAssembly: true })
  const hdrJs = hdr.build({ ...hdrReq, useWebAssembly: false })

  const agg = createAggregator({ namespace: 'Bench', sink: inMemorySink(), onWarning: () => {}, maxSeries: 100_000 })
  const fixed = dims3(0)
  const handle = agg.series('ContainerLatency', fixed, { unit: 'Microseconds' })

  const prom = require('prom-client')
  const promHist = new prom.Histogram({ name: 'container_latency_us', help: 'latency', labelNames: ['EndpointName', 'VariantName', 'ContainerName'], buckets: prom.exponentialBuckets(100, 1.5, 30), registers: [] })
  const promChild = promHist.labels(fixed.EndpointName, fixed.VariantName, fixed.ContainerName)

  const otel = await otelHistogram()
  const otelAttrs = { ...fixed }

  const emf = emfLoggerFactory()
  const kEmfN = 64

  const E = kEndpoints; const V = kVariants; const C = kContainers
  const bench = new Bench({ time: timeMs, warmupTime: warmupMs, warmup: true, iterations: 16 })
  bench.add('Float64Array write (floor)', () => { for (let i = 0; i < kN; i++) out[i] = vals[i] })
  bench.add('hdr-histogram-js recordValue (WASM)', () => { for (let i = 0; i < kN; i++) hdrWasm.recordValue(vals[i]) })
  bench.add('hdr-histogram-js recordValue (JS)', () => { for (let i = 0; i < kN; i++) hdrJs.recordValue(vals[i]) })
  bench.add('minutely handle.record(v)', () => { for (let i = 0; i < kN; i++) handle.record(vals[i]) })
  // The README's record() calls: a unit in options, a literal as in any call site.
  bench.add('minutely agg.record(name, v, dims, { unit }) reused dims', () => { for (let i = 0; i < kN; i++) agg.record('ContainerLatency', vals[i], fixed, { unit: 'Microseconds' }) })
  bench.add('minutely agg.record(…, { unit }) fresh 3-dim object', () => {
    for (let i = 0; i < kN; i++) agg.record('ContainerLatency', vals[i], { EndpointName: E[i & 3], VariantName: V[(i >> 2) & 1], ContainerName: C[i % 3] }, { unit: 'Microseconds' })
  })
  bench.add('minutely agg.record(…, { unit }) fresh 10-dim object', () => {
    for (let i = 0; i < kN; i++) {
      agg.record('ContainerLatency', vals[i], {
        EndpointName: E[i & 3], VariantName: V[(i >> 2) & 1], ContainerName: C[i % 3], Region: 'us-east-1', AccountTier: 'prod',
        InstanceType: 'ml.g5.xlarge', ModelVersion: 'v7', Framework: 'pytorch', Team: 'inference', Stage: 'serving',
      }, { unit: 'Microseconds' })
    }
  })
  // A timestamp costs a clock read (Date.now(), ~30 ns) and the timestamp checks.
  bench.add('minutely agg.record(…, { unit, timestamp: Date.now() }) reused dims', () => {
    for (let i = 0; i < kN; i++) agg.record('ContainerLatency', vals[i], fixed, { unit: 'Microseconds', timestamp: Date.now() })
  })
  bench.add('minutely agg.record(name, v, dims) reused dims, no options', () => { for (let i = 0; i < kN; i++) agg.record('ContainerLatency', vals[i], fixed) })
  bench.add('minutely agg.record fresh 3-dim object, no options', () => {
    for (let i = 0; i < kN; i++) agg.record('ContainerLatency', vals[i], { EndpointName: E[i & 3], VariantName: V[(i >> 2) & 1], ContainerName: C[i % 3] })
  })
  bench.add('minutely agg.record fresh 10-dim object, no options', () => {
    for (let i = 0; i < kN; i++) {
      agg.record('ContainerLatency', vals[i], {
        EndpointName: E[i & 3], VariantName: V[(i >> 2) & 1], ContainerName: C[i % 3], Region: 'us-east-1', AccountTier: 'prod',
        InstanceType: 'ml.g5.xlarge', ModelVersion: 'v7', Framework: 'pytorch', Team: 'inference', Stage: 'serving',
      })
    }
  })
  bench.add('prom-client bound child observe(v)', () => { for (let i = 0; i < kN; i++) promChild.observe(vals[i]) })
  bench.add('@opentelemetry/sdk-metrics record(v, 3 attrs)', () => { for (let i = 0; i < kN; i++) otel.record(vals[i], otelAttrs) })
  bench.add('aws-embedded-metrics logger per request', async () => {
    const ps = []
    for (let i = 0; i < kEmfN; i++) {
      const m = emf.make()
      m.putDimensions(dims3(i))
      m.putMetric('ContainerLatency', vals[i], emf.Unit.Microseconds)
      ps.push(m.flush())
    }
    await Promise.all(ps)
  })
  await bench.run()

  const perCall = (name) => name.startsWith('aws-embedded-metrics') ? kEmfN : kN
  const rows = bench.tasks.map(t => {
    const r = t.result
    const n = perCall(t.name)
    return {
      name: t.name,
      nsPerSample: Number((r.latency.mean * 1e6 / n).toFixed(2)),
      nsP50: Number((r.latency.p50 * 1e6 / n).toFixed(2)),
      rme: Number(r.latency.rme?.toFixed?.(1) ?? NaN),
      samples: r.latency.samplesCount,
    }
  })
  // Keep the recorders alive past the run (nothing may be optimized away).
  if (hdrWasm.totalCount + hdrJs.totalCount < 0 || emf.bytes() < 0) console.log('impossible')
  hdrWasm.destroy()
  await agg.close()
  return rows
}

/** Row name prefixes of the calls the README teaches (the targets are on these). */
export const kRows = Object.freeze({
  handle: 'minutely handle',
  reused: 'minutely agg.record(name, v, dims, { unit }) reused',
  fresh3: 'minutely agg.record(…, { unit }) fresh 3',
  fresh10: 'minutely agg.record(…, { unit }) fresh 10',
  timestamp: 'minutely agg.record(…, { unit, timestamp',
  prom: 'prom-client',
})

/** ns/sample (p50) of the row whose name starts with `prefix`. */
export function nsOf (rows, prefix) { return rows.find(r => r.name.startsWith(prefix))?.nsP50 ?? NaN }

/** The targets, on the calls as the README writes them. */
export function microVerdicts (rows) {
  const ns = (k) => nsOf(rows, kRows[k])
  const floor = nsOf(rows, 'Float64Array')
  const handle = ns('handle')
  const reused = ns('reused')
  const fresh3 = ns('fresh3')
  const fresh10 = ns('fresh10')
  const prom = ns('prom')
  return [
    { what: 'handle.record(v) ns/sample', value: handle, target: '≤ 8', ok: handle <= 8 },
    { what: 'prom-client bound child / handle', value: prom / handle, target: '≥ 50', ok: prom / handle >= 50 },
    { what: 'agg.record(…, { unit }) reused dims ns/sample', value: reused, target: '≤ 25', ok: reused <= 25 },
    { what: 'agg.record(…, { unit }) fresh 3-dim ns/sample', value: fresh3, target: '≤ 80', ok: fresh3 <= 80 },
    { what: 'agg.record(…, { unit }) fresh 10-dim ns/sample', value: fresh10, target: '≤ 160', ok: fresh10 <= 160 },
    { what: 'handle / Float64Array floor', value: handle / floor, target: '(info)', ok: true },
  ]
}

export function formatMicro (rows) {
  const floor = rows[0].nsP50
  const handle = rows.find(r => r.name.startsWith('minutely handle'))?.nsP50 ?? NaN
  const w = Math.max(...rows.map(r => r.name.length))
  const lines = [`${'path'.padEnd(w)}  ns/sample (p50)  mean      × floor   ÷ minutely handle`]
  for (const r of rows) {
    lines.push(`${r.name.padEnd(w)}  ${r.nsP50.toFixed(2).padStart(15)}  ${r.nsPerSample.toFixed(2).padStart(8)}  ${(r.nsP50 / floor).toFixed(1).padStart(8)}  ${(r.nsP50 / handle).toFixed(1).padStart(10)}`)
  }
  return lines.join('\n')
}
