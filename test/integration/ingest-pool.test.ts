/**
 * Real piscina workers parse StatsD datagrams and EMF lines into packed partial aggregates,
 * which the engine merges: what is published equals what one thread would publish.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock } from '../../src/index.js'
import { IngestPool } from '../../src/ingest/pool.js'
import type { IngestTarget } from '../../src/ingest/target.js'
import type { PackedPartial } from '../../src/store/partial.js'

const pools: IngestPool[] = []
afterEach(async () => { await Promise.all(pools.splice(0).map(p => p.close())) })

function setup (threads = 2) {
  const sink = inMemorySink()
  const agg = createAggregator({ namespace: 'Pool', sink, onWarning: () => {} })
  const pool = new IngestPool({ aggregator: agg, threads, statsd: { units: { ModelLatency: 'Microseconds' } } })
  pools.push(pool)
  return { sink, agg, pool }
}

describe('IngestPool', () => {
  it('needs only the narrow IngestTarget: what the workers parse arrives packed, with the batch minute', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 30))
    const merged: Array<{ p: PackedPartial, at: number }> = []
    const rejected: string[] = []
    const target: IngestTarget = {
      options: { precisionBits: 6, clock },
      countRejected: reason => { rejected.push(reason) },
      mergePartial: (p, at) => { merged.push({ p, at }) },
    }
    const pool = new IngestPool({ aggregator: target, threads: 1 })
    pools.push(pool)
    pool.push('statsd', Buffer.from('Lat:5|ms|#Host:a\nLat:7|ms|#Host:a\nBad:x|ms'))
    await pool.drain()
    expect(merged).toHaveLength(1)
    expect(merged[0].at).toBe(clock.now())
    expect(merged[0].p.entries.map(e => [e.metric, e.unit, e.dimensions, e.samples])).toEqual([['Lat', 'Milliseconds', { Host: 'a' }, 2]])
    expect(merged[0].p.rejected).toEqual({ not_a_number: 1 })
    expect(rejected).toEqual([])
  })

  it('parses StatsD on worker threads and publishes every sample exactly once', async () => {
    const { sink, agg, pool } = setup()
    let sent = 0; let sum = 0
    for (let d = 0; d < 2000; d++) {
      const lines: string[] = []
      for (let i = 0; i < 20; i++) {
        const v = 100 + ((d * 20 + i) % 997)
        lines.push(`ModelLatency:${v}|ms|#EndpointName:ep,VariantName:v${i % 3}`)
        sent++; sum += v
      }
      pool.push('statsd', Buffer.from(lines.join('\n')))
      if (d % 100 === 99) await new Promise(resolve => setImmediate(resolve))   // let workers keep up, as a socket would
    }
    await pool.drain()
    expect(pool.stats.datagramsReceived).toBe(2000)
    expect(pool.stats.batchesSubmitted).toBeGreaterThan(2)
    expect(pool.stats.datagramsDropped).toBe(0)
    await agg.close()
    const ds = sink.datums()
    expect(ds.every(d => d.Unit === 'Microseconds')).toBe(true)
    expect(ds.reduce((a, d) => a + d.StatisticValues.SampleCount, 0)).toBe(sent)
    expect(ds.reduce((a, d) => a + d.StatisticValues.Sum, 0)).toBe(sum)
    expect(new Set(ds.map(d => d.Dimensions.map(x => x.Value).join('/')))).toEqual(new Set(['ep/v0', 'ep/v1', 'ep/v2']))
    expect(agg.stats().samplesAccepted).toBe(sent)
  })

  it('counts bad lines by reason and keeps the good lines of the same datagram', async () => {
    const { sink, agg, pool } = setup(1)
    pool.push('statsd', Buffer.from('Good:1|c\nBad:abc|ms\nGood:2|c\nUgly|ms\nSet:1|s\nGood:3|c'))
    await pool.drain()
    await agg.close()
    expect(sink.datums().find(d => d.MetricName === 'Good')?.StatisticValues).toMatchObject({ SampleCount: 3, Sum: 6 })
    const st = agg.stats()
    expect(st.samplesRejected).toBe(3)
    expect(st.rejectedByReason.unsupported_type).toBe(1)
  })

  it('drops and counts datagrams when the queue to the workers is full', async () => {
    const sink = inMemorySink()
    const agg = createAggregator({ namespace: 'Pool', sink, onWarning: () => {} })
    const pool = new IngestPool({ aggregator: agg, threads: 1, batchBytes: 1024, maxQueuedBytes: 2048 })
    pools.push(pool)
    for (let d = 0; d < 200; d++) pool.push('statsd', Buffer.from('M:1|c\n'.repeat(40)))
    await pool.drain()
    await agg.close()
    const published = sink.datums().reduce((a, d) => a + d.StatisticValues.SampleCount, 0)
    expect(pool.stats.datagramsDropped).toBeGreaterThan(0)
    expect(published).toBe((200 - pool.stats.datagramsDropped) * 40)
    expect(agg.stats().rejectedByReason.overloaded).toBe(pool.stats.datagramsDropped)
  })

  it('takes EMF documents', async () => {
    const { sink, agg, pool } = setup(1)
    const doc = { _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'EmfNs', Dimensions: [['Service']], Metrics: [{ Name: 'Latency', Unit: 'Milliseconds' }] }] }, Service: 'api', Latency: [10, 20, 30] }
    pool.push('emf', Buffer.from(JSON.stringify(doc) + '\n' + JSON.stringify(doc) + '\n'))
    await pool.drain()
    await agg.close()
    const d = sink.datums().find(x => x.MetricName === 'Latency')
    expect(d).toMatchObject({ Namespace: 'EmfNs', Unit: 'Milliseconds', Dimensions: [{ Name: 'Service', Value: 'api' }] })
    expect(d?.StatisticValues).toMatchObject({ SampleCount: 6, Sum: 120, Minimum: 10, Maximum: 30 })
  })
})
