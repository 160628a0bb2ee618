/**
 * The receiving side of the sidecar ingest benchmark: the built sidecar (dist/) in its own
 * process, exactly as `minutely sidecar` starts it, but with a sink that only adds up what is
 * published (SampleCount and Sum of every datum), so reading the result back costs nothing.
 *
 * argv[2]: JSON of CLI flags (e.g. {"statsd-port": "0", "ingest-threads": "1"}), plus two of the
 * benchmark's own: "receive-thread": "off" reads the UDP socket on the event loop instead of a
 * thread of its own, and "block-ms": N blocks the event loop for N ms once a second (what a
 * seal slice, a major GC of a large heap or a burst of HTTP does to it).
 * IPC: sends {ready, port, recvBufferBytes}; on "stop" closes the sidecar (listeners drain,
 * workers finish, the engine seals and publishes) and sends the totals.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { kSidecarSettings, startSidecar } from '../dist/cli/sidecar.js'
import { resolveSettings } from '../dist/cli/config.js'

const { 'receive-thread': receiveThread, 'block-ms': blockMs, ...flags } = { sink: 'memory', 'http-port': '0', 'emf-port': 'off', ...JSON.parse(process.argv[2] ?? '{}') }
const settings = resolveSettings(kSidecarSettings, flags, {})
let published = 0
let publishedSum = 0
let datums = 0
const sink = {
  name: 'count',
  maxValuesPerDatum: 150,
  maxDatumsPerBatch: 1000,
  maxBatchBytes: 1_000_000,
  async send (batch) {
    for (const d of batch.datums) { published += d.StatisticValues.SampleCount; publishedSum += d.StatisticValues.Sum; datums++ }
  },
}
const logs = []
const sidecar = await startSidecar(settings, { sink, log: (l) => { logs.push(l) }, receiveThreads: receiveThread !== 'off' })
if (Number(blockMs) > 0) {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  setInterval(() => { Atomics.wait(cell, 0, 0, Number(blockMs)) }, 1000).unref()
}
// BENCH_QUEUE=1: the queue to the workers every 250 ms (when does it fill up?).
if (process.env.BENCH_QUEUE) {
  const t0 = Date.now()
  const q = []
  setInterval(() => { q.push(`${Date.now() - t0}:${sidecar.pool.stats.queuedBatches}/${sidecar.pool.stats.datagramsDropped}`) }, 250).unref()
  process.on('disconnect', () => { process.stderr.write('queue ' + q.join(' ') + '\n') })
}
let cpu0 = process.cpuUsage()
let elu0 = performance.eventLoopUtilization()
const delay = monitorEventLoopDelay({ resolution: 5 })
delay.enable()
process.send({ ready: true, port: sidecar.statsd?.port, emfPort: sidecar.emf?.port, recvBufferBytes: sidecar.statsd?.recvBufferBytes, threads: sidecar.pool?.stats.threads, logs })
process.on('message', async (m) => {
  // "mark": the full rate starts; CPU and event-loop use are measured from here.
  if (m === 'mark') { cpu0 = process.cpuUsage(); elu0 = performance.eventLoopUtilization(); delay.reset(); return }
  if (m !== 'stop') return
  const cpu = process.cpuUsage(cpu0)
  const elu = performance.eventLoopUtilization(elu0)
  const listener = { ...sidecar.statsd?.stats }
  delay.disable()
  const loopDelayMs = { p99: Number((delay.percentile(99) / 1e6).toFixed(1)), max: Number((delay.max / 1e6).toFixed(1)) }
  await sidecar.close()
  const st = sidecar.aggregator.stats()
  process.send({
    published, publishedSum, datums,
    accepted: st.samplesAccepted, rejected: st.samplesRejected, rejectedByReason: Object.fromEntries(Object.entries(st.rejectedByReason).filter(([, n]) => n > 0)),
    pool: sidecar.pool?.stats, listener, loopDelayMs, cpuMs: (cpu.user + cpu.system) / 1000, eventLoopUtilization: elu.utilization, logs,
  })
  process.disconnect()   // nothing else keeps the process alive: it exits (and writes --cpu-prof)
})
