/**
 * The sender of the sidecar ingest benchmark, run as its own process: sends StatsD datagrams
 * over UDP for a fixed time, at a fixed rate of samples/s (or as fast as it can with rate 0),
 * and reports what the kernel accepted: datagrams, samples and the sum of their values.
 *
 * A warm-up at a tenth of the rate comes first (`warmupMs`), so that the sidecar's code is
 * compiled before the full rate starts, as it would be in a sidecar that has been running.
 * Everything sent counts, the warm-up included.
 *
 * argv[2]: JSON {host, port, lines, rate, durationMs, warmupMs, seed}
 */
import { createSocket } from 'node:dgram'
import { statsdDatagrams } from './workload.mjs'

const o = JSON.parse(process.argv[2])
const { bufs, samples, sums } = statsdDatagrams(4096, o.lines, o.seed ?? 7)
const n = bufs.length
const sock = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', sendBufferSize: 4 * 1024 * 1024 })
await new Promise((resolve, reject) => { sock.once('error', reject); sock.connect(o.port, o.host, resolve) })

const dgramRate = o.rate > 0 ? o.rate / o.lines : 0
const warmupMs = o.warmupMs ?? 1000
let next = 0
let inflight = 0
let sentDatagrams = 0
let sentSamples = 0
let sentSum = 0
let errors = 0
const maxInflight = 256
let t0 = performance.now()
let cpu0 = process.cpuUsage()
let warm = warmupMs <= 0
let fullFrom = { datagrams: 0, samples: 0 }

function onSent (err, i) {
  inflight--
  if (err) { errors++; return }
  sentDatagrams++
  sentSamples += samples[i]
  sentSum += sums[i]
}

await new Promise(resolve => {
  const pump = () => {
    let elapsed = performance.now() - t0
    if (!warm) {
      if (elapsed >= warmupMs) {
        warm = true
        t0 = performance.now(); cpu0 = process.cpuUsage(); elapsed = 0
        fullFrom = { datagrams: next, samples: sentSamples }
        process.send({ phase: 'full' })
      }
    } else if (elapsed >= o.durationMs) { resolve(); return }
    const rate = warm ? dgramRate : (dgramRate > 0 ? dgramRate : 20_000) / 10
    const due = !warm ? fullFrom.datagrams + Math.floor(elapsed * rate / 1000) : dgramRate > 0 ? fullFrom.datagrams + Math.floor(elapsed * rate / 1000) : next + 4 * maxInflight
    while (next < due && inflight < maxInflight) {
      const i = next % n
      inflight++
      next++
      sock.send(bufs[i], (err) => { onSent(err, i) })
    }
    if ((dgramRate > 0 || !warm) && next >= due) setTimeout(pump, 1)
    else setImmediate(pump)
  }
  pump()
})
while (inflight > 0) await new Promise(resolve => setImmediate(resolve))
const wallMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
sock.close()
// Rates are those of the full-rate phase; totals include the warm-up.
process.send({ done: true, sentDatagrams, sentSamples, sentSum, errors, wallMs, fullRateSamples: sentSamples - fullFrom.samples, cpuMs: (cpu.user + cpu.system) / 1000 })
