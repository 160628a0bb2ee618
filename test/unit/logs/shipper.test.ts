/**
 * The shipper's ordering, batching, retry and drop rules, against in-process sinks (the
 * product's memory sink, and a scripted sink that fails on command). The same rules against
 * the real SDK and a strict endpoint are in test/integration/logs-strict-endpoint.test.ts.
 */
import { setImmediate as tick } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../src/core/clock.js'
import { kEventOverheadBytes, kMaxBatchBytes, kMaxEventsPerBatch } from '../../../src/logs/limits.js'
import { createLogShipper } from '../../../src/logs/shipper.js'
import { LogSinkError, type LogEvent, type LogSink, type LogSinkErrorKind, type LogStreamRef, type PutResult } from '../../../src/logs/sink.js'
import { memoryLogSink } from '../../../src/logs/sinks/memory.js'
import { stdoutLogSink } from '../../../src/logs/sinks/stdout.js'
import { PassThrough } from 'node:stream'

type Outcome = 'ok' | LogSinkErrorKind | 'hang' | ((events: readonly LogEvent[]) => 'ok' | LogSinkErrorKind | PutResult)

/** A sink that answers from a script (then 'ok'), and keeps what it stored. */
function scriptedSink (script: Outcome[] = []): LogSink & { stored: Map<string, LogEvent[]>, calls: Array<{ stream: string, n: number }>, ensures: number } {
  const stored = new Map<string, LogEvent[]>()
  const calls: Array<{ stream: string, n: number }> = []
  const sink = {
    name: 'scripted',
    maxEventsPerBatch: kMaxEventsPerBatch,
    maxBatchBytes: kMaxBatchBytes,
    eventOverheadBytes: kEventOverheadBytes,
    stored,
    calls,
    ensures: 0,
    async ensureStream () { sink.ensures++ },
    async put (ref: LogStreamRef, events: readonly LogEvent[], signal?: AbortSignal): Promise<PutResult | undefined> {
      calls.push({ stream: ref.stream, n: events.length })
      let o = script.shift() ?? 'ok'
      if (o === 'hang') {
        await new Promise((_resolve, reject) => { signal?.addEventListener('abort', () => { reject(new LogSinkError('aborted', 'retryable')) }) })
      }
      let result: PutResult | undefined
      if (typeof o === 'function') {
        const r = o(events)
        if (typeof r === 'object') { result = r; o = 'ok' } else o = r
      }
      if (o !== 'ok') throw new LogSinkError(`scripted ${String(o)}`, o as LogSinkErrorKind)
      const key = ref.stream
      stored.set(key, [...(stored.get(key) ?? []), ...events])
      return result
    },
  }
  return sink
}

const lines = (n: number, prefix = 'line'): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`)

describe('log shipper', () => {
  it('delivers every line once, in order, in batches of at most 10,000 events', async () => {
    const sink = memoryLogSink()
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000 })
    const w = sh.stream('/g', 'v/i/c1')
    const want = lines(25_000)
    const t = Date.now()
    for (const l of want) w.write(l, t)
    await sh.flush()
    expect(sink.batches.map(b => b.events.length)).toEqual([10_000, 10_000, 5_000])
    expect(sink.events('/g', 'v/i/c1').map(e => e.message)).toEqual(want)
    const r = await sh.close()
    expect(r.eventsUnsent).toBe(0)
    expect(r.stats.eventsSent).toBe(25_000)
  })

  it('sends a partial batch only when the flush timer fires', async () => {
    const clock = new ManualClock(Date.now())
    const sink = memoryLogSink()
    const sh = createLogShipper({ sink, flushIntervalMs: 1000, clock })
    const w = sh.stream('/g', 's')
    w.write('a'); w.write('b')
    await tick()
    expect(sink.batches).toHaveLength(0)
    clock.advance(999)
    await tick()
    expect(sink.batches).toHaveLength(0)
    clock.advance(1)
    await tick(); await tick()
    expect(sink.events('/g', 's').map(e => e.message)).toEqual(['a', 'b'])
  })

  it('keeps timestamps non-decreasing per stream, and never sends a batch out of order', async () => {
    const sink = memoryLogSink()
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000 })
    const w = sh.stream('/g', 's')
    const t = Date.now()
    w.write('1', t)
    w.write('2', t - 500) // a small step back: clamped to t
    w.write('3', t + 10)
    w.write('4', t - 2 * 3600_000) // a big step back (clock reset): kept, but in a new batch
    await sh.flush()
    const ev = sink.events('/g', 's')
    expect(ev.map(e => e.message)).toEqual(['1', '2', '3', '4'])
    expect(ev[1].timestamp).toBe(t)
    for (const b of sink.batches) for (let i = 1; i < b.events.length; i++) expect(b.events[i].timestamp).toBeGreaterThanOrEqual(b.events[i - 1].timestamp)
    expect(sink.batches).toHaveLength(2)
  })

  it('retries a failed batch with the same events first, so nothing is lost or reordered', async () => {
    const sink = scriptedSink(['retryable', 'throttled', 'ok'])
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, retryBaseMs: 1, retryMaxMs: 2 })
    const w = sh.stream('/g', 's')
    for (const l of lines(50)) w.write(l)
    const r = await sh.close(5000)
    expect(sink.stored.get('s')!.map(e => e.message)).toEqual(lines(50))
    expect(r.eventsUnsent).toBe(0)
    expect(r.stats.requestsFailed).toBe(2)
    expect(r.stats.requestsRetried).toBe(2)
    expect(sink.ensures).toBe(1)
  })

  it('creates the stream again after not_found, then sends', async () => {
    const sink = scriptedSink(['not_found'])
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000 })
    sh.stream('/g', 's').write('x')
    await sh.flush()
    expect(sink.ensures).toBe(2)
    expect(sink.stored.get('s')!.map(e => e.message)).toEqual(['x'])
  })

  it('isolates an event the service calls invalid by halving, drops only that one', async () => {
    const sink = scriptedSink(Array.from({ length: 40 }, () => (events: readonly LogEvent[]) => events.some(e => e.message === 'BAD') ? 'invalid' as const : 'ok' as const))
    const warnings: string[] = []
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, onWarning: m => warnings.push(m) })
    const w = sh.stream('/g', 's')
    const want = lines(1000)
    want.forEach((l, i) => { w.write(l); if (i === 700) w.write('BAD') })
    const r = await sh.close(5000)
    expect(sink.stored.get('s')!.map(e => e.message)).toEqual(want)
    expect(r.stats.eventsFailed).toBe(1)
    expect(sink.calls.length).toBeLessThan(30) // log2(1001) halvings, not one call an event
    expect(warnings.some(m => m.includes('invalid'))).toBe(true)
  })

  it('drops a batch on a fatal error and goes on with the next', async () => {
    const sink = scriptedSink(['fatal'])
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, onWarning: () => {} })
    const w = sh.stream('/g', 's')
    w.write('lost')
    await sh.flush()
    w.write('kept')
    const r = await sh.close()
    expect(sink.stored.get('s')!.map(e => e.message)).toEqual(['kept'])
    expect(r.stats.eventsFailed).toBe(1)
  })

  it('a blocked sink (access denied, no credentials) is said at once, kept, retried at the ceiling, and cleared by a success', async () => {
    const clock = new ManualClock(Date.now())
    const sink = scriptedSink(['blocked', 'blocked', 'ok'])
    const errors: string[] = []
    const warnings: string[] = []
    const sh = createLogShipper({ sink, clock, flushIntervalMs: 0, retryBaseMs: 10, retryMaxMs: 5_000, onError: m => errors.push(m), onWarning: m => warnings.push(m) })
    sh.stream('/g', 's').write('kept')
    await tick(); await tick()
    expect(sink.calls).toHaveLength(1)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/refuses the log events of \/g s until the configuration is fixed .*scripted blocked/)
    expect(sh.stats().blockedBy).toBe('scripted blocked')
    expect(sh.stats().blockedSince).toBe(clock.now())
    clock.advance(4_999)   // the transient cadence would have retried many times by now
    await tick(); await tick()
    expect(sink.calls).toHaveLength(1)
    clock.advance(1)
    await tick(); await tick()
    expect(sink.calls).toHaveLength(2)
    expect(errors).toHaveLength(1)   // still the same blockage: said once
    clock.advance(5_000)
    await tick(); await tick()
    expect(sink.stored.get('s')!.map(e => e.message)).toEqual(['kept'])
    expect(sh.stats()).toMatchObject({ blockedBy: null, blockedSince: 0, eventsFailed: 0, eventsSent: 1 })
    expect(warnings).toEqual([])
    await sh.close()
  })

  it('skips empty lines and splits lines longer than one event', async () => {
    const sink = memoryLogSink()
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, maxEventMessageBytes: 10 })
    const w = sh.stream('/g', 's')
    w.write('')
    w.write('0123456789abcdefghij!')
    const r = await sh.close()
    expect(sink.events('/g', 's').map(e => e.message)).toEqual(['0123456789', 'abcdefghij', '!'])
    expect(r.stats.linesEmpty).toBe(1)
    expect(r.stats.linesSplit).toBe(2)
  })

  it('drops new lines when the queue is full and marks the gap once room returns', async () => {
    const sink = scriptedSink(['retryable'])
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, maxQueuedBytes: 10 * (6 + kEventOverheadBytes), retryBaseMs: 1, retryMaxMs: 1, onWarning: () => {} })
    const w = sh.stream('/g', 's')
    for (const l of lines(15, 'l')) w.write(l.padStart(6, '0'))
    expect(sh.stats().eventsDropped).toBe(5)
    await sh.flush()
    await new Promise(resolve => setTimeout(resolve, 20))
    await sh.flush()
    w.write('after')
    const r = await sh.close()
    const got = sink.stored.get('s')!.map(e => e.message)
    expect(got.slice(0, 10)).toEqual(lines(10, 'l').map(l => l.padStart(6, '0')))
    expect(got[10]).toMatch(/^\[minutely\] 5 log lines dropped here/)
    expect(got[11]).toBe('after')
    expect(r.stats.eventsDropped).toBe(5)
  })

  it('counts events the service refused in an accepted batch', async () => {
    const sink = scriptedSink([() => ({ rejected: { tooOldEndIndex: 1, tooNewStartIndex: 4 } })])
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, onWarning: () => {} })
    const w = sh.stream('/g', 's')
    for (const l of lines(6)) w.write(l)
    const r = await sh.close()
    expect(r.stats.eventsRejected).toBe(4) // 0,1 too old; 4,5 too new
  })

  it('drops events that waited close to 14 days instead of sending them', async () => {
    const sink = memoryLogSink()
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, onWarning: () => {} })
    const w = sh.stream('/g', 's')
    w.write('ancient', Date.now() - 15 * 24 * 3600_000)
    w.write('fresh')
    const r = await sh.close()
    expect(sink.events('/g', 's').map(e => e.message)).toEqual(['fresh'])
    expect(r.stats.eventsExpired).toBe(1)
  })

  it('a failing stream does not hold up another', async () => {
    const sink = scriptedSink()
    const put = sink.put.bind(sink)
    sink.put = async (ref, events, signal) => {
      if (ref.stream === 'bad') throw new LogSinkError('down', 'retryable')
      return await put(ref, events, signal)
    }
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, retryBaseMs: 1000, onWarning: () => {} })
    sh.stream('/g', 'bad').write('x')
    sh.stream('/g', 'good').write('y')
    await sh.flush()
    expect(sink.stored.get('good')!.map(e => e.message)).toEqual(['y'])
    const r = await sh.close(50)
    expect(r.eventsUnsent).toBe(1)
  })

  it('close() gives up at its deadline, aborting a call in flight, and reports what is unsent', async () => {
    const sink = scriptedSink(['hang'])
    const sh = createLogShipper({ sink, flushIntervalMs: 60_000, onWarning: () => {} })
    const w = sh.stream('/g', 's')
    for (const l of lines(3)) w.write(l)
    const r = await sh.close(100)
    expect(r.eventsUnsent).toBe(3)
    w.write('after close')
    expect(sh.stats().eventsDropped).toBe(1)
  })

  it('the stdout sink writes each line prefixed with its container, in order', async () => {
    const out = new PassThrough()
    let text = ''
    out.on('data', (b: Buffer) => { text += b.toString('utf8') })
    const sh = createLogShipper({ sink: stdoutLogSink({ stream: out }), flushIntervalMs: 60_000 })
    sh.stream('/aws/sagemaker/Endpoints/e', 'AllTraffic/i-1/container-1').write('one')
    sh.stream('/aws/sagemaker/Endpoints/e', 'AllTraffic/i-1/container-1').write('two')
    await sh.close()
    expect(text).toBe('[container-1] one\n[container-1] two\n')
  })
})
