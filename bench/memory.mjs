/**
 * Memory per active series-minute, and the cost of sealing a minute of many series.
 * Run with --expose-gc, in its own process (bench/run.mjs forks it):
 *
 *   node --expose-gc bench/memory.mjs [--series 10000,100000] [--samples 100,1000]
 *
 * Memory: `series` series (3 dimensions each) get `samples` latencies each in the current
 * minute, at the default precision (6 bits: percentiles within 0.78%, so ≤1%). Reported is the
 * growth of V8 heap + external memory (histogram chunks live off the heap) after a full GC,
 * divided by the number of series: registry, trie, handle and the minute's aggregate.
 *
 * Seal: the minute is then sealed (ManualClock past end + grace): encode every aggregate
 * into datums, batch them and hand them to a sink that only counts. Reported: CPU time until
 * every sample reached the sink, the longest stretch the event loop could not run (a 1 ms
 * ticker's largest gap), and the datums and requests.
 */
import { parseArgs } from 'node:util'
import { createAggregator, ManualClock } from '../dist/index.js'
import { latencies, kEndpoints, kVariants, kContainers } from './workload.mjs'

const gc = globalThis.gc
if (typeof gc !== 'function') throw new Error('run with node --expose-gc')

function settle () { for (let i = 0; i < 4; i++) gc() }
function used () { const m = process.memoryUsage(); return m.heapUsed + m.external }

/** A sink that counts and drops, so that what is measured is the engine, not the sink. */
function countingSink () {
  const s = { name: 'count', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 1_000_000, datums: 0, requests: 0, samples: 0 }
  s.send = async (batch) => { s.requests++; s.datums += batch.datums.length; for (const d of batch.datums) s.samples += d.StatisticValues.SampleCount }
  return s
}

export async function measure (nSeries, samplesPerSeries) {
  const start = Date.UTC(2026, 0, 1, 12, 0, 0)
  const clock = new ManualClock(start + 1000)
  const sink = countingSink()
  const vals = latencies(1 << 16, 99)
  const names = Array.from({ length: nSeries }, (_, i) => `host-${i}`)
  settle()
  const before = used()
  const agg = createAggregator({ namespace: 'Bench', sink, clock, maxSeries: nSeries + 10, onWarning: () => {}, gracePeriodMs: 5000 })
  let k = 0
  for (let i = 0; i < nSeries; i++) {
    const h = agg.series('ModelLatency', { EndpointName: kEndpoints[i & 3], VariantName: kVariants[(i >> 2) & 1], Host: names[i] }, { unit: 'Microseconds' })
    for (let j = 0; j < samplesPerSeries; j++) h.record(vals[(k++) & 0xFFFF])
  }
  settle()
  const bytes = used() - before
  const sum = { bytesPerSeries: Math.round(bytes / nSeries), totalMiB: Number((bytes / 2 ** 20).toFixed(1)) }

  // Seal: move the clock past the minute's end plus grace; the engine seals from that timer
  // (in slices if it yields between them). The longest stretch the event loop could not run
  // is measured two ways: the synchronous part of the timer, and a 1 ms ticker's largest gap
  // until every recorded sample has reached the sink.
  let maxGap = 0
  let maxGapAt = 0
  let last = performance.now()
  const ticker = setInterval(() => { const t = performance.now(); if (t - last > maxGap) { maxGap = t - last; maxGapAt = t } last = t }, 1)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  last = t0
  clock.set(start + 60_000 + 5_000 + 1)
  const syncMs = performance.now() - t0
  if (syncMs > maxGap) { maxGap = syncMs; maxGapAt = t0 }
  const want = nSeries * samplesPerSeries
  const deadline = Date.now() + 120_000
  while (sink.samples < want && Date.now() < deadline && agg.stats().datumsDropped === 0) {
    await agg.flush()
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  const sealWallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  clearInterval(ticker)
  await agg.close()
  const st = agg.stats()
  return {
    series: nSeries,
    samplesPerSeries,
    ...sum,
    sealCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    sealWallMs: Math.round(sealWallMs),
    sealBlockedMs: Math.round(maxGap),
    sealBlockedAtMs: Math.round(maxGapAt - t0),
    sealFirstCallMs: Math.round(syncMs),
    datums: sink.datums,
    requests: sink.requests,
    publishedSamples: sink.samples,
    sentSamples: nSeries * samplesPerSeries,
    datumsDroppedByPublishQueue: st.datumsDropped,
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const { values } = parseArgs({ options: { series: { type: 'string', default: '10000,100000' }, samples: { type: 'string', default: '100,1000' } } })
  const out = []
  for (const n of values.series.split(',').map(Number)) {
    for (const s of values.samples.split(',').map(Number)) out.push(await measure(n, s))
  }
  if (process.send) process.send(out)
  else console.log(JSON.stringify(out, null, 1))
}
