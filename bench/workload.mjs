/**
 * The seeded workload every benchmark shares: latencies of a small inference fleet
 * (log-normal, microseconds), its dimensions, and StatsD datagrams built from them.
 */

/** The project's seeded PRNG (mulberry32), so every run and every library sees the same values. */
import { seededRandom as rng } from '../dist/core/seeded-random.js'

export { rng }

/** `n` integer latencies in µs, log-normal around 7.5 ms (σ 0.6), from `seed`. */
export function latencies (n, seed = 42) {
  const r = rng(seed)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let u = 0
    while (u === 0) u = r()
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
    out[i] = Math.max(1, Math.round(7_500 * Math.exp(0.6 * z)))
  }
  return out
}

export const kEndpoints = ['chat-llm', 'embedder', 'reranker', 'vision']
export const kVariants = ['AllTraffic', 'canary']
export const kContainers = ['tokenizer', 'model', 'detokenizer']

/** The 3 dimensions of the fleet's ContainerLatency series: 4 × 2 × 3 = 24 series. */
export function dims3 (i) {
  return { EndpointName: kEndpoints[i & 3], VariantName: kVariants[(i >> 2) & 1], ContainerName: kContainers[i % 3] }
}

/** 10 dimensions (the SageMaker limit), 24 distinct combinations. */
export function dims10 (i) {
  return {
    EndpointName: kEndpoints[i & 3],
    VariantName: kVariants[(i >> 2) & 1],
    ContainerName: kContainers[i % 3],
    Region: 'us-east-1',
    AccountTier: 'prod',
    InstanceType: 'ml.g5.xlarge',
    ModelVersion: 'v7',
    Framework: 'pytorch',
    Team: 'inference',
    Stage: 'serving',
  }
}

/**
 * StatsD datagrams of `lines` lines each, as hot-shots sends them with DogStatsD tags:
 * ModelLatency / OverheadLatency / ContainerLatency timers (µs values), Invocations counters.
 * Returns the datagrams and, for each, its number of samples and the sum of its values.
 */
export function statsdDatagrams (count, lines, seed = 7) {
  const r = rng(seed)
  const lat = latencies(count * lines, seed + 1)
  const bufs = []
  const samples = new Uint32Array(count)
  const sums = new Float64Array(count)
  let k = 0
  for (let d = 0; d < count; d++) {
    const out = []
    let sum = 0
    for (let l = 0; l < lines; l++) {
      const ep = kEndpoints[Math.floor(r() * 4)]
      const va = kVariants[r() < 0.9 ? 0 : 1]
      const kind = Math.floor(r() * 6)
      const v = lat[k++]
      if (kind === 0) { out.push(`Invocations:1|c|#EndpointName:${ep},VariantName:${va}`); sum += 1 }
      else if (kind === 1) { out.push(`OverheadLatency:${Math.round(v / 20)}|ms|#EndpointName:${ep},VariantName:${va}`); sum += Math.round(v / 20) }
      else if (kind <= 3) { out.push(`ModelLatency:${v}|ms|#EndpointName:${ep},VariantName:${va}`); sum += v }
      else { const c = kContainers[kind - 4 + (r() < 0.5 ? 1 : 0)]; out.push(`ContainerLatency:${v}|ms|#EndpointName:${ep},VariantName:${va},ContainerName:${c}`); sum += v }
    }
    bufs.push(Buffer.from(out.join('\n')))
    samples[d] = lines
    sums[d] = sum
  }
  return { bufs, samples, sums }
}

/** The unit map the sidecar gets for this workload. */
export const kStatsdUnits = 'ModelLatency=Microseconds,OverheadLatency=Microseconds,ContainerLatency=Microseconds'
