/**
 * The UDP receiving thread (src/ingest/udp-receiver.ts): it keeps reading the socket while
 * the event loop is blocked, cuts its batches at the engine's minute boundaries, bounds its
 * memory and counts what it drops, and comes back on the same port if it dies.
 *
 * The blocked event loop is real (Atomics.wait on the main thread) and the sender runs on a
 * thread of its own, so it keeps sending meanwhile. The same run on the event loop loses
 * datagrams in the kernel, which shows that the test can fail.
 */
import { createSocket } from 'node:dgram'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, type InMemorySink } from '../../src/index.js'
import { resolveSettings } from '../../src/cli/config.js'
import { kSidecarSettings, startSidecar, type Sidecar } from '../../src/cli/sidecar.js'
import { IngestPool } from '../../src/ingest/pool.js'
import { startUdpReceiver } from '../../src/ingest/udp-receiver.js'
import { startStatsdListener } from '../../src/listeners/statsd.js'
import { kPeriodMs } from '../../src/limits.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

/** Blocks the main thread (the event loop) for `ms`. */
function blockEventLoop (ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Sends `count` copies of `text` to `port` from a thread of its own, spread over `overMs`;
 * resolves with the number the kernel took. `started` resolves when it begins.
 */
function sendFromThread (port: number, text: string, count: number, overMs: number): { started: Promise<void>, done: Promise<number> } {
  const w = new Worker(`
    const { parentPort, workerData: o } = require('node:worker_threads')
    const sock = require('node:dgram').createSocket('udp4')
    const msg = Buffer.from(o.text)
    let sent = 0, acked = 0
    parentPort.postMessage('started')
    const t0 = Date.now()
    const tick = () => {
      const due = Math.min(o.count, Math.ceil(o.count * (Date.now() - t0 + 1) / o.overMs))
      while (sent < due) { sent++; sock.send(msg, o.port, '127.0.0.1', (err) => { if (!err) acked++; if (--pending === 0 && sent === o.count) finish() }); pending++ }
      if (sent < o.count) setTimeout(tick, 2)
    }
    let pending = 0
    const finish = () => { sock.close(); parentPort.postMessage({ acked }) }
    tick()
  `, { eval: true, workerData: { port, text, count, overMs } })
  const started = new Promise<void>(resolve => { w.once('message', () => { resolve() }) })
  const done = new Promise<number>((resolve, reject) => {
    w.on('message', (m: unknown) => { if (typeof m === 'object' && m !== null) resolve((m as { acked: number }).acked) })
    w.once('error', reject)
  })
  return { started, done }
}

const samplesOf = (sink: InMemorySink, metric: string): number =>
  sink.datums().filter(d => d.MetricName === metric).reduce((a, d) => a + d.StatisticValues.SampleCount, 0)

async function sidecarWith (receiveThreads: boolean): Promise<{ sidecar: Sidecar, sink: InMemorySink }> {
  const sink = inMemorySink()
  // A small kernel buffer (256 KiB asked): several hundred small datagrams fill it.
  const settings = resolveSettings(kSidecarSettings, { 'http-port': '0', 'statsd-port': '0', 'emf-port': 'off', 'ingest-threads': '1', 'udp-recv-buffer-bytes': '262144' }, {})
  const sidecar = await startSidecar(settings, { sink, log: () => {}, receiveThreads })
  cleanups.push(() => sidecar.close())
  return { sidecar, sink }
}

describe('UDP receiving thread', () => {
  it('keeps reading while the event loop is blocked for 1.5 s: nothing lost (on the event loop, the kernel drops)', async () => {
    const results: Record<string, { sent: number, published: number }> = {}
    for (const threaded of [true, false]) {
      const { sidecar, sink } = await sidecarWith(threaded)
      // 3000 datagrams over 1.2 s: ~60 batches cut by the 20 ms timer pile up meanwhile,
      // and 3000 datagrams are far more than a 64 KiB kernel buffer holds.
      const s = sendFromThread(sidecar.statsd!.port!, 'Blocked:1|c', 3000, 1200)
      await s.started
      blockEventLoop(1500)
      const sent = await s.done
      await sidecar.close()
      results[threaded ? 'thread' : 'event loop'] = { sent, published: samplesOf(sink, 'Blocked') }
    }
    console.log(`event loop blocked 1.5 s, 3000 datagrams: ${JSON.stringify(results)}`)
    expect(results.thread.sent).toBe(3000)
    expect(results.thread.published).toBe(3000)
    expect(results['event loop'].published).toBeLessThan(results['event loop'].sent)
  })

  it('cuts the open batch at each minute boundary of the engine\'s clock', async () => {
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 59, 900)
    const clock = new ManualClock(t0)
    const sink = inMemorySink()
    const agg = createAggregator({ namespace: 'T', sink, clock, onWarning: () => {} })
    // Batches are cut only by size or by the minute: never by time within this test.
    const pool = new IngestPool({ aggregator: agg, threads: 1, batchDelayMs: 600_000 })
    const l = await startStatsdListener({ aggregator: agg, pool, port: 0 })
    const sock = createSocket('udp4')
    const send = (s: string): Promise<void> => new Promise((resolve, reject) => { sock.send(Buffer.from(s), l.port!, '127.0.0.1', (e) => { if (e) reject(e); else resolve() }) })
    const readAtLeast = async (n: number): Promise<void> => { while (await l.sync() < n) await new Promise(resolve => setTimeout(resolve, 5)) }
    await send('Lat:1|ms\nLat:2|ms')
    await readAtLeast(1)
    expect(pool.stats.batchesSubmitted).toBe(0)   // still in the open batch
    clock.set(t0 + 200)   // 12:01:00.100
    await send('Lat:10|ms')
    await readAtLeast(2)
    sock.close()
    await l.close(50)
    await pool.close()
    await agg.close()
    expect(pool.stats.batchesSubmitted).toBe(2)
    const byMinute: Record<number, number> = {}
    for (const d of sink.datums()) byMinute[d.Timestamp.getTime()] = (byMinute[d.Timestamp.getTime()] ?? 0) + d.StatisticValues.Sum
    expect(byMinute).toEqual({ [t0 - 59_900]: 3, [t0 - 59_900 + kPeriodMs]: 10 })
  })

  it('bounds its buffers while the event loop is blocked: the excess is counted as overloaded, nothing vanishes', async () => {
    const sink = inMemorySink()
    const agg = createAggregator({ namespace: 'T', sink, onWarning: () => {} })
    // 1 KiB batches, 1 KiB of queue: the thread may hold 1 + (1·4 + 4) = 9 KiB of buffers.
    const pool = new IngestPool({ aggregator: agg, threads: 1, batchBytes: 1024, maxQueuedBytes: 1024 })
    const l = await startStatsdListener({ aggregator: agg, pool, port: 0 })
    cleanups.push(async () => { await l.close(0); await pool.close(); await agg.close() })
    const line = 'Bounded:1|c\n'.repeat(20)   // 240 bytes
    const s = sendFromThread(l.port!, line, 400, 300)
    await s.started
    blockEventLoop(600)
    const sent = await s.done
    await l.close(100)
    await pool.close()
    await agg.close()
    const overloaded = agg.stats().rejectedByReason.overloaded
    console.log(`bounded receiving thread: sent ${sent} datagrams, published ${samplesOf(sink, 'Bounded') / 20}, overloaded ${overloaded}`)
    expect(sent).toBe(400)
    expect(overloaded).toBeGreaterThan(0)
    expect(samplesOf(sink, 'Bounded') / 20 + overloaded).toBe(400)
    expect(l.stats.datagrams).toBe(400)
  })

  it('a receiving thread that dies is restarted on the same port; datagrams after it are received', async () => {
    const sink = inMemorySink()
    const agg = createAggregator({ namespace: 'T', sink, onWarning: () => {} })
    const pool = new IngestPool({ aggregator: agg, threads: 1, batchBytes: 1024 })
    const logs: string[] = []
    const r = await startUdpReceiver({
      aggregator: agg, pool, kind: 'statsd', host: '127.0.0.1', port: 0, recvBufferBytes: 1 << 20, maxDatagramBytes: 65535,
      tooLargeMessage: () => 'too large', onCounts: () => {}, bindError: (e) => e, log: (s) => { logs.push(s) },
      threadFilename: fileURLToPath(new URL('../fixtures/workers/crashing-udp-thread.mjs', import.meta.url)),
    })
    cleanups.push(async () => { await r.close(0); await pool.close(); await agg.close() })
    const sock = createSocket('udp4')
    const send = (s: string): Promise<void> => new Promise((resolve, reject) => { sock.send(Buffer.from(s), r.port, '127.0.0.1', (e) => { if (e) reject(e); else resolve() }) })
    const until = async (f: () => boolean): Promise<void> => { const end = Date.now() + 10_000; while (!f() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 10)) }
    for (let i = 0; i < 5; i++) await send('Before:1|c')
    await until(() => pool.stats.datagramsReceived >= 5)
    await r.sync()   // the first sync kills this thread
    await until(() => r.restarts === 1)
    expect(await r.sync()).toBe(0)   // a new thread answers, on the same port
    for (let i = 0; i < 5; i++) await send('After:1|c')
    await until(() => pool.stats.datagramsReceived >= 10)
    sock.close()
    await r.close(50)
    await pool.close()
    await agg.close()
    expect(samplesOf(sink, 'Before')).toBe(5)
    expect(samplesOf(sink, 'After')).toBe(5)
    expect(logs.join('\n')).toMatch(/UDP receiving thread .*restart/)
  })
})
