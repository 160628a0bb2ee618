/**
 * Sidecar ingest benchmark: the built sidecar in one process, a StatsD sender in another,
 * UDP on loopback. Checks that what the sidecar published (the sum of SampleCount and of Sum
 * over every datum) equals what the sender handed to the kernel, and reports samples/s.
 *
 *   node bench/sidecar-ingest.mjs [--lines 20] [--rate 2500000] [--duration 5] [--threads 0] [--recv-buffer bytes]
 *                                 [--receive-thread off] [--block-ms N]
 *
 * --receive-thread off reads the UDP socket on the sidecar's event loop (as before the
 * receiving thread existed), to compare; --block-ms N blocks the sidecar's event loop for N ms
 * once a second, as a seal slice or a major GC of a large heap would.
 *
 * --rate 0 sends as fast as the sender can (loss is then expected and reported). Loss is
 * split into what the kernel dropped (receive buffer full: /proc/net/udp "drops") and what
 * the sidecar counted (queue to the workers full, `overloaded`).
 *
 * Debugging: BENCH_DROPS=1 prints the kernel's drop counter every 250 ms (when does loss
 * happen); BENCH_PROFILE=<dir> writes a CPU profile of the sidecar's threads there;
 * BENCH_TRACE_GC=1 runs the sidecar with --trace-gc (its pauses measured ≤ 7 ms at 2.5M/s,
 * so the ~20 ms event-loop stalls behind kernel drops are not GC: more likely the scheduler,
 * with sender, event loop and worker sharing 2 cores).
 */
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'
import { kStatsdUnits } from './workload.mjs'

const cpus = availableParallelism()

const here = (f) => fileURLToPath(new URL(f, import.meta.url))

function once (child, pred = () => true) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => { if (pred(m)) { child.off('message', onMsg); child.off('exit', onExit); resolve(m) } }
    const onExit = (code) => { reject(new Error(`${child.spawnargs.slice(-2, -1)} exited with ${code} before answering`)) }
    child.on('message', onMsg)
    child.once('exit', onExit)
  })
}

/** Kernel drops of the UDP socket bound to `port` (Linux), or undefined. */
export function udpDrops (port) {
  try {
    const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0')
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/)
        if (cols[1]?.endsWith(hex)) return Number(cols[cols.length - 1])
      }
    }
  } catch { /* not Linux */ }
  return undefined
}

/** Busy and total jiffies of all CPUs (Linux), to see what else ran during a measurement. */
export function cpuTimes () {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = f.reduce((a, b) => a + b, 0)
    return { busy: total - f[3] - (f[4] ?? 0), total }
  } catch { return undefined }
}

/**
 * One run. Returns sent/published totals, rates and loss.
 * @param {{lines: number, rate: number, durationMs: number, threads?: number, recvBufferBytes?: number, receiveThread?: boolean, blockMs?: number}} o
 */
export async function runIngest (o) {
  const flags = { 'statsd-port': '0', 'statsd-units': kStatsdUnits, 'ingest-threads': String(o.threads ?? 0) }
  if (o.recvBufferBytes) flags['udp-recv-buffer-bytes'] = String(o.recvBufferBytes)
  if (o.receiveThread === false) flags['receive-thread'] = 'off'
  if (o.blockMs) flags['block-ms'] = String(o.blockMs)
  const env = { ...process.env }
  const receiver = fork(here('./sidecar-receiver.mjs'), [JSON.stringify(flags)], { execArgv: [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : []), ...(process.env.BENCH_TRACE_GC ? ['--trace-gc'] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
  try {
    const ready = await once(receiver, m => m.ready === true)
    const sender = fork(here('./statsd-sender.mjs'), [JSON.stringify({ host: '127.0.0.1', port: ready.port, lines: o.lines, rate: o.rate, durationMs: o.durationMs })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const dropsAt = []
    const t0 = Date.now()
    const sampler = setInterval(() => { dropsAt.push([Date.now() - t0, udpDrops(ready.port)]) }, 250)
    let sys0 = cpuTimes()
    sender.on('message', (m) => { if (m.phase === 'full') { receiver.send('mark'); sys0 = cpuTimes() } })
    const sent = await once(sender, m => m.done === true)
    clearInterval(sampler)
    const sys1 = cpuTimes()
    if (process.env.BENCH_DROPS) console.log(JSON.stringify(dropsAt))
    await new Promise(resolve => sender.once('exit', resolve))
    const kernelDrops = udpDrops(ready.port)
    receiver.send('stop')
    const got = await once(receiver, m => m.published !== undefined)
    await Promise.race([new Promise(resolve => receiver.once('exit', resolve)), new Promise(resolve => setTimeout(resolve, 3000))])
    const lost = sent.sentSamples - got.published
    const warmupSamples = sent.sentSamples - sent.fullRateSamples
    // Whole-machine CPU over the run (in % of one core), and what of it was neither process.
    const machinePct = sys0 && sys1 ? Math.round(100 * cpus * (sys1.busy - sys0.busy) / (sys1.total - sys0.total)) : undefined
    return {
      lines: o.lines,
      targetRate: o.rate,
      receiveThread: o.receiveThread !== false,
      blockMs: o.blockMs ?? 0,
      durationMs: Math.round(sent.wallMs),
      threads: ready.threads,
      recvBufferBytes: ready.recvBufferBytes,
      sentDatagrams: sent.sentDatagrams,
      sentSamples: sent.sentSamples,
      published: got.published,
      lost,
      lossRatio: sent.sentSamples > 0 ? lost / sent.sentSamples : 0,
      // Split datums carry fractional share Sums: adding them up rounds in the last bits.
      sumMatches: Math.abs(got.publishedSum - sent.sentSum) <= 1e-9 * Math.abs(sent.sentSum),
      sentSum: sent.sentSum,
      publishedSum: got.publishedSum,
      samplesPerSec: Math.round((got.published - warmupSamples) / (sent.wallMs / 1000)),
      sentPerSec: Math.round(sent.fullRateSamples / (sent.wallMs / 1000)),
      kernelDrops,
      overloadedDatagrams: got.pool?.datagramsDropped ?? 0,
      rejectedByReason: got.rejectedByReason,
      senderCpuPct: Math.round(100 * sent.cpuMs / sent.wallMs),
      receiverCpuPct: Math.round(100 * got.cpuMs / sent.wallMs),
      receiverEventLoopUtilization: Number(got.eventLoopUtilization.toFixed(2)),
      // Event-loop delay while receiving (the longest stretch the socket was not read).
      receiverLoopDelayMs: got.loopDelayMs,
      machineCpuPct: machinePct,
      // CPU used by other processes during the run: above ~15% the numbers are disturbed.
      otherCpuPct: machinePct !== undefined ? Math.max(0, machinePct - Math.round(100 * sent.cpuMs / sent.wallMs) - Math.round(100 * got.cpuMs / sent.wallMs)) : undefined,
      batches: got.pool?.batchesSubmitted,
    }
  } finally {
    if (receiver.exitCode === null) receiver.kill()
  }
}

export function formatIngest (r) {
  return `${String(r.lines).padStart(2)} lines/datagram  target ${r.targetRate > 0 ? (r.targetRate / 1e6).toFixed(2) + 'M/s' : 'max   '}  ` +
    `sent ${(r.sentPerSec / 1e6).toFixed(3)}M/s  published ${(r.samplesPerSec / 1e6).toFixed(3)}M/s  ` +
    `lost ${r.lost} (${(100 * r.lossRatio).toFixed(2)}%; kernel drops ${r.kernelDrops ?? '?'} dgrams, overloaded ${r.overloadedDatagrams})  ` +
    `sum ${r.sumMatches ? 'exact' : 'DIFFERS'}  ${r.receiveThread ? 'receiving thread' : 'read on the event loop'}${r.blockMs ? `, loop blocked ${r.blockMs} ms/s` : ''}  cpu: sender ${r.senderCpuPct}% sidecar ${r.receiverCpuPct}% (loop ${Math.round(100 * r.receiverEventLoopUtilization)}%, delay p99 ${r.receiverLoopDelayMs?.p99} max ${r.receiverLoopDelayMs?.max} ms) others ${r.otherCpuPct ?? '?'}%${r.otherCpuPct > 15 ? ' (DISTURBED)' : ''}  threads ${r.threads}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { lines: { type: 'string', default: '20' }, rate: { type: 'string', default: '0' }, duration: { type: 'string', default: '5' }, threads: { type: 'string', default: '0' }, 'recv-buffer': { type: 'string' }, 'receive-thread': { type: 'string', default: 'on' }, 'block-ms': { type: 'string', default: '0' } } })
  const r = await runIngest({ lines: Number(values.lines), rate: Number(values.rate), durationMs: Number(values.duration) * 1000, threads: Number(values.threads), recvBufferBytes: values['recv-buffer'] ? Number(values['recv-buffer']) : undefined, receiveThread: values['receive-thread'] !== 'off', blockMs: Number(values['block-ms']) })
  console.log(formatIngest(r))
  console.log(JSON.stringify(r))
}
